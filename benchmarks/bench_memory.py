"""Peak memory (max RSS) of each rule for one day of 1-minute segments.

Generates one-site, one-day demo archives with a recording every ``interval`` minutes
(default 120 and 10 minutes: 12 and 144 one-minute segments per partition), runs the
whole workflow on each, and prints the peak resident memory and wall time of every
rule from Snakemake's own ``benchmark:`` records. Memory that grows with the
partition shows as a difference between the rows; the archive size plays no part,
since every job reads one partition.

Usage: ``python benchmarks/bench_memory.py [--intervals 120 10] [--workdir DIR]``.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from ecoae.archive.demo import generate_demo_archive  # noqa: E402


def rule_of(record: Path, benchmarks: Path) -> str:
    parts = record.relative_to(benchmarks).parts
    head = [p for p in parts if not p.startswith(("site=", "date=", "days="))]
    return "/".join(head).removesuffix(".tsv")


def run_day(interval: int, workdir: Path) -> dict[str, tuple[float, float]]:
    archive, results = workdir / f"archive_{interval}", workdir / f"results_{interval}"
    generate_demo_archive(archive, sites=1, days=1, interval_minutes=interval)
    subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
                    "--directory", str(REPO), "--cores", "2", "--config", f"archive={archive}",
                    f"results={results}"], check=True, capture_output=True)
    peaks: dict[str, tuple[float, float]] = defaultdict(lambda: (0.0, 0.0))
    benchmarks = results / "benchmarks"
    for record in benchmarks.rglob("*.tsv"):
        with open(record) as handle:
            row = next(csv.DictReader(handle, delimiter="\t"))
        name = rule_of(record, benchmarks)
        rss, seconds = peaks[name]
        peaks[name] = (max(rss, float(row["max_rss"])), max(seconds, float(row["s"])))
    return dict(peaks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--intervals", type=int, nargs="+", default=[120, 10])
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="ecoae-mem-"))
    runs = {interval: run_day(interval, workdir) for interval in args.intervals}
    rules = sorted({name for peaks in runs.values() for name in peaks})
    header = " | ".join(f"{24 * 60 // i} segments: max RSS MiB (wall s)" for i in args.intervals)
    print(f"| rule | {header} |")
    print("|---|" + "---:|" * len(args.intervals))
    for name in rules:
        cells = []
        for interval in args.intervals:
            rss, seconds = runs[interval].get(name, (float("nan"), float("nan")))
            cells.append(f"{rss:.0f} ({seconds:.1f})")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
