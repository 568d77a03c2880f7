"""Which examples a task can use, and grouped cross-validation folds.

Groups keep correlated examples on one side of every split: at the segment
timescale a group is a recording; for aggregated windows it is a site-day. The
folds of a task and timescale are made once and shared by every feature set
and model, so the comparison between sets is paired.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold


@dataclass
class TaskSelection:
    """Outcome of checking a task's labels before cross-validation.

    Attributes
    ----------
    mask : ndarray of bool
        Rows the task uses.
    reason : str or None
        Why the task is skipped; None when it is evaluated.
    notes : list of str
        What was dropped and why.
    counts : dict of str to int
        Examples per class among the rows used (or all labelled rows when skipped).
    """

    mask: np.ndarray
    reason: str | None
    notes: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def select_task_rows(
    labels: pd.Series, groups: pd.Series, min_examples: int = 5, min_groups: int = 2
) -> TaskSelection:
    """Keep the classes a grouped cross-validation can test, or say why none can.

    A class is kept when it has at least ``min_examples`` examples spread over
    at least ``min_groups`` groups (with a single group, the class would never
    be on the training side when it is tested). The task is skipped when fewer
    than two classes remain.

    Parameters
    ----------
    labels : Series
        Class of each example; missing = not part of the task.
    groups : Series
        Group of each example.
    min_examples, min_groups : int

    Returns
    -------
    TaskSelection
    """
    labelled = labels.notna().to_numpy()
    frame = pd.DataFrame({"label": labels.to_numpy(), "group": groups.to_numpy()})[labelled]
    counts = frame.groupby("label").size()
    spread = frame.groupby("label")["group"].nunique()
    all_counts = {str(k): int(v) for k, v in counts.items()}
    if len(counts) < 2:
        only = f"only class {counts.index[0]!r}" if len(counts) else "no labelled examples"
        return TaskSelection(np.zeros(len(labels), bool), f"one class or none ({only})", counts=all_counts)
    keep, notes = [], []
    for label in counts.index:
        if counts[label] < min_examples:
            notes.append(f"class {label!r} dropped: {counts[label]} examples < {min_examples}")
        elif spread[label] < min_groups:
            notes.append(f"class {label!r} dropped: all its examples lie in {spread[label]} group(s) < {min_groups}")
        else:
            keep.append(label)
    if len(keep) < 2:
        return TaskSelection(
            np.zeros(len(labels), bool),
            "fewer than two classes have enough examples in enough groups (" + "; ".join(notes) + ")",
            notes,
            all_counts,
        )
    mask = labelled & labels.isin(keep).fillna(False).to_numpy(bool)
    return TaskSelection(mask, None, notes, {k: v for k, v in all_counts.items() if k in keep})


def grouped_folds(
    labels: np.ndarray, groups: np.ndarray, n_splits: int = 5, seed: int = 0, attempts: int = 20
) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[str]]:
    """Make stratified, grouped cross-validation folds.

    Uses ``min(n_splits, number of groups)`` folds. Several shuffles are tried
    and the first whose every training side holds every class is kept (else the
    one missing fewest classes, with a note).

    Parameters
    ----------
    labels, groups : ndarray
        Class and group of each example.
    n_splits : int
    seed : int
    attempts : int
        Shuffles tried.

    Returns
    -------
    (list of (ndarray, ndarray), list of str)
        (train indices, test indices) per fold, and notes.

    Raises
    ------
    ValueError
        With fewer than two groups.
    """
    labels = np.asarray(labels)
    groups = np.asarray(groups)
    n_groups = len(np.unique(groups))
    if n_groups < 2:
        raise ValueError("grouped cross-validation needs at least two groups")
    n_folds = min(n_splits, n_groups)
    classes = np.unique(labels)
    best, best_missing = None, None
    for attempt in range(attempts):
        splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed + attempt)
        folds = list(splitter.split(np.zeros(len(labels)), labels, groups))
        missing = sum(len(classes) - len(np.unique(labels[train])) for train, _ in folds)
        if best is None or missing < best_missing:
            best, best_missing = folds, missing
        if missing == 0:
            break
    for train, test in best:
        shared = np.intersect1d(groups[train], groups[test])
        if len(shared):
            raise RuntimeError(f"groups {shared[:3]} on both sides of a split")
    notes = []
    if best_missing:
        notes.append(f"{best_missing} class(es) absent from some training folds (too few groups per class)")
    return best, notes
