"""Partitioned Parquet stores: the key columns, atomic writes, and reading partitions back.

Every store under ``results/`` is laid out as ``<store>/site=<site>/date=<YYYY-MM-DD>/part-0.parquet``
(:mod:`ecoae.layout`). Following the hive convention, ``site`` and ``date`` live in the
folder names only: :func:`write_partition` drops them from the table and
:func:`read_partition` adds them back from the path, so pandas, dask, pyarrow, duckdb and
polars all read a store folder directly and agree on those columns. Files are written to a
temporary name in the same folder and renamed into place, so a reader never sees a
half-written file under its final name.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ecoae.layout import partition_of

#: The key of every row of every store: one segment of one recording.
SEGMENT_KEY = ["recording_id", "segment_index"]
#: Partition keys: in the folder names, never in the files.
PARTITION_KEYS = ["site", "date"]


def write_parquet_atomic(table: pd.DataFrame | pa.Table, path: str | Path) -> Path:
    """Write a table to ``path`` atomically.

    Parameters
    ----------
    table : DataFrame or pyarrow.Table
        What to write; a DataFrame's index is dropped.
    path : str or Path
        Final file name; parent folders are created.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(table, pd.DataFrame):
        table = pa.Table.from_pandas(table, preserve_index=False)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        pq.write_table(table, temporary)
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def write_partition(table: pd.DataFrame | pa.Table, path: str | Path) -> Path:
    """Write one store partition atomically, without the partition-key columns.

    ``site`` and ``date`` are dropped when present: they are in the path.
    """
    if isinstance(table, pd.DataFrame):
        table = pa.Table.from_pandas(table.drop(columns=PARTITION_KEYS, errors="ignore"), preserve_index=False)
    else:
        table = table.drop_columns([name for name in PARTITION_KEYS if name in table.column_names])
    return write_parquet_atomic(table, path)


def read_partition(path: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """Read one store partition file, with ``site`` and ``date`` taken from its path.

    Parameters
    ----------
    path : str or Path
        ``…/site=<site>/date=<date>/part-0.parquet``.
    columns : list of str, optional
        File columns to read (default all); ``site`` and ``date`` are always added.
    """
    site, date = partition_of(path)
    frame = pq.read_table(path, columns=columns, partitioning=None).to_pandas()
    frame.insert(0, "date", date)
    frame.insert(0, "site", site)
    return frame


def read_parquet(path: str | Path) -> pd.DataFrame:
    """Read one Parquet file (not a store partition) into pandas, columns as stored."""
    return pq.read_table(path, partitioning=None).to_pandas()
