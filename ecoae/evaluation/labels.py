"""Classification tasks: labels from metadata and from user label tables.

Metadata tasks come from the segment store itself: ``site`` (when there are
several sites), ``diel`` (dawn / day / dusk / night from the local start hour,
with configurable hours) and ``date`` (local date, over the sites recorded on
several dates). User tasks come from label tables: a CSV/TSV with columns
``recording`` (recording id or file path), optional ``start`` / ``end`` seconds
within the recording, and ``label``; or an Audacity label file or a Raven
selection table describing one recording.

Every task becomes one column ``label:<task>`` of the segment frame; a segment a
task says nothing about has a missing value there and is left out of that task.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from ecoae.settings import EvaluationSettings

LABEL_PREFIX = "label:"

#: Default diel periods: name -> [first hour, end hour) in local time; wraps past midnight.
DEFAULT_DIEL_PERIODS = EvaluationSettings().canonical()["diel_periods"]

METADATA_TASKS = ("site", "diel", "date")


def label_column(task: str) -> str:
    """Return the name of the column holding ``task``'s labels."""
    return f"{LABEL_PREFIX}{task}"


def diel_lookup(periods: dict[str, list[int]]) -> np.ndarray:
    """Return a 24-entry array mapping each local hour to its diel period name.

    Parameters
    ----------
    periods : dict of str to [int, int]
        Period name -> ``[first hour, end hour)``; a period with end <= start
        wraps past midnight (e.g. night ``[20, 5]``).

    Raises
    ------
    ValueError
        When the periods overlap or leave an hour uncovered.
    """
    table = np.full(24, None, dtype=object)
    for name, (first, end) in periods.items():
        hours = range(first, end) if end > first else list(range(first, 24)) + list(range(0, end))
        for hour in hours:
            if table[hour] is not None:
                raise ValueError(f"diel periods overlap at hour {hour}: {table[hour]!r} and {name!r}")
            table[hour] = name
    missing = [h for h in range(24) if table[h] is None]
    if missing:
        raise ValueError(f"diel periods leave hours {missing} uncovered; fix evaluation.diel_periods")
    return table


def add_metadata_labels(
    segments: pd.DataFrame,
    tasks: list[str],
    diel_periods: dict[str, list[int]] | None = None,
    multi_date_sites: set[str] | None = None,
) -> pd.DataFrame:
    """Add ``label:<task>`` columns for the metadata tasks to a segment frame.

    Parameters
    ----------
    segments : DataFrame
        Needs ``site``, ``date`` and ``local_start``.
    tasks : list of str
        Any of ``"site"``, ``"diel"``, ``"date"``.
    diel_periods : dict, optional
        See :func:`diel_lookup`; default :data:`DEFAULT_DIEL_PERIODS`.
    multi_date_sites : set of str, optional
        Sites recorded on several dates; the ``date`` task labels only their
        segments (a site seen on one day says nothing about telling days apart).
        Default: every site.

    Returns
    -------
    DataFrame
        A copy with the label columns added (string dtype; missing = unlabelled).
    """
    out = segments.copy()
    for task in tasks:
        if task == "site":
            out[label_column(task)] = out["site"].astype("string")
        elif task == "diel":
            lookup = diel_lookup(diel_periods or DEFAULT_DIEL_PERIODS)
            hours = pd.to_datetime(out["local_start"]).dt.hour.to_numpy()
            out[label_column(task)] = pd.array(lookup[hours], dtype="string")
        elif task == "date":
            labels = out["date"].astype("string")
            if multi_date_sites is not None:
                labels = labels.where(out["site"].isin(multi_date_sites))
            out[label_column(task)] = labels
        else:
            raise ValueError(f"unknown metadata task {task!r}; choose from {METADATA_TASKS}")
    return out


@dataclass
class LabelTable:
    """One user label table, normalised.

    Attributes
    ----------
    name : str
        Task name (column ``label:<name>``).
    events : DataFrame
        Columns ``recording`` (str), ``start`` and ``end`` (float seconds, NaN =
        whole recording) and ``label`` (str).
    absent_label : str or None
        Label of segments of a labelled recording that no event overlaps; None
        leaves them out of the task.
    min_overlap_seconds : float
        Overlap an event needs with a segment to label it.
    source : str
        Where the table came from (for messages).
    """

    name: str
    events: pd.DataFrame
    absent_label: str | None = None
    min_overlap_seconds: float = 0.0
    source: str = ""


def read_audacity_labels(path: str | Path) -> pd.DataFrame:
    """Read an Audacity label file (``start<TAB>end<TAB>label`` lines).

    Spectral-selection lines (starting with ``\\``) are skipped.

    Returns
    -------
    DataFrame
        Columns ``start``, ``end``, ``label``.
    """
    rows = []
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if not line.strip() or line.startswith("\\"):
            continue
        parts = line.split("\t")
        if len(parts) < 3:
            raise ValueError(f"{path}:{number}: expected 'start<TAB>end<TAB>label', got {line!r}")
        rows.append((float(parts[0]), float(parts[1]), parts[2].strip()))
    return pd.DataFrame(rows, columns=["start", "end", "label"])


def read_raven_selections(path: str | Path, label_column_name: str | None = None) -> pd.DataFrame:
    """Read a Raven selection table (tab-separated, header with ``Begin Time (s)``).

    Parameters
    ----------
    path : str or Path
        The ``.txt`` selection table.
    label_column_name : str, optional
        Column holding the label; default the first of ``Annotation``, ``Species``,
        ``Label``, ``Class`` present.

    Returns
    -------
    DataFrame
        Columns ``start``, ``end``, ``label`` and, when the table has a
        ``Begin File`` / ``Begin Path`` column, ``recording``.
    """
    table = pd.read_csv(path, sep="\t", dtype=str)
    if "Begin Time (s)" not in table or "End Time (s)" not in table:
        raise ValueError(f"{path}: not a Raven selection table (no 'Begin Time (s)' / 'End Time (s)' columns)")
    if table.columns.duplicated().any():
        table = table.loc[:, ~table.columns.duplicated()]
    if "View" in table:  # Raven repeats each selection once per view; keep one
        spectro = table["View"].str.startswith("Spectrogram")
        if spectro.any():
            table = table[spectro]
    candidates = [label_column_name] if label_column_name else ["Annotation", "Species", "Label", "Class"]
    found = [c for c in candidates if c in table]
    if not found:
        raise ValueError(f"{path}: no label column among {candidates}; set label_column in the label table's config")
    out = pd.DataFrame(
        {
            "start": table["Begin Time (s)"].astype(float),
            "end": table["End Time (s)"].astype(float),
            "label": table[found[0]].str.strip(),
        }
    )
    for column in ("Begin File", "Begin Path"):
        if column in table:
            out["recording"] = table[column].astype(str)
            break
    return out.reset_index(drop=True)


def _sniff_format(path: Path) -> str:
    with open(path, errors="replace") as handle:
        head = handle.readline()
    if "Begin Time (s)" in head:
        return "raven"
    first = head.split("\t")
    if len(first) >= 3 and _is_number(first[0]) and _is_number(first[1]):
        return "audacity"
    return "table"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def load_label_table(spec: dict, base_dir: str | Path = ".") -> LabelTable:
    """Load one label table described by a config entry.

    Parameters
    ----------
    spec : dict
        ``name``, ``path`` (file, or folder of label files), optional ``format``
        (``auto``, ``table``, ``audacity``, ``raven``), ``recording`` (the
        recording an Audacity/Raven file describes; default the label file's stem,
        matched against recording file names), ``label_column``,
        ``absent_label``, ``min_overlap_seconds``.
    base_dir : str or Path
        Folder that a relative ``path`` is relative to.

    Returns
    -------
    LabelTable
    """
    path = Path(spec["path"])
    if not path.is_absolute():
        path = Path(base_dir) / path
    if not path.exists():
        raise FileNotFoundError(f"label table {spec['name']!r}: {path} does not exist; fix evaluation.label_tables")
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in (".txt", ".csv", ".tsv")) if path.is_dir() else [path]
    frames = []
    for file in files:
        kind = spec.get("format", "auto")
        kind = _sniff_format(file) if kind == "auto" else kind
        if kind == "table":
            sep = "," if file.suffix.lower() == ".csv" else None
            frame = pd.read_csv(file, sep=sep, engine="python", dtype={"recording": str, "label": str})
            frame.columns = [str(c).strip().lower() for c in frame.columns]
            if not {"recording", "label"} <= set(frame.columns):
                raise ValueError(f"{file}: a label table needs columns 'recording' and 'label' (optional 'start', 'end'); found {list(frame.columns)}")
        elif kind == "audacity":
            frame = read_audacity_labels(file)
        elif kind == "raven":
            frame = read_raven_selections(file, spec.get("label_column"))
        else:
            raise ValueError(f"label table {spec['name']!r}: unknown format {kind!r} (auto, table, audacity, raven)")
        if "recording" not in frame:
            frame["recording"] = spec.get("recording") or file.stem
        frames.append(frame)
    events = pd.concat(frames, ignore_index=True)
    for column in ("start", "end"):
        events[column] = pd.to_numeric(events[column], errors="coerce") if column in events else np.nan
    events = events.dropna(subset=["label"])
    events["recording"] = events["recording"].astype(str).str.strip()
    events["label"] = events["label"].astype(str).str.strip()
    return LabelTable(
        name=spec["name"],
        events=events[["recording", "start", "end", "label"]].reset_index(drop=True),
        absent_label=spec.get("absent_label"),
        min_overlap_seconds=float(spec.get("min_overlap_seconds", 0.0)),
        source=str(path),
    )


def recording_lookup(segments: pd.DataFrame) -> dict[str, str]:
    """Map every way a user may name a recording to its ``recording_id``.

    Keys: the recording id, the path relative to the archive, the file name and
    the file stem (names shared by several recordings are left out as ambiguous).
    """
    recordings = segments[["recording_id", "path"]].drop_duplicates("recording_id")
    lookup: dict[str, str] = {}
    ambiguous: set[str] = set()
    for rec, path in zip(recordings["recording_id"], recordings["path"]):
        pure = PurePosixPath(str(path).replace("\\", "/"))
        for key in (str(pure), pure.name, pure.stem):
            if key in lookup and lookup[key] != rec:
                ambiguous.add(key)
            lookup.setdefault(key, rec)
    for key in ambiguous:
        del lookup[key]
    for rec in recordings["recording_id"]:
        lookup[str(rec)] = rec
    return lookup


def _normalise_reference(reference: str) -> list[str]:
    pure = PurePosixPath(reference.replace("\\", "/"))
    return [reference, str(pure), pure.name, pure.stem]


def match_recordings(table: LabelTable, lookup: dict[str, str]) -> tuple[pd.DataFrame, list[str]]:
    """Resolve each event's ``recording`` to a ``recording_id`` of the archive.

    Parameters
    ----------
    table : LabelTable
    lookup : dict
        From :func:`recording_lookup` over the whole segment store.

    Returns
    -------
    (DataFrame, list of str)
        The matched events (column ``recording_id`` added) and notes about
        rows that name no recording of the archive.
    """
    events = table.events.copy()
    events["recording_id"] = [
        next((lookup[k] for k in _normalise_reference(ref) if k in lookup), None) for ref in events["recording"]
    ]
    unmatched = events["recording_id"].isna()
    notes = []
    if unmatched.any():
        names = sorted(events.loc[unmatched, "recording"].unique())
        notes.append(
            f"{int(unmatched.sum())} of {len(events)} rows of {table.source} name recordings not in the archive "
            f"(e.g. {', '.join(names[:3])}); they are ignored"
        )
    return events[~unmatched].reset_index(drop=True), notes


def add_table_labels(segments: pd.DataFrame, table: LabelTable, events: pd.DataFrame) -> pd.DataFrame:
    """Label segments from a user label table.

    A segment takes the label of the events overlapping it most (in total, by
    more than ``min_overlap_seconds``); an event without start/end covers its
    whole recording. Segments of a recording that has events but that no event
    overlaps take ``absent_label`` (or stay unlabelled).

    Parameters
    ----------
    segments : DataFrame
        Needs ``recording_id``, ``offset``, ``duration``.
    table : LabelTable
    events : DataFrame
        ``table``'s events matched by :func:`match_recordings`.

    Returns
    -------
    DataFrame
        A copy of ``segments`` with column ``label:<name>`` added.
    """
    out = segments.copy()
    seg = out[["recording_id", "offset", "duration"]].reset_index(drop=True)
    seg["row"] = np.arange(len(seg))
    pairs = seg.merge(events, on="recording_id", how="inner")
    seg_start = pairs["offset"].to_numpy(float)
    seg_end = seg_start + pairs["duration"].to_numpy(float)
    ev_start = pairs["start"].fillna(-np.inf).to_numpy(float)
    ev_end = pairs["end"].fillna(np.inf).to_numpy(float)
    pairs["overlap"] = np.minimum(seg_end, ev_end) - np.maximum(seg_start, ev_start)
    hits = pairs[pairs["overlap"] > table.min_overlap_seconds]
    # The label covering a segment most wins; ties go to the alphabetically first.
    best = (
        hits.groupby(["row", "label"], as_index=False)["overlap"].sum()
        .sort_values(["row", "overlap", "label"], ascending=[True, False, True])
        .drop_duplicates("row")
    )
    labels = np.full(len(seg), None, dtype=object)
    if table.absent_label is not None:
        labels[seg["recording_id"].isin(events["recording_id"]).to_numpy()] = table.absent_label
    labels[best["row"].to_numpy()] = best["label"].astype(str).to_numpy()
    out[label_column(table.name)] = pd.array(labels, dtype="string")
    return out
