"""Throughput of spectrogram rendering and AE encoding, against naive baselines measured in the same run.

Data: every recording of the real archive (``../shared/data/archive``), one whole-file
segment each (the files are 5 s and 10 s long, shorter than one 60 s segment).

Rows
----
spectrograms  ecoae       :func:`ecoae.features.spectrogram.render_segments` (partial reads, libsoxr,
                          one STFT, band matrix, mean pooling), 1 and 2 threads.
spectrograms  naive       per file: ``librosa.load`` + ``librosa.stft`` + ``power_to_db`` +
                          PIL bilinear resize to 128x128 + uint8, one thread.
encode        ecoae       :func:`ecoae.features.encoding.encode_images`, batches of 16, torch threads 1 / 2.
encode        naive       the same network, one image per forward pass, torch threads 1.

"segments/s/core" divides by the threads used; "audio min/s" is minutes of audio per
wall-clock second; "x naive" is the speed-up over the naive row of the same stage.

Usage: ``python benchmarks/bench_autoencoder.py [--repeats 3] [--archive PATH]``
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ecoae.features.autoencoder import Architecture, ConvAutoEncoder, images_to_tensor
from ecoae.features.encoding import encode_images
from ecoae.features.spectrogram import IMAGE_SIZE, ImageRecipe, render_segments

from bench_training import whole_file_segments  # a sibling script in benchmarks/

DEFAULT_ARCHIVE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "archive"


def naive_spectrograms(segments: pd.DataFrame, archive: Path, settings: ImageRecipe) -> np.ndarray:
    """The obvious per-file approach: load, STFT, dB, resize the whole image."""
    import librosa
    from PIL import Image

    images = []
    for path in segments["path"]:
        samples, _ = librosa.load(archive / path, sr=settings.sample_rate, mono=True)
        power = np.abs(librosa.stft(samples, n_fft=settings.n_fft, hop_length=settings.hop_length)) ** 2
        decibels = librosa.power_to_db(power, ref=1.0, top_db=None)
        scaled = np.clip((decibels - settings.db_floor) / (settings.db_ceiling - settings.db_floor), 0, 1)
        picture = Image.fromarray((scaled[::-1] * 255).astype(np.uint8)).resize((IMAGE_SIZE, IMAGE_SIZE), Image.BILINEAR)
        images.append(np.asarray(picture))
    return np.stack(images)


def naive_encode(model: ConvAutoEncoder, images: np.ndarray) -> np.ndarray:
    """One image per forward pass."""
    with torch.no_grad():
        return np.stack([model.encode(images_to_tensor(image[None]))[0].numpy() for image in images])


def timed(function, repeats: int) -> float:
    """Median wall-clock seconds of ``repeats`` calls (after one warm-up call)."""
    function()
    durations = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        durations.append(time.perf_counter() - started)
    return statistics.median(durations)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", type=Path, default=DEFAULT_ARCHIVE)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if not args.archive.is_dir():
        raise SystemExit(f"no archive at {args.archive}; pass --archive")

    segments = whole_file_segments(args.archive)
    audio_minutes = segments["duration"].sum() / 60
    settings = ImageRecipe()
    rows = []

    def record(stage, method, threads, seconds):
        rows.append({"stage": stage, "method": method, "threads": threads, "median s": seconds,
                     "segments/s/core": len(segments) / seconds / threads, "audio min/s": audio_minutes / seconds})

    torch.set_num_threads(1)
    record("spectrograms", "naive (librosa.load+stft+resize)", 1,
           timed(lambda: naive_spectrograms(segments, args.archive, settings), args.repeats))
    for threads in (1, 2):
        record("spectrograms", "ecoae render_segments", threads,
               timed(lambda: render_segments(segments, args.archive, settings, threads=threads), args.repeats))

    images = render_segments(segments, args.archive, settings, threads=2)
    for variant in ("explicit", "implicit"):
        torch.manual_seed(0)
        model = ConvAutoEncoder(Architecture(variant, 384)).eval()
        torch.set_num_threads(1)
        record(f"encode {variant}384", "naive (batch of 1)", 1, timed(lambda: naive_encode(model, images), args.repeats))
        for threads in (1, 2):
            torch.set_num_threads(threads)
            record(f"encode {variant}384", "ecoae encode_images (batch 16)", threads,
                   timed(lambda: encode_images(model, images, batch_size=16), args.repeats))

    table = pd.DataFrame(rows)
    baseline = table[table["method"].str.startswith("naive")].set_index("stage")["median s"]
    table["x naive"] = [baseline[stage] / seconds for stage, seconds in zip(table["stage"], table["median s"])]
    print(f"{len(segments)} segments, {audio_minutes:.1f} min of audio, median of {args.repeats} repeats, "
          f"torch {torch.__version__}, {torch.get_num_interop_threads()} interop threads")
    print(table.to_string(index=False, float_format=lambda value: f"{value:.2f}"))


if __name__ == "__main__":
    main()
