"""CPU seconds per stage inside one job that serves several feature sets.

Snakemake's benchmark record gives a job's CPU time as a whole. A job that computes
several sets (the per-partition audio-feature job: indices, MFCC, …; the image job:
spectrograms and every encoder) also writes ``costs/<step>/site=…/date=….tsv``
(:meth:`ecoae.layout.Layout.costs`): the CPU seconds each stage spent on the
partition's segments, measured in whichever process ran it, and ``decode``, the
shared reading and resampling. :mod:`ecoae.evaluation.timings` divides the job's
recorded CPU time among its stages in these proportions, so imports, decoding and
writing are shared out in the same ratio as the work itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

#: Stage of the shared work (reading and resampling audio) in a costs file.
SHARED = "decode"


def write_stage_costs(cpu_s: Mapping[str, float], path: str | Path) -> Path:
    """Write ``stage<TAB>cpu_s`` lines (atomically: a temporary file renamed into place)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    lines = ["stage\tcpu_s"] + [f"{stage}\t{seconds:.6f}" for stage, seconds in cpu_s.items()]
    temporary.write_text("\n".join(lines) + "\n")
    temporary.replace(path)
    return path


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
    """Share of the job each stage gets: its own CPU over that of all stages but :data:`SHARED`.

    Returns an empty dict when no stage measured any time (nothing to divide by).
    """
    own = {stage: seconds for stage, seconds in costs.items() if stage != SHARED}
    total = sum(own.values())
    if total <= 0:
        return {}
    return {stage: seconds / total for stage, seconds in own.items()}
