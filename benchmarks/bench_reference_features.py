"""Seconds per minute of audio of the indices and MFCC stages against the naive recipes.

ecoae's workers run BLAS single-threaded (see ecoae.features.segment_workers); the table
also times the naive recipes that way (naive*) so the gain from that alone shows.

Naive baselines, per file, as the libraries' documentation shows them:

* indices: load -> ``maad.features.all_temporal_alpha_indices`` on the waveform ->
  ``maad.sound.spectrogram`` -> ``maad.features.all_spectral_alpha_indices``;
* MFCC: ``librosa.load(path, sr=22050)`` -> ``librosa.feature.mfcc`` -> mean/std.

The indices baseline loads with ``ecoae.archive.audio.load_audio`` (libsoxr HQ to 22 050 Hz,
the rate the workflow uses; scikit-maad's own loader cannot resample), so both
sides see identical samples and their values are compared row by row.

Workloads: the real archive (../shared/data/archive: 10 s and 5 s recordings, one
segment each) and 60 s segments (the default segment length) made by joining
six consecutive Jura recordings. Each timing is the median of ``--repeats`` runs.

    python benchmarks/bench_reference_features.py [--repeats 3] [--threads 2] [--stages mfcc]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
from threadpoolctl import threadpool_limits

from ecoae.archive.audio import load_audio
from ecoae.features.indices import ALL_INDICES, maad_recipe_indices, partition_indices
from ecoae.features.mfcc import feature_columns, partition_mfcc, resolve_settings
from ecoae.settings import AudioSettings
from ecoae.store import SEGMENT_KEY

RATE = 22050
AUDIO = AudioSettings(sample_rate=RATE)
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def segments_for(files: list[Path], root: Path) -> pd.DataFrame:
    """One whole-file segment per file (as the segmenter makes for files under 60 s)."""
    rows = []
    start = pd.Timestamp("2020-01-01T00:00:00Z")
    for i, path in enumerate(files):
        info = sf.info(path)
        rows.append((path.stem, 0, start + pd.Timedelta(minutes=i), info.frames / info.samplerate,
                     str(path.relative_to(root)), 0.0))
    frame = pd.DataFrame(rows, columns=SEGMENT_KEY + ["start_time", "duration", "path", "offset"])
    frame["segment_index"] = frame["segment_index"].astype("int32")
    return frame


def naive_indices(files: list[Path]) -> pd.DataFrame:
    rows = []
    for path in files:
        s = load_audio(path, RATE).astype(np.float64)
        rows.append(maad_recipe_indices(s, RATE))
    return pd.DataFrame(rows)[ALL_INDICES]


def naive_mfcc(files: list[Path]) -> pd.DataFrame:
    import librosa

    rows = []
    for path in files:
        y, sr = librosa.load(path, sr=RATE)
        m = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=20)
        rows.append(np.concatenate([m.mean(axis=1), m.std(axis=1)]))
    return pd.DataFrame(rows, columns=feature_columns(resolve_settings()))


def timed(function, repeats: int):
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def max_relative_difference(expected: pd.DataFrame, actual: pd.DataFrame) -> float:
    a = expected.to_numpy(dtype=np.float64)
    b = actual[expected.columns].to_numpy(dtype=np.float64)
    both_nan = np.isnan(a) & np.isnan(b)
    if (np.isnan(a) != np.isnan(b)).any():
        return float("inf")
    scale = np.maximum(np.abs(a), 1e-12)
    return float(np.max(np.where(both_nan, 0.0, np.abs(a - b) / scale)))


def joined_minutes(jura: list[Path], folder: Path) -> list[Path]:
    """60 s files made of six consecutive 10 s Jura recordings, resampled to 22 050 Hz."""
    out = []
    for k in range(len(jura) // 6):
        samples = np.concatenate([load_audio(p, RATE) for p in jura[6 * k: 6 * k + 6]])
        path = folder / "jura60" / f"joined_{k:02d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, samples, RATE, subtype="FLOAT")
        out.append(path)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--minutes-of-60s", type=int, default=4, help="60 s segments in the second workload")
    parser.add_argument("--stages", nargs="+", choices=["indices", "mfcc"], default=["indices", "mfcc"],
                        help="stages to time (default both)")
    args = parser.parse_args()
    archive = DATA / "archive"
    if not archive.is_dir():
        print(f"real recordings not found at {archive}", file=sys.stderr)
        return 1
    warnings.filterwarnings("ignore")
    files = sorted(archive.glob("*/*.wav"))
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        long_files = joined_minutes(sorted((archive / "jura").glob("*.wav")), scratch)[: args.minutes_of_60s]
        workloads = [
            ("archive (5 s + 10 s files)", files, archive),
            ("60 s segments (joined Jura)", long_files, scratch),
        ]
        # Warm-up: imports, numba/FFT plans, mel filter bank, worker start.
        if "indices" in args.stages:
            partition_indices(segments_for(files[:2], archive), archive, AUDIO, threads=1)
            naive_indices(files[:1])
        if "mfcc" in args.stages:
            partition_mfcc(segments_for(files[:2], archive), archive, AUDIO, threads=1)
            naive_mfcc(files[:1])

        lines = []
        for name, chosen, root in workloads:
            segments = segments_for(chosen, root)
            minutes = segments["duration"].sum() / 60
            for stage, naive, ours in (
                ("indices", naive_indices, partition_indices),
                ("mfcc", naive_mfcc, partition_mfcc),
            ):
                if stage not in args.stages:
                    continue
                t_naive, reference = timed(lambda: naive(chosen), args.repeats)
                with threadpool_limits(limits=1, user_api="blas"):
                    t_naive1, _ = timed(lambda: naive(chosen), args.repeats)
                t_one, (one, _) = timed(lambda: ours(segments, root, AUDIO, threads=1), args.repeats)
                t_many, (many, _) = timed(lambda: ours(segments, root, AUDIO, threads=args.threads), args.repeats)
                assert one.equals(many)
                difference = max_relative_difference(reference, one)
                lines.append((stage, name, minutes, t_naive / minutes, t_naive1 / minutes,
                              t_one / minutes, t_naive / t_one, t_naive1 / t_one,
                              t_many / minutes, t_naive / t_many, difference))
                print(f"  done: {stage} on {name}", file=sys.stderr)

    print(f"\nmedian of {args.repeats} runs; seconds per minute of audio; "
          f"ratio = naive / ecoae; max rel. diff = largest |ecoae - naive| / |naive| over all values\n")
    print("naive = library defaults; naive* = same with BLAS limited to 1 thread (as ecoae's workers run)\n")
    print("| stage | workload | audio min | naive s/min | naive* s/min | ecoae 1 worker s/min "
          f"| ratio | ratio vs naive* | ecoae {args.threads} workers s/min | ratio | max rel. diff |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for stage, name, minutes, naive, naive1, one, r1, r1b, many, rn, diff in lines:
        print(f"| {stage} | {name} | {minutes:.1f} | {naive:.3f} | {naive1:.3f} | {one:.3f} | {r1:.1f}x "
              f"| {r1b:.1f}x | {many:.3f} | {rn:.1f}x | {diff:.1e} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
