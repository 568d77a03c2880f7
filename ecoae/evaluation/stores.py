"""Read the segment store and the feature stores lazily, joined on the segment key.

Every store has one Parquet file per partition (``site=<site>/date=<date>/part-0.parquet``).
The joined table is a dask DataFrame with one dask partition per store
partition: a task reads the segment partition and the same partition of every
feature set, checks and joins them on the segment key, and adds the label
columns. Nothing is read until a computation asks for it, and each task holds
one partition, so memory stays bounded however large the archive.

Feature columns are renamed ``<set>::<column>`` so sets never collide.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import dask.dataframe as dd
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ecoae.archive.segments import KEY_COLUMNS
from ecoae.store import PART_FILE, partition_path

#: Segment-store columns the evaluation needs besides the key.
SEGMENT_EXTRA = ["date", "local_start", "path", "offset"]
JOIN_KEY = ["recording_id", "segment_index"]
SET_SEPARATOR = "::"

Partition = tuple[str, str]


def list_partitions(store_dir: str | Path) -> list[Partition]:
    """Return the sorted ``(site, date)`` of every partition file under ``store_dir``."""
    found = []
    for path in Path(store_dir).glob(f"site=*/date=*/{PART_FILE}"):
        site = path.parent.parent.name.removeprefix("site=")
        date = path.parent.name.removeprefix("date=")
        found.append((site, date))
    return sorted(found)


def partition_file(store_dir: str | Path, partition: Partition) -> Path:
    """Return the Parquet file of ``partition`` in ``store_dir``."""
    return Path(store_dir) / partition_path(*partition) / PART_FILE


def feature_columns(path: str | Path) -> list[str]:
    """Return the feature columns of a store file: numeric, not key, not ``qc_*``."""
    schema = pq.read_schema(path)
    return [
        field.name
        for field in schema
        if field.name not in KEY_COLUMNS
        and field.name != "date"
        and not field.name.startswith("qc_")
        and (pa.types.is_floating(field.type) or pa.types.is_integer(field.type))
    ]


@dataclass
class JoinedStores:
    """The lazily joined stores.

    Attributes
    ----------
    frame : dask.dataframe.DataFrame
        Segment key + :data:`SEGMENT_EXTRA` + label columns + ``<set>::<feature>`` columns.
    partitions : list of (site, date)
    feature_sets : dict of str to list of str
        Set name -> its columns in ``frame``.
    """

    frame: dd.DataFrame
    partitions: list[Partition]
    feature_sets: dict[str, list[str]]


def read_joined_partition(
    partition: Partition,
    segments_dir: str | Path,
    feature_dirs: dict[str, Path],
    columns: dict[str, list[str]],
    add_labels: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """Read one partition of the segment store and of every feature set, joined.

    Raises
    ------
    FileNotFoundError
        When a feature set lacks the partition.
    ValueError
        When a feature file's keys differ from the segment store's.
    """
    seg_path = partition_file(segments_dir, partition)
    frame = pq.read_table(seg_path, columns=KEY_COLUMNS + SEGMENT_EXTRA, partitioning=None).to_pandas()
    for name, store_dir in feature_dirs.items():
        path = partition_file(store_dir, partition)
        if not path.exists():
            raise FileNotFoundError(
                f"feature set {name!r} has no file for partition {partition}: {path} is missing; "
                "run the workflow so every set covers every partition"
            )
        features = pq.read_table(path, columns=JOIN_KEY + columns[name], partitioning=None).to_pandas()
        features = features.rename(columns={c: f"{name}{SET_SEPARATOR}{c}" for c in columns[name]})
        if len(features) != len(frame) or features.duplicated(JOIN_KEY).any():
            raise ValueError(
                f"{path} has {len(features)} rows but the segment store {seg_path} has {len(frame)} "
                "(or its keys repeat); re-run that set's rule for this partition"
            )
        joined = frame.merge(features, on=JOIN_KEY, how="left", validate="one_to_one", indicator=True)
        if (joined["_merge"] != "both").any():
            raise ValueError(f"{path}: segment keys differ from {seg_path}; re-run that set's rule for this partition")
        frame = joined.drop(columns="_merge")
    if add_labels is not None:
        frame = add_labels(frame)
    return frame


def open_stores(
    segments_dir: str | Path,
    feature_dirs: dict[str, str | Path],
    add_labels: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
) -> JoinedStores:
    """Open the segment store and the feature stores as one lazy dask DataFrame.

    Parameters
    ----------
    segments_dir : str or Path
        Segment store folder (``results/segments``).
    feature_dirs : dict of str to path
        Feature set name -> store folder (``results/features/<set>``).
    add_labels : callable, optional
        Applied to each joined partition (pandas) to add ``label:*`` columns.

    Returns
    -------
    JoinedStores
    """
    feature_dirs = {name: Path(path) for name, path in feature_dirs.items()}
    partitions = list_partitions(segments_dir)
    if not partitions:
        raise FileNotFoundError(f"no segment partitions under {segments_dir}; run the segment rule first")
    columns = {}
    for name, store_dir in feature_dirs.items():
        first = partition_file(store_dir, partitions[0])
        if not first.exists():
            raise FileNotFoundError(f"feature set {name!r}: {first} is missing")
        columns[name] = feature_columns(first)
        if not columns[name]:
            raise ValueError(f"feature set {name!r}: {first} has no numeric feature columns")
    meta = read_joined_partition(partitions[0], segments_dir, feature_dirs, columns, add_labels).iloc[:0]
    reader = functools.partial(read_joined_partition, segments_dir=segments_dir, feature_dirs=feature_dirs,
                               columns=columns, add_labels=add_labels)
    frame = dd.from_map(reader, partitions, meta=meta, enforce_metadata=False)
    joined = {name: [f"{name}{SET_SEPARATOR}{c}" for c in cols] for name, cols in columns.items()}
    return JoinedStores(frame=frame, partitions=partitions, feature_sets=joined)


def read_segment_metadata(segments_dir: str | Path, columns: list[str]) -> pd.DataFrame:
    """Read a few columns of the whole segment store (e.g. recording ids and paths)."""
    frames = [
        pq.read_table(partition_file(segments_dir, p), columns=columns, partitioning=None).to_pandas()
        for p in list_partitions(segments_dir)
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
