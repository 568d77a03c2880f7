"""Cut recordings into fixed windows (segments), the rows of every feature store.

Policy
------
A recording of ``d`` seconds gives ``floor(d / segment_seconds)`` full windows.
What is left over (and a recording shorter than one window, which is all
left-over) becomes one more, shorter segment when ``partial == "keep"`` and it is
at least ``min_segment_seconds`` long; ``partial == "drop"`` keeps full windows
only. Each segment keeps its true duration, so a 10 s recording under 60 s
windows is one 10 s segment, never padded.
"""

from __future__ import annotations

import math

import pandas as pd

from ecoae.store import SEGMENT_KEY

#: Columns of a segment-store partition in memory: the segment key, the partition keys
#: (in the folder names on disk, see :mod:`ecoae.store`), then time and where the audio is.
SEGMENT_COLUMNS = SEGMENT_KEY + ["start_time", "duration", "site", "date", "local_start", "timezone", "path", "offset"]

PARTIAL_POLICIES = ("keep", "drop")


def segment_bounds(
    duration: float, segment_seconds: float, min_segment_seconds: float, partial: str = "keep"
) -> list[tuple[float, float]]:
    """Return ``(offset, length)`` in seconds of each segment of one recording.

    Parameters
    ----------
    duration : float
        Recording duration in seconds.
    segment_seconds : float
        Window length.
    min_segment_seconds : float
        Shortest partial segment kept.
    partial : {"keep", "drop"}
        What to do with the last window when it is shorter than ``segment_seconds``.

    Returns
    -------
    list of (float, float)
    """
    if partial not in PARTIAL_POLICIES:
        raise ValueError(f"partial must be one of {PARTIAL_POLICIES}, not {partial!r}")
    # Tolerate float noise so that 120.0000001 s gives 2 windows, not 2 + a sliver.
    full = int(math.floor(duration / segment_seconds + 1e-9))
    bounds = [(i * segment_seconds, float(segment_seconds)) for i in range(full)]
    rest = duration - full * segment_seconds
    if partial == "keep" and rest >= min_segment_seconds - 1e-9 and rest > 1e-9:
        bounds.append((full * segment_seconds, float(rest)))
    return bounds


def segment_recordings(
    recordings: pd.DataFrame,
    segment_seconds: float = 60.0,
    min_segment_seconds: float = 1.0,
    partial: str = "keep",
) -> pd.DataFrame:
    """Cut every recording of an inventory table into segments.

    Parameters
    ----------
    recordings : DataFrame
        Rows of ``recordings.parquet`` (``recording_id``, ``path``, ``site``,
        ``date``, ``start_time``, ``local_start``, ``timezone``, ``duration``).
    segment_seconds, min_segment_seconds, partial
        See :func:`segment_bounds`.

    Returns
    -------
    DataFrame
        One row per segment with :data:`SEGMENT_COLUMNS`, sorted by start time.
    """
    rows = []
    for rec in recordings.itertuples(index=False):
        for index, (offset, length) in enumerate(
            segment_bounds(rec.duration, segment_seconds, min_segment_seconds, partial)
        ):
            shift = pd.Timedelta(seconds=offset)
            rows.append(
                (rec.recording_id, index, rec.start_time + shift, length, rec.site,
                 rec.date, rec.local_start + shift, rec.timezone, rec.path, offset)
            )
    frame = pd.DataFrame(rows, columns=SEGMENT_COLUMNS)
    frame["segment_index"] = frame["segment_index"].astype("int32")
    frame["start_time"] = pd.to_datetime(frame["start_time"], utc=True)
    frame["local_start"] = pd.to_datetime(frame["local_start"])
    frame[["duration", "offset"]] = frame[["duration", "offset"]].astype("float64")
    return frame.sort_values(["start_time", "recording_id", "segment_index"], kind="stable").reset_index(drop=True)
