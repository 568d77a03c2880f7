"""How the workflow scales with the number of files: inventory and DAG-build times.

Builds archives of 1 000, 10 000 and 100 000 tiny WAV files (AudioMoth names, one
recording every 10 minutes: 144 files per site and day, 10 sites), then measures
with the real Snakemake command line:

* ``inventory``: the first run of the inventory checkpoint (probes every header),
* ``inventory again``: the same after one new file (unchanged files are not re-probed),
* ``dry run``: ``snakemake -n`` of the whole workflow once the inventory exists
  (DAG build over every partition job), with the number of jobs it plans.

Usage: ``python benchmarks/bench_dag.py [--sizes 1000 10000 100000] [--workdir DIR]``.
Prints a table; times are medians of ``--repeats`` dry runs.
"""

from __future__ import annotations

import argparse
import io
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
sys.path.insert(0, str(REPO / "tests"))
from workflow_helpers import planned_jobs  # noqa: E402

FILES_PER_DAY = 144
SITES = 10


def tiny_wav() -> bytes:
    """1.2 s of quiet noise at 8 kHz: a valid recording of a few kilobytes."""
    buffer = io.BytesIO()
    noise = np.random.default_rng(0).normal(0, 0.01, 9600)
    sf.write(buffer, noise, 8000, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def build_archive(root: Path, n_files: int) -> None:
    """Write ``n_files`` copies of a tiny WAV named as an AudioMoth would, 10 sites."""
    content = tiny_wav()
    start = datetime(2024, 1, 1)
    for index in range(n_files):
        site, rank = index % SITES, index // SITES
        moment = start + timedelta(days=rank // FILES_PER_DAY, minutes=10 * (rank % FILES_PER_DAY))
        folder = root / f"site{site:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / moment.strftime("%Y%m%d_%H%M%S.WAV")).write_bytes(content)


def snakemake(*args: str) -> tuple[float, str]:
    began = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
                             "--directory", str(REPO), *args], capture_output=True, text=True)
    elapsed = time.perf_counter() - began
    if result.returncode != 0:
        raise RuntimeError(result.stdout[-3000:] + result.stderr[-3000:])
    return elapsed, result.stdout


def measure(n_files: int, workdir: Path, repeats: int) -> dict:
    archive, results = workdir / f"archive_{n_files}", workdir / f"results_{n_files}"
    shutil.rmtree(archive, ignore_errors=True)
    shutil.rmtree(results, ignore_errors=True)
    build_archive(archive, n_files)
    config = ["--config", f"archive={archive}", f"results={results}"]
    inventory_s, _ = snakemake("--cores", "2", "--until", "inventory", *config)
    dry = []
    for _ in range(repeats):
        seconds, output = snakemake("--cores", "2", "-n", *config)
        dry.append(seconds)
    jobs = sum(planned_jobs(output).values())
    (archive / "site00" / "20300101_000000.WAV").write_bytes(tiny_wav())
    again_s, _ = snakemake("--cores", "2", "--until", "inventory", *config)
    partitions = len((results / "inventory" / "partitions.tsv").read_text().splitlines()) - 1
    shutil.rmtree(archive)
    shutil.rmtree(results)
    return {"files": n_files, "partitions": partitions, "jobs": jobs, "inventory_s": inventory_s,
            "inventory_again_s": again_s, "dry_run_s": statistics.median(dry)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="ecoae-dag-"))
    rows = [measure(n, workdir, args.repeats) for n in args.sizes]
    print(f"| files | partitions | jobs planned | inventory (s) | inventory after 1 new file (s) | snakemake -n (s, median of {args.repeats}) |")
    print("|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['files']:,} | {row['partitions']:,} | {row['jobs']:,} | {row['inventory_s']:.1f} | "
              f"{row['inventory_again_s']:.1f} | {row['dry_run_s']:.1f} |")


if __name__ == "__main__":
    main()
