"""Longer timescales: features aggregated over fixed windows of local time.

A window (e.g. ``10min``, ``1h``) is aligned on the local wall clock and holds
the segments of one site whose local start falls in it. Each feature becomes
two: its mean and its standard deviation (population, ddof=0; 0 for a window
of one segment) over the window. A window takes, for each task, the label most
of its labelled segments carry (ties: alphabetically first).

The work is done partition by partition: each partition is reduced to sums,
sums of squares and label counts per window (small), and those partials are
added up, so the archive is never held in memory at once.
"""

from __future__ import annotations

import dask
import numpy as np
import pandas as pd

from ecoae.evaluation.labels import LABEL_PREFIX

WINDOW_KEY = ["site", "window_start"]
MEAN_SUFFIX = "::mean"
STD_SUFFIX = "::std"


def window_offset(timescale: str) -> pd.Timedelta:
    """Return the window length of a timescale name such as ``"10min"`` or ``"1h"``.

    Raises
    ------
    ValueError
        When the name is not a fixed pandas duration that divides a day.
    """
    try:
        length = pd.Timedelta(timescale)
    except ValueError as error:
        raise ValueError(f"timescale {timescale!r} is not a duration such as '10min' or '1h'") from error
    if length <= pd.Timedelta(0) or pd.Timedelta(days=1) % length != pd.Timedelta(0):
        raise ValueError(f"timescale {timescale!r} must be a positive duration that divides 24 h")
    return length


def window_partials(
    frame: pd.DataFrame, timescale: str, feature_columns: list[str], label_columns: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reduce one partition to per-window sums and label counts.

    Returns
    -------
    (DataFrame, DataFrame)
        Sums indexed by (site, window_start) with columns ``n``, ``seconds``,
        ``sum:<f>``, ``sq:<f>``; label counts with columns site, window_start,
        task, label, count.
    """
    length = window_offset(timescale)
    window = pd.to_datetime(frame["local_start"]).dt.floor(length)
    values = np.array(frame[feature_columns].to_numpy(dtype=np.float64), copy=True)
    values[~np.isfinite(values)] = np.nan
    present = ~np.isnan(values)
    filled = np.where(present, values, 0.0)
    parts = {"n": np.ones(len(frame)), "seconds": frame["duration"].to_numpy(float)}
    data = pd.DataFrame(parts)
    data = pd.concat(
        [
            data,
            pd.DataFrame(filled, columns=[f"sum:{c}" for c in feature_columns]),
            pd.DataFrame(filled**2, columns=[f"sq:{c}" for c in feature_columns]),
            pd.DataFrame(present.astype(np.float64), columns=[f"cnt:{c}" for c in feature_columns]),
        ],
        axis=1,
    )
    data["site"] = frame["site"].to_numpy()
    data["window_start"] = window.to_numpy()
    sums = data.groupby(WINDOW_KEY, sort=False).sum()
    counts = []
    for column in label_columns:
        labelled = pd.DataFrame(
            {"site": frame["site"].to_numpy(), "window_start": window.to_numpy(), "label": frame[column].to_numpy()}
        ).dropna(subset=["label"])
        if len(labelled):
            tally = labelled.groupby(WINDOW_KEY + ["label"], sort=False).size().rename("count").reset_index()
            tally["task"] = column.removeprefix(LABEL_PREFIX)
            counts.append(tally)
    columns = WINDOW_KEY + ["task", "label", "count"]
    labels = pd.concat(counts, ignore_index=True)[columns] if counts else pd.DataFrame(columns=columns)
    return sums, labels


def combine_partials(
    partials: list[tuple[pd.DataFrame, pd.DataFrame]], feature_columns: list[str], label_columns: list[str]
) -> pd.DataFrame:
    """Add up partials into one row per window: means, standard deviations, labels.

    Returns
    -------
    DataFrame
        Columns site, window_start, date (local, of the window start),
        n_segments, audio_seconds, ``<f>::mean``, ``<f>::std`` for each feature,
        and one ``label:<task>`` column per task (majority label).
    """
    sums = pd.concat([p[0] for p in partials]).groupby(level=[0, 1]).sum()
    count = sums[[f"cnt:{c}" for c in feature_columns]].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sums[[f"sum:{c}" for c in feature_columns]].to_numpy() / count
        variance = sums[[f"sq:{c}" for c in feature_columns]].to_numpy() / count - mean**2
    std = np.sqrt(np.clip(variance, 0.0, None))
    out = pd.concat(
        [
            pd.DataFrame(
                {"n_segments": sums["n"].to_numpy().astype(int), "audio_seconds": sums["seconds"].to_numpy()},
                index=sums.index,
            ),
            pd.DataFrame(mean, columns=[f"{c}{MEAN_SUFFIX}" for c in feature_columns], index=sums.index),
            pd.DataFrame(std, columns=[f"{c}{STD_SUFFIX}" for c in feature_columns], index=sums.index),
        ],
        axis=1,
    ).reset_index()
    out.insert(2, "date", pd.to_datetime(out["window_start"]).dt.strftime("%Y-%m-%d"))
    tallies = pd.concat([p[1] for p in partials], ignore_index=True)
    for column in label_columns:
        task = column.removeprefix(LABEL_PREFIX)
        mine = tallies[tallies["task"] == task]
        if mine.empty:
            out[column] = pd.array([pd.NA] * len(out), dtype="string")
            continue
        majority = (
            mine.groupby(WINDOW_KEY + ["label"], as_index=False)["count"].sum()
            .sort_values(WINDOW_KEY + ["count", "label"], ascending=[True, True, False, True])
            .drop_duplicates(WINDOW_KEY)
        )
        merged = out[WINDOW_KEY].merge(majority[WINDOW_KEY + ["label"]], on=WINDOW_KEY, how="left")
        out[column] = pd.array(merged["label"].to_numpy(), dtype="string")
    return out.sort_values(WINDOW_KEY, kind="stable").reset_index(drop=True)


def aggregate_windows(
    frame, timescale: str, feature_columns: list[str], label_columns: list[str], threads: int = 1
) -> pd.DataFrame:
    """Aggregate a (dask or pandas) segment frame into windows of ``timescale``.

    Parameters
    ----------
    frame : dask.dataframe.DataFrame or pandas.DataFrame
        Joined segment frame (:func:`ecoae.evaluation.stores.open_stores`).
    timescale : str
        Window length, e.g. ``"10min"``, ``"1h"``.
    feature_columns, label_columns : list of str
    threads : int
        Partitions reduced in parallel.

    Returns
    -------
    DataFrame
        See :func:`combine_partials`.
    """
    window_offset(timescale)
    if isinstance(frame, pd.DataFrame):
        partials = [window_partials(frame, timescale, feature_columns, label_columns)]
    else:
        tasks = [
            dask.delayed(window_partials)(part, timescale, feature_columns, label_columns)
            for part in frame.to_delayed()
        ]
        partials = list(dask.compute(*tasks, scheduler="threads", num_workers=threads))
    return combine_partials(partials, feature_columns, label_columns)
