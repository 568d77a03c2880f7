"""Partitioned Parquet stores: layout and atomic writes.

Every store under ``results/`` shares one layout, ``<store>/site=<site>/date=<YYYY-MM-DD>/part-0.parquet``,
which dask and pyarrow read as a hive-partitioned dataset. Files are written to a
temporary name in the same folder and renamed into place, so a reader never sees
a half-written file under its final name.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

PART_FILE = "part-0.parquet"


def partition_path(site: str, date: str) -> str:
    """Return the hive-style relative folder of a partition, ``site=<site>/date=<date>``."""
    return f"site={site}/date={date}"


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


def read_parquet(path: str | Path) -> pd.DataFrame:
    """Read one Parquet file into pandas (no hive partition columns are added)."""
    return pq.read_table(path, partitioning=None).to_pandas()
