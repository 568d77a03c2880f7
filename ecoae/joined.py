"""Every feature set of a results folder as one table, joined on the segment key."""

from __future__ import annotations

from pathlib import Path

from ecoae.layout import Layout


def available_sets(results: str | Path) -> list[str]:
    """Names of the feature sets with a store under ``results/features``."""
    root = Path(Layout(str(results)).features_dir)
    return sorted(path.name for path in root.iterdir() if path.is_dir()) if root.is_dir() else []


def open_features(results: str | Path = "results", sets: list[str] | None = None, flags: bool = True):
    """Open the segment store and feature stores as one lazy dask DataFrame.

    One row per segment: ``site``, ``date`` and the segment store's columns
    (``recording_id``, ``segment_index``, ``start_time``, ``duration``, ``local_start``,
    ``timezone``, ``path``, ``offset``), then each set's columns named
    ``<set>::<column>`` (``indices::ACI``, ``mfcc::mfcc00_mean``, ``ae-explicit384::ae_0000``),
    so no column repeats. Nothing is read until you compute; each dask partition is one
    (site, date) partition of the stores.

    Parameters
    ----------
    results : str or Path
        The workflow's results folder.
    sets : list of str, optional
        Feature sets to join (default: every set under ``results/features``).
    flags : bool
        Include each set's ``qc_*`` quality flags.

    Returns
    -------
    dask.dataframe.DataFrame
        Call ``.compute()`` for pandas.

    Examples
    --------
    >>> frame = open_features("results", sets=["indices", "mfcc"]).compute()  # doctest: +SKIP
    """
    from ecoae.evaluation.stores import open_stores

    layout = Layout(str(results))
    names = list(sets) if sets is not None else available_sets(results)
    partition_list = Path(layout.partitions)
    joined = open_stores(
        layout.store_dir("segments"),
        {name: layout.store_dir(name) for name in names},
        partition_list=partition_list if partition_list.exists() else None,
        flags=flags,
    )
    return joined.frame
