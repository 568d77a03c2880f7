"""Read the segment store and the feature stores lazily, joined on the segment key.

Every store has one Parquet file per partition (``site=<site>/date=<date>/part-0.parquet``,
see :mod:`ecoae.layout`); ``site`` and ``date`` come from the folder names.
The joined table is a dask DataFrame with one dask partition per store
partition: a task reads the segment partition and the same partition of every
feature set, checks and joins them on the segment key, and adds the label
columns. Nothing is read until a computation asks for it, and each task holds
one partition, so memory stays bounded however large the archive.

Feature columns are renamed ``<set>::<column>`` so sets never collide. The same
reader serves users through :func:`ecoae.open_features`.
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

from ecoae.layout import list_partitions, partition_file
from ecoae.store import PARTITION_KEYS, SEGMENT_KEY, read_partition

JOIN_KEY = SEGMENT_KEY
SET_SEPARATOR = "::"

Partition = tuple[str, str]


def feature_columns(path: str | Path, flags: bool = False) -> list[str]:
    """Return the feature columns of a store file: numeric and not the key.

    ``qc_*`` flag columns are included only with ``flags=True``.
    """
    schema = pq.read_schema(path)
    return [
        field.name
        for field in schema
        if field.name not in JOIN_KEY + PARTITION_KEYS
        and (
            (flags and field.name.startswith("qc_"))
            or (
                not field.name.startswith("qc_")
                and (pa.types.is_floating(field.type) or pa.types.is_integer(field.type))
            )
        )
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
        When a feature file holds keys the segment store lacks, or repeats a key.
        Segments absent from a feature file (listed as problems) are left out of the join.
    """
    seg_path = partition_file(segments_dir, partition)
    frame = read_partition(seg_path)
    segment_keys = pd.MultiIndex.from_frame(frame[JOIN_KEY])
    for name, store_dir in feature_dirs.items():
        path = partition_file(store_dir, partition)
        if not path.exists():
            raise FileNotFoundError(
                f"feature set {name!r} has no file for partition {partition}: {path} is missing; "
                "run the workflow so every set covers every partition"
            )
        features = pq.read_table(path, columns=JOIN_KEY + columns[name], partitioning=None).to_pandas()
        features = features.rename(columns={c: f"{name}{SET_SEPARATOR}{c}" for c in columns[name]})
        if features.duplicated(JOIN_KEY).any():
            raise ValueError(f"{path}: segment keys repeat; re-run that set's rule for this partition")
        # Segments a stage could not read are absent from its store (results/problems lists
        # them), so the join keeps the segments every set has.
        if not pd.MultiIndex.from_frame(features[JOIN_KEY]).isin(segment_keys).all():
            raise ValueError(f"{path} holds segments that are not in the segment store {seg_path}; "
                             "re-run that set's rule for this partition")
        frame = frame.merge(features, on=JOIN_KEY, how="inner", validate="one_to_one")
    if add_labels is not None:
        frame = add_labels(frame)
    return frame


def open_stores(
    segments_dir: str | Path,
    feature_dirs: dict[str, str | Path],
    add_labels: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
    partition_list: str | Path | None = None,
    flags: bool = False,
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
    partition_list : str or Path, optional
        The inventory's ``partitions.tsv`` (see :func:`list_partitions`).
    flags : bool
        Also read each set's ``qc_*`` flag columns.

    Returns
    -------
    JoinedStores
    """
    feature_dirs = {name: Path(path) for name, path in feature_dirs.items()}
    partitions = list_partitions(segments_dir, partition_list)
    if not partitions:
        raise FileNotFoundError(f"no segment partitions under {segments_dir}; run the segment rule first")
    columns = {}
    for name, store_dir in feature_dirs.items():
        first = partition_file(store_dir, partitions[0])
        if not first.exists():
            raise FileNotFoundError(f"feature set {name!r}: {first} is missing")
        columns[name] = feature_columns(first, flags)
        if not columns[name]:
            raise ValueError(f"feature set {name!r}: {first} has no numeric feature columns")
    meta = read_joined_partition(partitions[0], segments_dir, feature_dirs, columns, add_labels).iloc[:0]
    reader = functools.partial(read_joined_partition, segments_dir=segments_dir, feature_dirs=feature_dirs,
                               columns=columns, add_labels=add_labels)
    frame = dd.from_map(reader, partitions, meta=meta, enforce_metadata=False)
    joined = {name: [f"{name}{SET_SEPARATOR}{c}" for c in cols] for name, cols in columns.items()}
    return JoinedStores(frame=frame, partitions=partitions, feature_sets=joined)


def read_segment_metadata(
    segments_dir: str | Path, columns: list[str], partition_list: str | Path | None = None
) -> pd.DataFrame:
    """Read a few columns of the whole segment store (``site`` and ``date`` always included)."""
    file_columns = [c for c in columns if c not in PARTITION_KEYS]
    frames = [
        read_partition(partition_file(segments_dir, p), file_columns)
        for p in list_partitions(segments_dir, partition_list)
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=PARTITION_KEYS + file_columns)
