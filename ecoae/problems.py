"""Segments a stage could not process, and why: one small table per stage and partition.

A stage that reads audio (spectrograms, indices, MFCC, …) never stops on one bad
segment. It leaves that segment out of its store and lists it in
``results/problems/<stage>/site=…/date=…/part-0.parquet`` with the reason (see
:class:`ecoae.archive.audio.AudioProblem`). The rule is the same for every feature
set: **a feature row that could not be computed is absent from the store and listed
here**; no store holds a row of NaN standing in for a failure.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import pandas as pd
import pyarrow.parquet as pq

from ecoae.store import SEGMENT_KEY, read_partition, write_partition

log = logging.getLogger(__name__)

#: Columns of a problem table (``site`` and ``date`` are in its folder names).
PROBLEM_COLUMNS = [*SEGMENT_KEY, "path", "offset", "stage", "reason"]


def problem_table(segments: pd.DataFrame, positions: Sequence[int], reasons: Sequence[str], stage: str) -> pd.DataFrame:
    """Rows of the problem table for the segments at ``positions`` of a segment-store partition.

    Parameters
    ----------
    segments : DataFrame
        The partition's segments (key columns, ``path``, ``offset``).
    positions : sequence of int
        Row positions in ``segments`` that failed.
    reasons : sequence of str
        One reason per position.
    stage : str
        The stage that failed (``spectrograms`` or a feature set's name).

    Returns
    -------
    DataFrame
        :data:`PROBLEM_COLUMNS`, one row per failed segment.
    """
    rows = segments.iloc[list(positions)]
    frame = pd.DataFrame({
        "recording_id": rows["recording_id"].astype(str).to_numpy(),
        "segment_index": rows["segment_index"].astype("int32").to_numpy(),
        "path": rows["path"].astype(str).to_numpy(),
        "offset": rows["offset"].astype("float64").to_numpy(),
        "stage": stage,
        "reason": list(reasons),
    }, columns=PROBLEM_COLUMNS)
    return frame.astype({"stage": str, "reason": str})


def write_problems(problems: pd.DataFrame, path: str | Path) -> Path:
    """Write one stage's problem table for one partition (written even when empty); log each problem."""
    for problem in problems.itertuples(index=False):
        log.warning("left out: %s at %g s: %s", problem.path, problem.offset, problem.reason)
    return write_partition(problems[PROBLEM_COLUMNS].reset_index(drop=True), path)


def read_problems(problems_dir: str | Path) -> pd.DataFrame:
    """Every problem table under ``results/problems``, with ``site`` and ``date``.

    Parameters
    ----------
    problems_dir : str or Path
        The problems folder (:attr:`ecoae.layout.Layout.problems_dir`).

    Returns
    -------
    DataFrame
        :data:`PROBLEM_COLUMNS` plus ``site`` and ``date``; empty when there is none.
    """
    files = sorted(Path(problems_dir).glob("*/site=*/date=*/part-0.parquet"))
    # Most tables are empty: their footer says so without reading them into pandas.
    frames = [read_partition(path) for path in files if pq.read_metadata(path).num_rows]
    if not frames:
        return pd.DataFrame(columns=[*PROBLEM_COLUMNS, "site", "date"])
    return pd.concat(frames, ignore_index=True)


def problem_count(problems_dir: str | Path) -> int:
    """Number of distinct segments listed in any problem table."""
    problems = read_problems(problems_dir)
    return int(problems[SEGMENT_KEY].drop_duplicates().shape[0]) if len(problems) else 0
