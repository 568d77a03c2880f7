"""How long the inventory takes on large archives, first and after one new file.

Builds archives of tiny WAV files (100 frames each, AudioMoth names, one recording
every 10 minutes: 144 files per site and day, 10 sites) and runs the inventory step
as the workflow does (``python -m ecoae inventory`` with ``--out-dir`` and
``--cache-dir``; ``segments.min_segment_seconds: 0`` so that the tiny files are
recordings):

* ``first``: no cache and no outputs: every header is probed,
* ``again``: one new file, the rule's declared outputs deleted (as Snakemake does
  before the job runs), the manifests and the cache kept.

With ``--fingerprint``, each run is preceded by the archive fingerprint that Snakemake
computes while it builds the DAG, keeping its listing in the cache folder (as
``inventory_fingerprint`` in workflow/rules/common.smk does), and the inventory is
passed ``--fingerprint``: it reads that listing instead of walking the archive again.
The fingerprint's own seconds are then shown in a column of their own.

Times include the interpreter's start-up and imports (printed below the table);
the CPU column (user + system) is the steadier figure on a machine shared with others.

Usage: ``python benchmarks/bench_inventory.py [--sizes 10000 100000] [--repeats 3] [--workdir DIR]
[--fingerprint]``.
Prints a table; times are medians of ``--repeats`` runs.
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
FILES_PER_DAY = 144
SITES = 10
SEGMENTS = json.dumps({"min_segment_seconds": 0})
#: The inventory rule's declared outputs: Snakemake deletes them before the job runs
#: (the partition manifests beside them are kept, and rewritten only when they change).
OUTPUTS = ("recordings.parquet", "quarantine.parquet", "partitions.tsv")


def tiny_wav() -> bytes:
    """100 frames of quiet noise at 8 kHz, 16-bit mono."""
    buffer = io.BytesIO()
    sf.write(buffer, np.random.default_rng(0).normal(0, 0.01, 100), 8000, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def file_name(index: int) -> str:
    """Archive-relative path of the ``index``-th file: ``siteNN/YYYYMMDD_HHMMSS.WAV``."""
    site, rank = index % SITES, index // SITES
    moment = datetime(2024, 1, 1) + timedelta(days=rank // FILES_PER_DAY, minutes=10 * (rank % FILES_PER_DAY))
    return f"site{site:02d}/{moment:%Y%m%d_%H%M%S}.WAV"


def build_archive(root: Path, n_files: int) -> None:
    """Write ``n_files`` tiny WAV files under ``root``."""
    content = tiny_wav()
    for site in range(min(SITES, n_files)):
        (root / f"site{site:02d}").mkdir(parents=True, exist_ok=True)
    for index in range(n_files):
        (root / file_name(index)).write_bytes(content)


def timed(command: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of a command; on a shared machine the CPU time varies less."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    elapsed = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def fingerprint(archive: Path, cache_dir: Path) -> tuple[str, float]:
    """The archive fingerprint, its listing kept in ``cache_dir``, as the workflow computes it; and its seconds."""
    from ecoae.archive.fingerprint import archive_fingerprint
    from ecoae.settings import InventorySettings

    settings = InventorySettings()
    began = time.perf_counter()
    value = archive_fingerprint(archive, settings.extensions, settings.follow_links, listing_dir=cache_dir)
    return value, time.perf_counter() - began


def run_inventory(archive: Path, out_dir: Path, cache_dir: Path, with_fingerprint: bool = False,
                  fingerprints: list[float] | None = None) -> tuple[float, float]:
    """Wall and CPU seconds of one ``ecoae inventory`` command (after the fingerprint, with ``with_fingerprint``)."""
    extra = []
    if with_fingerprint:
        value, seconds = fingerprint(archive, cache_dir)
        extra = ["--fingerprint", value]
        if fingerprints is not None:
            fingerprints.append(seconds)
    return timed([sys.executable, "-m", "ecoae", "inventory", str(archive), "--out-dir", str(out_dir),
                  "--cache-dir", str(cache_dir), "--segments", SEGMENTS, "--threads", "4", *extra])


def measure(n_files: int, workdir: Path, repeats: int, with_fingerprint: bool = False) -> dict:
    archive, out_dir, cache_dir = workdir / f"archive_{n_files}", workdir / "inventory", workdir / "cache"
    shutil.rmtree(archive, ignore_errors=True)
    build_archive(archive, n_files)
    first = []
    for _ in range(repeats):
        shutil.rmtree(out_dir, ignore_errors=True)
        shutil.rmtree(cache_dir, ignore_errors=True)
        first.append(run_inventory(archive, out_dir, cache_dir, with_fingerprint))
    again, fingerprints = [], []
    for repeat in range(repeats):
        (archive / file_name(n_files + repeat)).write_bytes(tiny_wav())
        for name in OUTPUTS:
            (out_dir / name).unlink()
        again.append(run_inventory(archive, out_dir, cache_dir, with_fingerprint, fingerprints))
    shutil.rmtree(archive)
    first_s, again_s = (statistics.median(wall for wall, _ in runs) for runs in (first, again))
    return {"files": n_files, "first": first_s, "again": again_s,
            "again_cpu": statistics.median(cpu for _, cpu in again),
            "fingerprint": statistics.median(fingerprints) if fingerprints else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10000, 100000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--fingerprint", action="store_true",
                        help="compute the fingerprint before each run and pass it (the inventory reads its listing)")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="ecoae-inventory-"))
    rows = [measure(n, workdir, args.repeats, args.fingerprint) for n in args.sizes]
    print(f"| files | first inventory (s) | re-inventory after 1 new file (s) | ratio | "
          f"re-inventory CPU (s) | fingerprint (s) |  (medians of {args.repeats})")
    print("|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        fingerprint_s = "-" if row["fingerprint"] is None else f"{row['fingerprint']:.2f}"
        print(f"| {row['files']:,} | {row['first']:.2f} | {row['again']:.2f} | {row['first'] / row['again']:.1f} | "
              f"{row['again_cpu']:.2f} | {fingerprint_s} |")
    wall, cpu = timed([sys.executable, "-m", "ecoae", "inventory", "--help"])
    print(f"start-up and imports of the command alone: {wall:.2f} s ({cpu:.2f} s CPU)")


if __name__ == "__main__":
    main()
