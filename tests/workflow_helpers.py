"""Run the Snakemake workflow of this checkout from tests."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: Small training budgets and a light evaluation for workflow tests: the plumbing, not
#: the model quality, is under test there (benchmarks measure quality).
FAST_CONFIG = """\
autoencoder:
  sample_size: 200
  models:
    explicit384: {channels: [4, 8, 8, 8]}
    implicit384: {channels: [4, 8, 8, 8]}
  training: {epochs: 2, batch_size: 16, min_steps: 4, evaluations: 2, patience: 2}
  train_threads: 2
evaluation:
  n_splits: 3
  random_forest_trees: 20
  timescales: [segment, 1h]
"""


def write_fast_config(folder: Path) -> Path:
    """Write :data:`FAST_CONFIG` as ``fast.yaml`` in ``folder`` and return its path."""
    path = Path(folder) / "fast.yaml"
    path.write_text(FAST_CONFIG)
    return path


def snakemake(*args: str, check: bool = True, timeout: float = 1800) -> subprocess.CompletedProcess:
    """Run ``snakemake`` on this repository's Snakefile with the test's Python."""
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
               "--directory", str(REPO), *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-8000:]}")
    return result


def planned_jobs(output: str) -> Counter:
    """Job counts from the 'Job stats' table of a (dry) run's output."""
    counts: Counter = Counter()
    table = output.split("Job stats:", 1)
    if len(table) < 2:
        return counts
    for line in table[1].splitlines()[3:]:
        match = re.match(r"^(\S+)\s+(\d+)$", line.strip())
        if not match:
            break
        if match[1] != "total":
            counts[match[1]] = int(match[2])
    return counts
