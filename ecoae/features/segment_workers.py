"""Spread per-segment work over worker processes: every feature set computed from audio
(acoustic indices, MFCC, and any set registered in :mod:`ecoae.features.registry`).

Each worker runs its BLAS library single-threaded: the parallelism is one
segment per process, and an idle multi-threaded BLAS pool that must be woken
for every small matrix product costs tens of milliseconds per call on a busy
machine (measured: 37 ms instead of 1 ms for one mel projection).
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from ecoae.archive.audio import AudioProblem, load_audio
from ecoae.problems import problem_table
from ecoae.settings import AudioSettings
from ecoae.store import SEGMENT_KEY

#: ``analyse(samples, sample_rate, settings) -> row``: what a stage computes for one segment.
SegmentAnalysis = Callable[[np.ndarray, int, dict], dict]


def _single_threaded_blas() -> None:
    threadpool_limits(limits=1, user_api="blas")


def worker_count(threads: int, audio_seconds: float, seconds_per_worker: float) -> int:
    """Workers worth starting: at most ``threads``, one per ``seconds_per_worker`` of audio.

    Starting a worker process costs about a tenth of a second; a partition with
    less audio than that buys back runs in this process.
    """
    return max(1, min(int(threads), int(audio_seconds // seconds_per_worker)))


def map_segments(
    function: Callable[[Any], dict], jobs: Sequence[Any], threads: int = 1, desc: str = "segments"
) -> list[dict]:
    """Return ``[function(job) for job in jobs]``, in order, over ``threads`` processes.

    Parameters
    ----------
    function : callable
        Module-level function (picklable) taking one job.
    jobs : sequence
        One entry per segment.
    threads : int
        Worker processes; 1 runs in this process.
    desc : str
        Label of the progress bar (stderr).

    Returns
    -------
    list of dict
    """
    from tqdm import tqdm

    progress = dict(total=len(jobs), unit="segment", desc=desc, mininterval=5, disable=None)
    if threads <= 1 or len(jobs) <= 1:
        with threadpool_limits(limits=1, user_api="blas"):
            return [function(job) for job in tqdm(jobs, **progress)]
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(
        max_workers=threads, mp_context=context, initializer=_single_threaded_blas
    ) as pool:
        chunk = max(1, min(8, len(jobs) // (4 * threads)))
        return list(tqdm(pool.map(function, jobs, chunksize=chunk), **progress))


@dataclass(frozen=True)
class SegmentFailure:
    """What a worker returns for a segment whose audio could not be used."""

    reason: str


class FeatureTable(NamedTuple):
    """What a feature set computes for one partition.

    Attributes
    ----------
    features : DataFrame
        Segment key columns, feature columns and ``qc_*`` flags: one row per segment analysed.
    problems : DataFrame
        Segments left out, with reasons (:data:`ecoae.problems.PROBLEM_COLUMNS`).
    """

    features: pd.DataFrame
    problems: pd.DataFrame


@dataclass
class SegmentResults:
    """Per-segment results of one partition: the segments that worked and those that did not.

    Attributes
    ----------
    keys : DataFrame
        Segment key columns of the segments analysed, in partition order.
    rows : list of dict
        The analysis of each of them, aligned with ``keys``.
    problems : DataFrame
        The segments left out, with reasons (:func:`ecoae.problems.problem_table`).
    """

    keys: pd.DataFrame
    rows: list[dict]
    problems: pd.DataFrame

    def table(self, features: pd.DataFrame) -> FeatureTable:
        """Key columns followed by ``features`` (built from :attr:`rows`), and the problems."""
        return FeatureTable(pd.concat([self.keys, features.reset_index(drop=True)], axis=1), self.problems)


def _analyse_segment(job: tuple) -> dict | SegmentFailure:
    analyse, path, offset, duration, sample_rate, channel, settings = job
    try:
        samples = load_audio(path, sample_rate, offset, duration, channel)
    except AudioProblem as problem:
        return SegmentFailure(str(problem))
    return analyse(samples, sample_rate, settings)


def map_segment_audio(
    analyse: SegmentAnalysis,
    segments: pd.DataFrame,
    archive: str | Path,
    audio: AudioSettings,
    settings: dict,
    threads: int,
    seconds_per_worker: float,
    stage: str,
) -> SegmentResults:
    """Read each segment's audio and analyse it, over worker processes, in row order.

    A segment whose audio cannot be used (:class:`~ecoae.archive.audio.AudioProblem`)
    is left out and listed in the result's problems; the others are analysed.

    Parameters
    ----------
    analyse : callable
        Module-level ``analyse(samples, sample_rate, settings) -> dict``.
    segments : DataFrame
        A segment store partition (key columns, ``path``, ``offset``, ``duration``).
    archive : str or Path
        Folder the ``path`` column is relative to.
    audio : AudioSettings
        Rate and channel, see :func:`ecoae.archive.audio.load_audio`.
    settings : dict
        Passed to ``analyse``.
    threads : int
        Most worker processes; fewer for little audio (:func:`worker_count`).
    seconds_per_worker : float
        Audio that justifies one more worker.
    stage : str
        The feature set's name: progress-bar label and the problems' ``stage``.

    Returns
    -------
    SegmentResults
    """
    archive = Path(archive)
    jobs = [
        (analyse, archive / path, offset, duration, audio.sample_rate, audio.channel, settings)
        for path, offset, duration in zip(segments["path"], segments["offset"], segments["duration"])
    ]
    workers = worker_count(threads, float(segments["duration"].sum()), seconds_per_worker)
    results = map_segments(_analyse_segment, jobs, workers, desc=stage)
    failed = [position for position, result in enumerate(results) if isinstance(result, SegmentFailure)]
    kept = np.ones(len(results), dtype=bool)
    kept[failed] = False
    return SegmentResults(
        keys=segments.loc[kept, SEGMENT_KEY].reset_index(drop=True),
        rows=[result for result in results if not isinstance(result, SegmentFailure)],
        problems=problem_table(segments, failed, [results[i].reason for i in failed], stage),
    )
