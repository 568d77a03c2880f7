"""Choosing stored segments for ``ecoae render``: by value, file path, site and local time.

Each function narrows a table of image keys (see :func:`image_keys`) and raises
:class:`NoSegment`, naming the choice and the closest matches, when nothing is left.
"""

from __future__ import annotations

import argparse
import difflib
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd


class NoSegment(ValueError):
    """A choice matches no stored image; the message names it and the closest matches."""


def image_keys(files: list[Path]) -> pd.DataFrame:
    """Key columns of every image in ``files`` (not the images), with the file and row of each."""
    import pyarrow.parquet as pq

    from ecoae.features.spectrogram import IMAGE_KEY_COLUMNS
    from ecoae.layout import partition_of

    parts = []
    for number, path in enumerate(files):
        keys = pq.read_table(path, columns=IMAGE_KEY_COLUMNS, partitioning=None).to_pandas()
        try:
            keys["site"], keys["date"] = partition_of(path)
        except ValueError:
            pass  # a file outside a store: its sites come from the segment store
        parts.append(keys.assign(store_file=number, store_row=np.arange(len(keys))))
    return pd.concat(parts, ignore_index=True)


def segment_store_beside(spectrograms: Path) -> Path | None:
    """The segment store of the results folder that holds ``spectrograms`` (a store folder or one of its files)."""
    from ecoae.layout import Layout

    for folder in (spectrograms, *spectrograms.parents):
        if folder.name == "spectrograms":
            return Path(Layout(str(folder.parent)).store_dir("segments"))
    return None


def with_segment_columns(keys: pd.DataFrame, store: Path) -> pd.DataFrame:
    """``keys`` with each segment's file ``path`` and ``local_start`` (and ``site``) from the segment store."""
    from ecoae.store import SEGMENT_KEY, read_partition

    files = [store] if store.is_file() else sorted(store.rglob("part-0.parquet"))
    if not files:
        raise NoSegment(f"no segment store files at {store}; run the segment step, or give --segments")
    segments = pd.concat([read_partition(path, SEGMENT_KEY + ["path", "local_start"]) for path in files],
                         ignore_index=True)
    added = [column for column in ("path", "local_start", "site") if column not in keys.columns]
    return keys.merge(segments[SEGMENT_KEY + added], on=SEGMENT_KEY, how="inner")


def _closest(value: str, known: pd.Series) -> str:
    """The end of an error message: the known values closest to ``value``, else some of them."""
    choices = sorted(set(known.astype(str)))
    close = difflib.get_close_matches(value, choices, n=3, cutoff=0.4)
    if close:
        return f"; closest: {', '.join(close)}"
    shown = ", ".join(choices[:5]) + (", …" if len(choices) > 5 else "")
    return f"; there are {len(choices)}: {shown}" if choices else "; there are none"


def with_value(table: pd.DataFrame, column: str, value: str | int, what: str) -> pd.DataFrame:
    """Rows whose ``column`` equals ``value``; else :class:`NoSegment` naming the closest values."""
    chosen = table[table[column] == value]
    if chosen.empty:
        raise NoSegment(f"no {what} {value!r} among the chosen segments{_closest(str(value), table[column])}")
    return chosen


def _closest_files(path: str, stored: pd.Series) -> str:
    """The end of an error message: the stored files whose names are closest to the name in ``path``."""
    by_name: dict[str, list[str]] = {}
    for value in sorted(set(stored)):
        by_name.setdefault(PurePosixPath(value).name, []).append(value)
    close = difflib.get_close_matches(PurePosixPath(path).name, list(by_name), n=3)
    if not close:
        return _closest(path, stored)
    return "; closest files: " + ", ".join(value for name in close for value in by_name[name])


def with_path(table: pd.DataFrame, path: str) -> pd.DataFrame:
    """Rows of the recording file ``path``: relative to the archive as stored, or an absolute path ending in it."""
    wanted = PurePosixPath(path).as_posix()
    stored = table["path"].astype(str)
    chosen = table[stored == wanted]
    if chosen.empty and PurePosixPath(wanted).is_absolute():
        tails = [value for value in set(stored) if wanted.endswith("/" + value)]
        if tails:
            chosen = table[stored == max(tails, key=len)]
    if chosen.empty:
        raise NoSegment(f"no recording file {path!r} among the chosen segments (paths are relative to the archive)"
                        f"{_closest_files(wanted, stored)}")
    return chosen


def _times(table: pd.DataFrame, time: pd.Timestamp) -> tuple[pd.Series, pd.Series, pd.Timestamp]:
    """Start and end of each segment, and ``time``, on one clock: local without a zone, else UTC."""
    if time.tzinfo is None:
        starts = pd.to_datetime(table["local_start"])
    else:
        starts, time = pd.to_datetime(table["start_time"], utc=True), time.tz_convert("UTC")
    return starts, starts + pd.to_timedelta(table["duration"], unit="s"), time


def _when(time: pd.Timestamp | None, open_end: str = "") -> str:
    """A time as messages show it: a local one marked as such, one with a zone in ISO form."""
    if time is None:
        return open_end
    return f"{time:%Y-%m-%d %H:%M:%S} local time" if time.tzinfo is None else time.isoformat()


def _nearest(table: pd.DataFrame, time: pd.Timestamp) -> str:
    """The end of an error message: the segments starting just before and just after ``time``."""
    if table.empty:
        return "; there are none"
    starts, _ends, time = _times(table, time)
    earlier, later = starts[starts <= time], starts[starts > time]
    picks = ([("before", earlier.idxmax())] if len(earlier) else []) + ([("after", later.idxmin())] if len(later) else [])
    found = [f"{side}: {table.at[i, 'site']} {_when(starts[i])} ({table.at[i, 'path']} #{table.at[i, 'segment_index']})"
             for side, i in picks]
    return "; nearest " + ", ".join(found)


def between(table: pd.DataFrame, start: pd.Timestamp | None, end: pd.Timestamp | None) -> pd.DataFrame:
    """Segments that overlap ``[start, end)`` (either bound may be open)."""
    keep = pd.Series(True, index=table.index)
    if start is not None:
        _starts, ends, time = _times(table, start)
        keep &= ends > time
    if end is not None:
        starts, _ends, time = _times(table, end)
        keep &= starts < time
    if not keep.any():
        edge = start if start is not None else end
        raise NoSegment(f"no segment between {_when(start, 'the first')} and {_when(end, 'the last')}"
                        f"{_nearest(table, edge)}")
    return table[keep]


def containing(table: pd.DataFrame, time: pd.Timestamp) -> pd.DataFrame:
    """The segments whose ``[start, start + duration)`` holds ``time`` (at most one per recording)."""
    starts, ends, moment = _times(table, time)
    chosen = table[(starts <= moment) & (moment < ends)]
    if chosen.empty:
        raise NoSegment(f"no segment holds {_when(time)}{_nearest(table, time)}")
    return chosen


def choose(keys: pd.DataFrame, args: argparse.Namespace) -> pd.DataFrame:
    """The rows of ``keys`` that the command-line choices select, in stored order.

    Raises
    ------
    NoSegment
        When a choice matches nothing, naming it and the closest matches.
    """
    table = keys
    if args.site is not None:
        table = with_value(table, "site", args.site, "site")
    if args.recording_id is not None:
        table = with_value(table, "recording_id", args.recording_id, "recording id")
    if args.path is not None:
        table = with_path(table, args.path)
    if args.segment_index is not None:
        table = with_value(table, "segment_index", args.segment_index, "segment index")
    if args.start is not None or args.end is not None:
        table = between(table, args.start, args.end)
    if args.at is not None:
        table = containing(table, args.at)
    if args.sample is not None:
        rng = np.random.default_rng(args.seed)
        table = table.iloc[np.sort(rng.choice(len(table), size=min(args.sample, len(table)), replace=False))]
    return table
