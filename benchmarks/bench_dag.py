"""How the workflow scales with the number of files: inventory and DAG-build times.

Builds archives of tiny WAV files named as an AudioMoth names them, then measures
with the real Snakemake command line:

* ``fingerprint``: the inventory's trigger, a hash of the file listing that
  Snakemake computes while it builds the DAG (timed here in-process),
* ``inventory``: the first run of the inventory checkpoint (probes every header),
* ``after 1 new file``: the same after one new file (unchanged files are not re-probed),
* ``snakemake -n``: a dry run of the whole workflow once the inventory exists
  (DAG build over every partition job), with the number of jobs it plans.

Each command's wall time, CPU time (user + system, the steadier figure on a shared
machine) and peak resident memory (of Snakemake and the job it ran) are recorded.

Archive shapes: up to 100 000 files, 10 sites and one file every 10 minutes (144
files per site-day); from 1 000 000 files, 100 sites and 100 files per site-day, so
1 000 000 files are 10 000 partitions. Every file is a distinct real file (its own
inode), 1.2 s of 16-bit audio at 1 kHz whose first samples hold its number.

Usage: ``python benchmarks/bench_dag.py [--sizes 1000 10000 100000 1000000]
[--repeats 3] [--workdir DIR]``. Prints a table; dry-run figures are medians of
``--repeats`` runs. The archives are deleted at the end.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))
from workflow_helpers import planned_jobs  # noqa: E402

from ecoae.archive.fingerprint import archive_fingerprint  # noqa: E402
from ecoae.settings import InventorySettings  # noqa: E402

#: Bytes of the data chunk that hold a file's number, so that no two files are equal.
NUMBER_BYTES = 4


class Shape(NamedTuple):
    """How an archive's files are spread: sites, and files per site and day."""

    sites: int
    per_day: int


def shape(n_files: int) -> Shape:
    """The archive shape of a size: 10 sites x 144 files a day, or 100 x 100 from a million files."""
    return Shape(100, 100) if n_files >= 1_000_000 else Shape(10, 144)


class Run(NamedTuple):
    """Wall seconds, CPU seconds (user + system) and peak resident memory (MiB) of a command."""

    wall: float
    cpu: float
    rss_mib: float


def tiny_wav() -> bytes:
    """1.2 s of quiet noise at 1 kHz, 16-bit mono: a valid recording of 2.4 kB."""
    buffer = io.BytesIO()
    noise = np.random.default_rng(0).normal(0, 0.01, 1200)
    sf.write(buffer, noise, 1000, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def file_names(n_files: int) -> list[str]:
    """Archive-relative paths ``siteNNN/YYYYMMDD_HHMMSS.WAV``, filling each site-day in turn."""
    sites, per_day = shape(n_files)
    step = 1440 // per_day
    start = datetime(2024, 1, 1)
    names = []
    for index in range(n_files):
        site, rank = index % sites, index // sites
        moment = start + timedelta(days=rank // per_day, minutes=step * (rank % per_day))
        names.append(f"site{site:03d}/{moment:%Y%m%d_%H%M%S}.WAV")
    return names


def build_archive(root: Path, n_files: int) -> float:
    """Write ``n_files`` distinct tiny WAV files under ``root``; return the seconds it took."""
    began = time.perf_counter()
    content = bytearray(tiny_wav())
    data = content.index(b"data") + 8
    for site in range(min(shape(n_files).sites, n_files)):
        (root / f"site{site:03d}").mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    for number, name in enumerate(file_names(n_files)):
        content[data:data + NUMBER_BYTES] = number.to_bytes(NUMBER_BYTES, "little")
        handle = os.open(root / name, flags, 0o644)
        try:
            os.write(handle, content)
        finally:
            os.close(handle)
    return time.perf_counter() - began


def timed(command: list[str]) -> tuple[Run, str]:
    """Run a command; its times, peak memory (itself and the children it waited for) and stdout."""
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        began = time.perf_counter()
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr, text=True)
        _, status, usage = os.wait4(process.pid, 0)  # not Popen.wait: wait4 gives the child's usage
        elapsed = time.perf_counter() - began
        stdout.seek(0)
        stderr.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(stdout.read()[-3000:] + stderr.read()[-3000:])
        return Run(elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024), stdout.read()


def snakemake(config: list[str], *args: str) -> tuple[Run, str]:
    """One Snakemake command on this repository's workflow."""
    return timed([sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
                  "--directory", str(REPO), "--cores", "2", *args, "--config", *config])


def fingerprint_seconds(archive: Path) -> float:
    """Seconds of the archive fingerprint that Snakemake computes while building the DAG."""
    settings = InventorySettings()
    began = time.perf_counter()
    archive_fingerprint(archive, settings.extensions, settings.follow_links)
    return time.perf_counter() - began


def median_run(runs: list[Run]) -> Run:
    """Field by field median of several runs."""
    return Run(*(statistics.median(values) for values in zip(*runs)))


def measure(n_files: int, workdir: Path, repeats: int) -> dict:
    """Build an archive of ``n_files``, time the commands on it, and delete it."""
    archive, results = workdir / f"archive_{n_files}", workdir / f"results_{n_files}"
    shutil.rmtree(archive, ignore_errors=True)
    shutil.rmtree(results, ignore_errors=True)
    build_s = build_archive(archive, n_files)
    config = [f"archive={archive}", f"results={results}"]
    try:
        inventory, _ = snakemake(config, "--until", "inventory")
        fingerprint_s = fingerprint_seconds(archive)
        dry = [snakemake(config, "-n") for _ in range(repeats)]
        jobs = sum(planned_jobs(dry[0][1]).values())
        new_file = archive / "site000" / "20300101_000000.WAV"
        new_file.write_bytes(tiny_wav())
        again, _ = snakemake(config, "--until", "inventory")
        partitions = len((results / "inventory" / "partitions.tsv").read_text().splitlines()) - 1
    finally:
        shutil.rmtree(archive, ignore_errors=True)
        shutil.rmtree(results, ignore_errors=True)
    return {"files": n_files, "build_s": build_s, "partitions": partitions, "jobs": jobs,
            "fingerprint_s": fingerprint_s, "inventory": inventory, "again": again,
            "dry": median_run([run for run, _ in dry])}


def print_table(rows: list[dict], repeats: int) -> None:
    """The results as a Markdown table."""
    print(f"| files | partitions | jobs planned | fingerprint (s) | inventory (s; CPU s) | "
          f"after 1 new file (s; CPU s) | snakemake -n (s; CPU s; median of {repeats}) | "
          "snakemake -n peak RSS (MiB) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        inventory, again, dry = row["inventory"], row["again"], row["dry"]
        print(f"| {row['files']:,} | {row['partitions']:,} | {row['jobs']:,} | {row['fingerprint_s']:.1f} | "
              f"{inventory.wall:.1f}; {inventory.cpu:.1f} | {again.wall:.1f}; {again.cpu:.1f} | "
              f"{dry.wall:.1f}; {dry.cpu:.1f} | {dry.rss_mib:,.0f} |")
    for row in rows:
        print(f"{row['files']:,} files: archive written in {row['build_s']:.0f} s; peak RSS of the first "
              f"inventory run (Snakemake or its job) {row['inventory'].rss_mib:,.0f} MiB")
    print(f"load average at the end: {' '.join(f'{load:.2f}' for load in os.getloadavg())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000],
                        help="archive sizes in files (1000000 too for the million-file archive)")
    parser.add_argument("--repeats", type=int, default=3, help="dry runs per size (the median is shown)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="folder for the archives and results (default: a temporary folder)")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="ecoae-dag-"))
    workdir.mkdir(parents=True, exist_ok=True)
    rows = [measure(n, workdir, args.repeats) for n in args.sizes]
    print_table(rows, args.repeats)


if __name__ == "__main__":
    main()
