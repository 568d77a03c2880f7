"""Jobs of several site-days: which partitions a per-partition job serves, and its record.

Stores stay partitioned by site and date, but the workflow runs its per-partition
stages (segmentation, audio features, images) once per *batch*: the days of one site
that fall in one window of ``jobs.days_per_job`` days. Windows are aligned to Mondays
(1970-01-05), so with the default of 7 a batch is a site's ISO week, and a batch's
days never change as new days arrive: a new day re-runs its own batch only.

A batch is named by its first and last window day, ``<first>_<last>``
(``2024-05-06_2024-05-12``), in folders ``site=<site>/days=<first>_<last>``. Each
batch job writes the usual per-day store files and then its *record*: a TSV with one
line per partition it wrote, which is the output Snakemake tracks.
"""

from __future__ import annotations

import csv
import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import date, timedelta
from pathlib import Path

from ecoae.layout import Layout, partition_of
from ecoae.stage_costs import add_stage_costs, write_stage_costs

#: The first day of every window: a Monday, so 7-day windows are ISO weeks.
ANCHOR = date(1970, 1, 5)
#: Columns of a batch record.
RECORD_COLUMNS = ("site", "date")


def window_label(day: str, days_per_job: int) -> str:
    """``<first>_<last>``: the window of ``days_per_job`` days that holds ``day`` (``YYYY-MM-DD``).

    Parameters
    ----------
    day : str
        ISO date of a partition.
    days_per_job : int
        Window length in days (at least 1).

    Raises
    ------
    ValueError
        For a date that is not ``YYYY-MM-DD`` or a window shorter than a day.
    """
    if days_per_job < 1:
        raise ValueError(f"days_per_job must be at least 1, not {days_per_job}")
    moment = date.fromisoformat(day)
    first = moment - timedelta(days=(moment - ANCHOR).days % days_per_job)
    last = first + timedelta(days=days_per_job - 1)
    return f"{first.isoformat()}_{last.isoformat()}"


def window_days(label: str) -> tuple[str, str]:
    """First and last ISO day of a window label ``<first>_<last>``.

    Raises
    ------
    ValueError
        When ``label`` is not two ISO dates joined by ``_``.
    """
    first, separator, last = label.partition("_")
    if not separator:
        raise ValueError(f"{label!r} is not a batch window (expected <first>_<last>, e.g. 2024-05-06_2024-05-12)")
    for day in (first, last):
        date.fromisoformat(day)
    return first, last


def group_batches(partitions: Iterable[tuple[str, str]], days_per_job: int) -> dict[tuple[str, str], list[str]]:
    """Batches of partitions: ``(site, window label) -> sorted dates``, in sorted order.

    Parameters
    ----------
    partitions : iterable of (str, str)
        ``(site, date)`` of every partition.
    days_per_job : int
        Window length in days.
    """
    batches: dict[tuple[str, str], list[str]] = defaultdict(list)
    for site, day in partitions:
        batches[(site, window_label(day, days_per_job))].append(day)
    return {key: sorted(batches[key]) for key in sorted(batches)}


def write_batch_record(partitions: Iterable[tuple[str, str]], path: str | Path) -> Path:
    """Write the record of a finished batch job (``site<TAB>date`` lines), atomically.

    Written last, after every store file of the batch, so that it exists only when
    the whole batch is done.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "w", newline="") as handle:
            writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
            writer.writerow(RECORD_COLUMNS)
            writer.writerows(partitions)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path



def read_batch_record(path: str | Path) -> list[tuple[str, str]]:
    """``(site, date)`` of every partition a batch job wrote, from its record."""
    with open(path, newline="") as handle:
        return [(row["site"], row["date"]) for row in csv.DictReader(handle, delimiter="\t")]


def segment_files(segments: list[str], segment_batch: str | None, results: str) -> list[str]:
    """The segment store files a job reads: given one by one, or those of a segment batch record.

    Parameters
    ----------
    segments : list of str
        Segment store files named on the command line (may be empty).
    segment_batch : str or None
        Record of a segmentation batch job (``batches/segment/site=…/days=….tsv``): its
        partitions' files in the layout of ``results``.
    results : str
        The results folder.

    Raises
    ------
    ValueError
        When both or neither are given.
    """
    if bool(segments) == bool(segment_batch):
        raise ValueError("give segment store files or --segment-batch, not both and not neither")
    if segments:
        return list(segments)
    layout = Layout(results)
    return [layout.segments(site, date) for site, date in read_batch_record(segment_batch)]


def serve_batch(
    segment_paths: list[str],
    work: Callable[[str, tuple[str, str]], Mapping[str, float]],
    costs_path: str | None = None,
    record_path: str | None = None,
) -> None:
    """Run ``work(segment file, (site, date))`` on each partition in turn, then write the batch's costs and record.

    Parameters
    ----------
    segment_paths : list of str
        The batch's segment store files (:func:`segment_files`).
    work : callable
        Computes and writes one partition's outputs; returns its CPU seconds per stage.
    costs_path : str, optional
        Where to write the stage costs summed over the partitions (:mod:`ecoae.stage_costs`).
    record_path : str, optional
        Where to write the batch record, last (:func:`write_batch_record`).
    """
    partitions = [partition_of(path) for path in segment_paths]
    costs: dict[str, float] = {}
    for path, partition in zip(segment_paths, partitions):
        costs = add_stage_costs(costs, work(path, partition))
    if costs_path:
        write_stage_costs(costs, costs_path)
    if record_path:
        write_batch_record(partitions, record_path)
