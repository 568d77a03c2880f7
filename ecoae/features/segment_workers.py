"""One pass over a partition's audio: each segment decoded once, every analysis run on
it (acoustic indices, MFCC, and any set registered in :mod:`ecoae.features.registry`),
spread over worker processes that import the libraries once and serve many segments.

Each worker runs its BLAS library single-threaded: the parallelism is one
segment per process, and an idle multi-threaded BLAS pool that must be woken
for every small matrix product costs tens of milliseconds per call on a busy
machine (measured: 37 ms instead of 1 ms for one mel projection).
"""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from ecoae.archive.audio import AudioProblem, read_window, resample
from ecoae.problems import problem_table
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
    kept : ndarray
        Boolean mask over the partition's rows: the segments analysed.
    """

    keys: pd.DataFrame
    rows: list
    problems: pd.DataFrame
    kept: np.ndarray

    def table(self, features: pd.DataFrame) -> FeatureTable:
        """Key columns followed by ``features`` (built from :attr:`rows`), and the problems."""
        return FeatureTable(pd.concat([self.keys, features.reset_index(drop=True)], axis=1), self.problems)


class Analysis(NamedTuple):
    """One thing computed from every segment's audio in a pass over a partition.

    Attributes
    ----------
    name : str
        Its stage (a feature set's name, or ``spectrograms``): the progress label and the
        ``stage`` of its problems.
    function : callable
        Module-level ``function(samples, sample_rate, settings) -> row`` (picklable).
    settings : object
        Passed to ``function``.
    sample_rate : int
        Rate the segment's audio is resampled to for it.
    seconds_per_worker : float
        Audio that justifies one more worker process for it alone (starting one costs
        about a tenth of a second); a pass uses the smallest of its analyses'.
    """

    name: str
    function: SegmentAnalysis
    settings: Any
    sample_rate: int
    seconds_per_worker: float


@dataclass
class PassResults:
    """What a pass over a partition's audio gives, per analysis.

    Attributes
    ----------
    results : dict of str to SegmentResults
        Per analysis name: the segments analysed and their rows, and the segments left out.
    cpu_s : dict of str to float
        CPU seconds each analysis took over all segments (in whichever process ran it),
        and ``"decode"``: reading and resampling the audio. Job start-up is not included.
    """

    results: dict[str, SegmentResults]
    cpu_s: dict[str, float]


def _analyse_segment(job: tuple) -> tuple[tuple | SegmentFailure, tuple[float, ...]]:
    """Decode one segment once and run every analysis on it; CPU seconds of each (decode first)."""
    analyses, path, offset, duration, channel = job
    started = time.process_time()
    try:
        native, source_rate = read_window(path, offset, duration, channel)
        at_rate = {rate: resample(native, source_rate, rate) for rate in {a.sample_rate for a in analyses}}
    except AudioProblem as problem:
        return SegmentFailure(str(problem)), (time.process_time() - started,) + (0.0,) * len(analyses)
    times = [time.process_time() - started]
    rows = []
    for analysis in analyses:
        started = time.process_time()
        try:
            rows.append(analysis.function(at_rate[analysis.sample_rate], analysis.sample_rate, analysis.settings))
        except ValueError as error:
            raise ValueError(f"{path} at {offset} s ({analysis.name}): {error}") from error
        times.append(time.process_time() - started)
    return tuple(rows), tuple(times)


def map_segment_audio(
    analyses: Sequence[Analysis],
    segments: pd.DataFrame,
    archive: str | Path,
    channel: str | int,
    threads: int,
) -> PassResults:
    """Decode each segment once and run every analysis on it, over worker processes, in row order.

    A segment whose audio cannot be used (:class:`~ecoae.archive.audio.AudioProblem`)
    is left out of every analysis and listed in each one's problems.

    Parameters
    ----------
    analyses : sequence of Analysis
        What to compute from each segment (each at its own sample rate; the file is
        read once and resampled once per distinct rate).
    segments : DataFrame
        A segment store partition (key columns, ``path``, ``offset``, ``duration``).
    archive : str or Path
        Folder the ``path`` column is relative to.
    channel : {"mix"} or int
        Channel handling, see :func:`ecoae.archive.audio.load_audio`.
    threads : int
        Most worker processes; fewer for little audio (:func:`worker_count`).

    Returns
    -------
    PassResults
    """
    archive = Path(archive)
    analyses = tuple(analyses)
    jobs = [
        (analyses, archive / path, offset, duration, channel)
        for path, offset, duration in zip(segments["path"], segments["offset"], segments["duration"])
    ]
    seconds_per_worker = min(analysis.seconds_per_worker for analysis in analyses)
    workers = worker_count(threads, float(segments["duration"].sum()), seconds_per_worker)
    outcomes = map_segments(_analyse_segment, jobs, workers, desc="+".join(a.name for a in analyses))
    failed = [position for position, (rows, _) in enumerate(outcomes) if isinstance(rows, SegmentFailure)]
    reasons = [outcomes[i][0].reason for i in failed]
    kept = np.ones(len(outcomes), dtype=bool)
    kept[failed] = False
    keys = segments.loc[kept, SEGMENT_KEY].reset_index(drop=True)
    done = [rows for rows, _ in outcomes if not isinstance(rows, SegmentFailure)]
    totals = np.sum([times for _, times in outcomes], axis=0) if outcomes else np.zeros(len(analyses) + 1)
    return PassResults(
        results={
            analysis.name: SegmentResults(
                keys=keys,
                rows=[rows[n] for rows in done],
                problems=problem_table(segments, failed, reasons, analysis.name),
                kept=kept,
            )
            for n, analysis in enumerate(analyses)
        },
        cpu_s={"decode": float(totals[0]), **{a.name: float(t) for a, t in zip(analyses, totals[1:])}},
    )
