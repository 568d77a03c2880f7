"""The line printed at the end of every run: what was used, set aside and left out."""

from __future__ import annotations

from ecoae.archive.inventory import summary_line
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
        The line, with where to read the reasons when something was set aside.
    """
    layout = Layout(results)
    line = summary_line(layout.inventory_dir)
    if line is None:
        return "ecoae: no inventory written"
    problems = problem_count(layout.problems_dir)
    if problems:
        line += f"; {problems} segments with problems (reasons in {layout.problems_dir})"
    else:
        line += "; 0 segments with problems"
    return line
