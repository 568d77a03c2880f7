"""CPU seconds per stage inside one job that serves several feature sets.

Snakemake's benchmark record gives a job's CPU time as a whole, and samples it (every
0.5 s at first, every 30 s later, never at the very end), so it misses the end of
every job. A job that computes several sets (the audio-feature job: indices, MFCC,
…, spectrograms; the image job: every encoder; each serves a batch of partitions)
also writes ``costs/<step>/site=…/days=….tsv`` (:meth:`ecoae.layout.Layout.costs`): the
CPU seconds each stage spent on the batch's segments, measured in whichever process
ran it; ``decode``, the shared reading and resampling; and ``job``, the whole
process's CPU time with its worker processes, start-up and imports included, taken
just before it exits. :mod:`ecoae.evaluation.timings` divides ``job`` (or Snakemake's
figure when it is missing) among the stages in these proportions, so imports,
decoding and writing are shared out in the same ratio as the work itself.
"""

from __future__ import annotations

import resource
from pathlib import Path
from typing import Mapping

#: Stage of the shared work (reading and resampling audio) in a costs file.
SHARED = "decode"
#: The whole job's CPU seconds in a costs file (not a stage).
JOB = "job"


def process_cpu_s() -> float:
    """CPU seconds (user + system) of this process since it started, and of its finished children."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def write_stage_costs(cpu_s: Mapping[str, float], path: str | Path) -> Path:
    """Write ``stage<TAB>cpu_s`` lines and the :data:`JOB` line (this process so far), atomically."""
    cpu_s = {**cpu_s, JOB: process_cpu_s()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    lines = ["stage\tcpu_s"] + [f"{stage}\t{seconds:.6f}" for stage, seconds in cpu_s.items()]
    temporary.write_text("\n".join(lines) + "\n")
    temporary.replace(path)
    return path


def add_stage_costs(total: Mapping[str, float], more: Mapping[str, float]) -> dict[str, float]:
    """Stage-wise sum of two cost mappings (a batch job adds up its partitions)."""
    return {stage: total.get(stage, 0.0) + more.get(stage, 0.0) for stage in {**total, **more}}


def read_stage_costs(path: str | Path) -> dict[str, float]:
    """Stage -> CPU seconds of a costs file (empty when it is missing or unreadable)."""
    try:
        lines = Path(path).read_text().splitlines()[1:]
    except OSError:
        return {}
    costs = {}
    for line in lines:
        stage, _, seconds = line.partition("\t")
        try:
            costs[stage] = float(seconds)
        except ValueError:
            return {}
    return costs


def stage_shares(costs: Mapping[str, float]) -> dict[str, float]:
    """Share of the job each stage gets: its own CPU over that of all stages (not :data:`SHARED`, :data:`JOB`).

    Returns an empty dict when no stage measured any time (nothing to divide by).
    """
    own = {stage: seconds for stage, seconds in costs.items() if stage not in (SHARED, JOB)}
    total = sum(own.values())
    if total <= 0:
        return {}
    return {stage: seconds / total for stage, seconds in own.items()}
