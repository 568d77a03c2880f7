"""Auto-encoder training: throughput against the first release's network, and quality against PCA.

Part 1, throughput. One training step is forward + MSE backward + optimiser step on a
batch of 32 images. "first release" is the network of the first landed release, read
from this repository's git history (``git show RELEASE:ecoae/autoencoder.py``) and timed
in the same process as today's default network, in float32 and with its forward pass
under bfloat16 autocast (``training.precision: bfloat16``; fast only on CPUs with AMX or
AVX-512 BF16); images/s/core divides by the torch threads. Rows: median of ``--repeats`` timings of ``--steps`` steps after two warm-up steps.

Part 2, quality. Both default models are trained with the default training settings on
the images of a real archive (``../shared/data/archive``: one whole-file segment per
recording) and of the demo archive (generated), split by recording as the workflow
does; each is scored on the held-out images beside PCAs of the same training images
(:func:`ecoae.features.quality.model_quality`).

Usage: ``python benchmarks/bench_training.py [--threads 1 2] [--repeats 5] [--skip-quality]
[--skip-throughput] [--quality-on real demo] [--models explicit384 implicit384] [--architecture JSON] [--training JSON]``
(the quality part can be split over processes, and a candidate architecture or training
setting measured).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
import torch

from ecoae.archive.demo import generate_demo_archive
from ecoae.archive.segments import SEGMENT_COLUMNS
from ecoae.features.autoencoder import Architecture, ConvAutoEncoder
from ecoae.features.quality import model_quality
from ecoae.features.spectrogram import ImageRecipe, render_segments
from ecoae.features.training import reconstruct, train_autoencoder
from ecoae.features.training_sample import split_validation
from ecoae.settings import AutoencoderSettings

REPO = Path(__file__).resolve().parents[1]
DEFAULT_ARCHIVE = REPO.parent / "shared" / "data" / "archive"
#: The first landed release (its auto-encoder lived in ecoae/autoencoder.py).
RELEASE = "22551b8"
BATCH = 32


def first_release_network() -> types.ModuleType | None:
    """The first release's ``ecoae/autoencoder.py`` as a module, or None without git history."""
    try:
        source = subprocess.run(["git", "-C", str(REPO), "show", f"{RELEASE}:ecoae/autoencoder.py"],
                                capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    module = types.ModuleType("first_release_autoencoder")
    sys.modules[module.__name__] = module  # dataclasses look their module up there
    # Its one package import (the image side, 128) is the only line that cannot run today.
    exec(compile(source.replace("from ecoae.spectrogram import IMAGE_SIZE", "IMAGE_SIZE = 128"),
                 "first_release_autoencoder", "exec"), module.__dict__)
    return module


def step_rate(model: torch.nn.Module, channels: int, channels_last: bool, steps: int, repeats: int,
              bfloat16: bool = False) -> float:
    """Median training images per second of ``model`` on ``channels``-channel batches (forward under bf16 autocast if asked)."""
    images = torch.rand(BATCH, 1, 128, 128, generator=torch.Generator().manual_seed(0)).expand(-1, channels, -1, -1)
    if channels_last:
        model, images = model.to(memory_format=torch.channels_last), images.contiguous(memory_format=torch.channels_last)
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()

    def step() -> None:
        optimiser.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bfloat16):
            output = model(images)
        torch.nn.functional.mse_loss(output.float(), images).backward()
        optimiser.step()

    for _ in range(2):
        step()
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(steps):
            step()
        rates.append(steps * BATCH / (time.perf_counter() - started))
    return statistics.median(rates)


def throughput(threads: list[int], steps: int, repeats: int) -> pd.DataFrame:
    """Images/s/core of the first release's and today's default networks, per variant and thread count."""
    release = first_release_network()
    defaults = AutoencoderSettings().models
    rows = []
    for name, model_settings in defaults.items():
        architecture = model_settings.architecture()
        for count in threads:
            torch.set_num_threads(count)
            torch.manual_seed(0)
            if release is not None:
                old = release.ConvAutoEncoder(release.Architecture(architecture["variant"], architecture["feature_size"]))
                rate = step_rate(old, 3, False, steps, repeats)
                rows.append({"model": name, "threads": count, "network": "first release", "images/s/core": rate / count})
            for label, bfloat16 in [("today's default", False), ("today's default, bf16", True)]:
                torch.manual_seed(0)
                new = ConvAutoEncoder(Architecture.from_mapping(architecture))
                rate = step_rate(new, 1, True, steps, repeats, bfloat16)
                rows.append({"model": name, "threads": count, "network": label, "images/s/core": rate / count})
            print(f"  timed {name} on {count} thread(s)", file=sys.stderr)
    table = pd.DataFrame(rows)
    if release is None:
        print("no git history: the first release's network is not timed", file=sys.stderr)
        return table
    base = table[table["network"] == "first release"].set_index(["model", "threads"])["images/s/core"]
    table["x first release"] = [rate / base[(m, t)] for m, t, rate in
                                zip(table["model"], table["threads"], table["images/s/core"])]
    return table


def whole_file_segments(archive: Path) -> pd.DataFrame:
    """One segment per audio file (any case of .wav), as the workflow makes for files under 60 s."""
    rows = []
    for path in sorted(p for p in archive.rglob("*") if p.suffix.lower() == ".wav"):
        relative = path.relative_to(archive).as_posix()
        start = pd.Timestamp("2020-01-01", tz="UTC") + pd.Timedelta(minutes=len(rows))
        rows.append((relative, 0, start, sf.info(str(path)).duration, relative.split("/")[0], "2020-01-01",
                     start.tz_localize(None), "UTC", relative, 0.0))
    frame = pd.DataFrame(rows, columns=SEGMENT_COLUMNS)
    frame["segment_index"] = frame["segment_index"].astype("int32")
    return frame


def quality(archives: dict[str, Path], threads: int, models: list[str] | None = None,
            changes: dict | None = None, training_changes: dict | None = None) -> pd.DataFrame:
    """Train the default models (or those named) on each archive's images; their quality beside PCAs of the same images.

    ``changes`` (architecture fields, e.g. ``{"channels": [8, 16, 64, 64]}``) is merged
    over each model's default architecture, and ``training_changes`` (e.g.
    ``{"augment": "none"}``) over the default training settings, to measure a candidate default.
    """
    settings = AutoencoderSettings()
    training = settings.training.replace(**(training_changes or {}))
    torch.set_num_threads(threads)
    tables = []
    for label, archive in archives.items():
        segments = whole_file_segments(archive)
        images = render_segments(segments, archive, ImageRecipe(), threads=threads)
        validation = split_validation(segments, training.validation_fraction, training.seed)
        held, train = images[validation], images[~validation]
        for name, model_settings in settings.models.items():
            if models and name not in models:
                continue
            architecture = Architecture.from_mapping({**model_settings.architecture(), **(changes or {})})
            started = time.perf_counter()
            model, history = train_autoencoder(images, validation, architecture, training, progress=False)
            seconds = time.perf_counter() - started
            table = model_quality(reconstruct(model, held), train, held, name, architecture.feature_size,
                                  training.seed).assign(archive=label, steps=np.nan, train_s=np.nan)
            table.loc[0, ["steps", "train_s"]] = [history[-1]["step"], seconds]
            tables.append(table)
            print(f"  trained {name} on {label}: {seconds:.0f} s", file=sys.stderr)
    columns = ["archive", "method", "components", "mse", "explained_variance", "train_images",
               "validation_images", "steps", "train_s"]
    return pd.concat(tables, ignore_index=True).drop_duplicates(["archive", "method"])[columns]


def main() -> None:
    """Print the throughput table, then the quality table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--archive", type=Path, default=DEFAULT_ARCHIVE)
    parser.add_argument("--skip-quality", action="store_true", help="time the networks only")
    parser.add_argument("--skip-throughput", action="store_true", help="measure the quality only")
    parser.add_argument("--quality-on", nargs="+", choices=["real", "demo"], default=["real", "demo"],
                        help="archives of the quality part (default both)")
    parser.add_argument("--models", nargs="+", choices=list(AutoencoderSettings().models),
                        help="default models of the quality part (default all)")
    parser.add_argument("--architecture", type=json.loads, default={}, metavar="JSON",
                        help='architecture fields merged over the models\' defaults, e.g. \'{"channels": [8, 16, 64, 64]}\'')
    parser.add_argument("--training", type=json.loads, default={}, metavar="JSON",
                        help='training settings merged over the defaults, e.g. \'{"augment": "roll_inner"}\'')
    args = parser.parse_args()
    print(f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}, batch {BATCH}")
    if not args.skip_throughput:
        table = throughput(args.threads, args.steps, args.repeats)
        print(table.to_string(index=False, float_format=lambda value: f"{value:.2f}"))
    if args.skip_quality:
        return
    with tempfile.TemporaryDirectory() as scratch:
        archives = {}
        if "real" in args.quality_on and args.archive.is_dir():
            archives["real (../shared/data/archive)"] = args.archive
        if "demo" in args.quality_on:
            archives["demo"] = Path(scratch) / "demo"
            generate_demo_archive(archives["demo"])
        print(quality(archives, max(args.threads), args.models, args.architecture, args.training).to_string(index=False, float_format=lambda v: f"{v:.5g}"))


if __name__ == "__main__":
    main()
