"""The line printed at the end of every run: what was used, set aside and left out."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from ecoae.layout import Layout
from ecoae.problems import problem_count


def run_summary(results: str) -> str:
    """``ecoae: N recordings used, M files quarantined, K segments with problems`` for a results folder.

    Parameters
    ----------
    results : str
        The results folder.

    Returns
    -------
    str
        The line, naming where the reasons are when something was set aside or left out.
    """
    layout = Layout(results)
    recordings, quarantine = Path(layout.recordings), Path(layout.quarantine)
    if not (recordings.exists() and quarantine.exists()):
        return "ecoae: no inventory written"
    used = pq.read_metadata(recordings).num_rows
    set_aside = pq.read_metadata(quarantine).num_rows
    problems = problem_count(layout.problems_dir)
    line = f"ecoae: {used} recordings used, {set_aside} files quarantined, {problems} segments with problems"
    where = [str(quarantine)] * bool(set_aside) + [layout.problems_dir] * bool(problems)
    return line + (f" (reasons in {' and '.join(where)})" if where else "")
