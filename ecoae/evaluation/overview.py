"""The archive at a glance: recordings per site and day, hours of audio, quarantine, time sources.

Read from the inventory's tables (``recordings.parquet`` and ``quarantine.parquet``
under :attr:`ecoae.layout.Layout.inventory_dir`). Every column is optional: a table
that lacks one (an older inventory, a hand-made table) still gives whatever the
other columns allow, and a missing table is stated rather than fatal.

A recording's start time comes from its file name (``filename:<pattern>``), from
metadata embedded in the file (``guano``, ``audiomoth_comment``, ...) or, when
neither has one and ``inventory.missing_time`` allows it, from the file's
modification time (``file_mtime``), which copying a card can change. Files set
aside are grouped by kind of reason; so are recordings kept although their start
time had a problem (the inventory's ``time_note``, when its table has one), and
segments that a stage could not read later (``results/problems``, beside the inventory).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from ecoae.layout import Layout

FILE_NAME = "file name"
METADATA = "metadata"
MTIME = "file mtime"
UNKNOWN = "unknown"
#: Time-source kinds, in the order of the site table's columns.
TIME_SOURCES = (FILE_NAME, METADATA, MTIME)
UNKNOWN_SITE = "(no site)"


@dataclass
class Archive:
    """The inventory's tables, as read for the report.

    Attributes
    ----------
    recordings, quarantine : DataFrame or None
        As written by :func:`ecoae.archive.inventory.write_inventory`; None when the
        table is missing or could not be read.
    problems : DataFrame or None
        Segments left out by a stage (:func:`ecoae.problems.read_problems`).
    notes : list of str
        Why a table is missing or could not be read.
    """

    recordings: pd.DataFrame | None = None
    quarantine: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)
    problems: pd.DataFrame | None = None


def _read(path: Path, notes: list[str]) -> pd.DataFrame | None:
    if not path.exists():
        notes.append(f"no inventory table {path}")
        return None
    try:
        return pd.read_parquet(path)
    except (OSError, pa.ArrowException) as error:
        notes.append(f"could not read {path}: {error}")
        return None


def read_archive(inventory_dir: str | Path) -> Archive:
    """Read the recordings and quarantine tables of an inventory folder, and the problem tables beside it."""
    from ecoae.problems import read_problems

    notes: list[str] = []
    folder = Path(inventory_dir)
    problems_dir = Layout(str(folder.parent)).problems_dir
    try:
        problems = read_problems(problems_dir)
    except (OSError, pa.ArrowException) as error:
        notes.append(f"could not read the problem tables under {problems_dir}: {error}")
        problems = None
    return Archive(_read(folder / "recordings.parquet", notes), _read(folder / "quarantine.parquet", notes), notes,
                   problems)


def time_source_kind(source) -> str:
    """:data:`FILE_NAME`, :data:`METADATA`, :data:`MTIME` or :data:`UNKNOWN` for an inventory ``time_source``."""
    if source is None or pd.isna(source) or not str(source):
        return UNKNOWN
    source = str(source)
    if source.startswith("filename"):
        return FILE_NAME
    return MTIME if source == "file_mtime" else METADATA


def _normalised(recordings: pd.DataFrame) -> pd.DataFrame:
    """site, date (local, ``YYYY-MM-DD``), hours (NaN when unknown) and time kind of each recording.

    ``site`` is the real folder name (``site_name``) where the inventory kept one, with
    the partition key beside it when the two differ (a name made safe for paths).
    """
    frame = pd.DataFrame(index=recordings.index)
    frame["site"] = recordings["site"].astype("string").fillna(UNKNOWN_SITE) if "site" in recordings else UNKNOWN_SITE
    if "site_name" in recordings:
        names = recordings["site_name"].astype("string").fillna(frame["site"])
        frame["site"] = names.where(names == frame["site"], names + " (key " + frame["site"] + ")")
    if "date" in recordings:
        dates = pd.to_datetime(recordings["date"], errors="coerce")
    elif "local_start" in recordings:
        dates = pd.to_datetime(recordings["local_start"], errors="coerce")
    else:
        dates = pd.Series(pd.NaT, index=recordings.index)
    frame["date"] = dates.dt.normalize()
    frame["hours"] = (pd.to_numeric(recordings["duration"], errors="coerce") / 3600.0
                      if "duration" in recordings else float("nan"))
    sources = recordings["time_source"] if "time_source" in recordings else pd.Series(None, index=recordings.index)
    frame["time"] = sources.map(time_source_kind)
    return frame


def site_table(recordings: pd.DataFrame) -> pd.DataFrame:
    """One row per site: recordings, hours of audio, days, first and last day, days without audio, time sources.

    Returns
    -------
    DataFrame
        Columns site, recordings, hours (NaN without durations), days, first, last,
        days without recordings (between first and last), then one count column per
        time-source kind (:data:`TIME_SOURCES`, plus ``unknown`` when any).
    """
    frame = _normalised(recordings)
    kinds = list(TIME_SOURCES) + ([UNKNOWN] if (frame["time"] == UNKNOWN).any() else [])
    rows = []
    for site, rows_of_site in frame.groupby("site", sort=True):
        dates = rows_of_site["date"].dropna()
        span = (dates.max() - dates.min()).days + 1 if len(dates) else 0
        row = {"site": site, "recordings": len(rows_of_site), "hours": rows_of_site["hours"].sum(min_count=1),
               "days": dates.nunique(), "first": dates.min().date().isoformat() if len(dates) else "",
               "last": dates.max().date().isoformat() if len(dates) else "",
               "days without recordings": span - dates.nunique()}
        counts = rows_of_site["time"].value_counts()
        row.update({f"time: {kind}": int(counts.get(kind, 0)) for kind in kinds})
        rows.append(row)
    columns = ["site", "recordings", "hours", "days", "first", "last", "days without recordings"]
    return pd.DataFrame(rows, columns=columns + [f"time: {kind}" for kind in kinds])


def calendar(recordings: pd.DataFrame, max_gap: int = 7) -> tuple[pd.DataFrame, str]:
    """Sites x every day from the first to the last recording.

    Parameters
    ----------
    recordings : DataFrame
    max_gap : int
        A run of more than ``max_gap`` days without audio at any site becomes one
        column, ``"… <n> days without audio …"``, so that a sparse archive keeps its
        recorded days readable.

    Returns
    -------
    (DataFrame, str)
        Hours of audio per site (rows) and day (columns, ``YYYY-MM-DD``; 0 on days
        without recordings) and the unit ``"hours"``, or recording counts and
        ``"recordings"`` when the table has no durations. Empty without dates.
    """
    frame = _normalised(recordings).dropna(subset=["date"])
    if frame.empty:
        return pd.DataFrame(), "recordings"
    unit = "hours" if frame["hours"].notna().any() else "recordings"
    values = frame.groupby(["site", "date"])["hours"].sum() if unit == "hours" else frame.groupby(["site", "date"]).size()
    days = pd.date_range(frame["date"].min(), frame["date"].max(), freq="D")
    table = values.unstack("date").reindex(columns=days).fillna(0.0)
    table.columns = [day.date().isoformat() for day in table.columns]
    return _collapse_gaps(table, max_gap).sort_index(), unit


def _collapse_gaps(table: pd.DataFrame, max_gap: int) -> pd.DataFrame:
    empty = (table == 0).all(axis=0).to_numpy()
    run_id = np.cumsum(np.r_[True, empty[1:] != empty[:-1]])
    pieces = []
    for run in np.unique(run_id):
        columns = table.loc[:, run_id == run]
        if empty[run_id == run][0] and columns.shape[1] > max_gap:
            columns = pd.DataFrame({f"… {columns.shape[1]} days without audio …": 0.0}, index=table.index)
        pieces.append(columns)
    return pd.concat(pieces, axis=1)


def reason_kind(reason) -> str:
    """The general part of a reason (quarantine, time note): the text before its first ``:``, ``(`` or ``;``."""
    text = "" if reason is None or pd.isna(reason) else str(reason)
    for mark in (":", "(", ";"):
        text = text.split(mark, 1)[0]
    return text.strip() or "(no reason given)"


def quarantine_table(quarantine: pd.DataFrame, max_sites: int = 5) -> pd.DataFrame:
    """Quarantined files grouped by kind of reason.

    Returns
    -------
    DataFrame
        Columns reason, files, sites (up to ``max_sites`` named), example (a path)
        and detail (that file's full reason), most files first.
    """
    return _by_reason(quarantine, "reason", "files", max_sites)


def time_problem_table(recordings: pd.DataFrame, max_sites: int = 5) -> pd.DataFrame:
    """Recordings kept although their start time had a problem (the inventory's ``time_note``), by kind.

    Returns
    -------
    DataFrame
        Columns reason, recordings, sites, example, detail; empty when the table
        has no ``time_note`` column or no note.
    """
    if "time_note" not in recordings:
        return _by_reason(pd.DataFrame(), "time_note", "recordings", max_sites)
    noted = recordings[recordings["time_note"].fillna("").astype(str) != ""]
    return _by_reason(noted, "time_note", "recordings", max_sites)


def problem_segment_table(problems: pd.DataFrame, max_sites: int = 5) -> pd.DataFrame:
    """Segments left out by a stage, grouped by kind of reason (one row per segment, whatever the stage).

    Returns
    -------
    DataFrame
        Columns reason, segments, sites, example (a path), detail.
    """
    if problems is None or problems.empty:
        return _by_reason(pd.DataFrame(), "reason", "segments", max_sites)
    unique = problems.drop_duplicates(["recording_id", "segment_index"])
    return _by_reason(unique, "reason", "segments", max_sites)


def _by_reason(table: pd.DataFrame, reason: str, counted: str, max_sites: int) -> pd.DataFrame:
    columns = ["reason", counted, "sites", "example", "detail"]
    if table.empty:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame({
        "reason": table[reason] if reason in table else None,
        "site": table["site"].astype("string").fillna(UNKNOWN_SITE) if "site" in table else UNKNOWN_SITE,
        "path": table["path"].astype("string").fillna("") if "path" in table else "",
    }, index=table.index)
    frame["kind"] = frame["reason"].map(reason_kind)
    rows = []
    for kind, group in frame.groupby("kind", sort=True):
        sites = sorted(set(group["site"]))
        named = ", ".join(sites[:max_sites]) + (f" and {len(sites) - max_sites} more" if len(sites) > max_sites else "")
        first = group.iloc[0]
        rows.append({"reason": kind, counted: len(group), "sites": named, "example": first["path"],
                     "detail": "" if pd.isna(first["reason"]) else str(first["reason"])})
    return pd.DataFrame(rows, columns=columns).sort_values([counted, "reason"], ascending=[False, True],
                                                            ignore_index=True)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def overview_sentences(archive: Archive) -> list[str]:
    """Totals of the archive (recordings, hours, sites, days, quarantined files) and time-source cautions."""
    if archive.recordings is None and archive.quarantine is None:
        return ["No inventory table could be read, so there is no overview of the archive."]
    frame = _normalised(archive.recordings if archive.recordings is not None else pd.DataFrame())
    left_out = int(problem_segment_table(archive.problems)["segments"].sum())
    dates = frame["date"].dropna()
    hours = frame["hours"].sum(min_count=1)
    sentences = [
        _count(len(frame), "recording")
        + (f", {hours:.1f} hours of audio" if pd.notna(hours) else "")
        + f" at {_count(frame['site'].nunique(), 'site')}"
        + (f" on {_count(dates.nunique(), 'day')} ({dates.min().date()} to {dates.max().date()})" if len(dates) else "")
        + (f"; {_count(len(archive.quarantine), 'file')} quarantined" if archive.quarantine is not None
           else "; the quarantine table could not be read")
        + (f"; {_count(left_out, 'segment')} left out because the audio could not be read (listed below)."
           if left_out else ".")
    ]
    kinds = frame["time"].value_counts()
    if len(kinds):
        sentences.append("Start times from " + ", ".join(f"{kind}: {int(n)}" for kind, n in kinds.items()) + ".")
    noted = time_problem_table(archive.recordings) if archive.recordings is not None else pd.DataFrame()
    if len(noted):
        sentences.append(f"{_count(int(noted['recordings'].sum()), 'recording')} kept despite a problem in the start "
                         "time (listed below).")
    if kinds.get(MTIME, 0):
        sentences.append(f"Caution: the start time of {_count(int(kinds[MTIME]), 'recording')} comes from the file's "
                         "modification time, which copying a card can change; check their dates and diel periods.")
    return sentences
