"""Lazy reading and joining of the stores (synthetic stores built in tmp_path).

``build_stores`` is also used by the other evaluation tests.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecoae.evaluation import stores
from ecoae.archive.segments import SEGMENT_COLUMNS
from ecoae.layout import partition_folder
from ecoae.store import write_parquet_atomic, write_partition

INDEX_NAMES = ["ACI", "NDSI", "H", "BI"]


def build_stores(root: Path, sites=("alpha", "beta"), dates=("2021-06-01", "2021-06-02"),
                 every_hours: int = 2, segments_per_recording: int = 3, seed: int = 0,
                 shuffle_feature_rows: bool = False) -> dict:
    """Write a segment store and three feature stores with realistic columns.

    Features carry a site signal (indices, ae), an hour-of-day signal (all sets)
    and noise; ``mfcc`` carries no site signal. Returns paths and the segment table.
    """
    rng = np.random.default_rng(seed)
    segment_frames = []
    for s_index, site in enumerate(sites):
        for date in dates:
            rows = []
            for hour in range(0, 24, every_hours):
                rec = f"{site}_{date.replace('-', '')}_{hour:02d}0000"
                local = pd.Timestamp(f"{date} {hour:02d}:00:00")
                for k in range(segments_per_recording):
                    start = local + pd.Timedelta(seconds=60 * k)
                    rows.append((rec, k, start.tz_localize("UTC"), 60.0, site, date, start, "UTC",
                                 f"{site}/{rec}.wav", 60.0 * k))
            frame = pd.DataFrame(rows, columns=SEGMENT_COLUMNS)
            frame["segment_index"] = frame["segment_index"].astype("int32")
            write_partition(frame, root / "segments" / partition_folder(site, date) / "part-0.parquet")
            segment_frames.append(frame)
    segments = pd.concat(segment_frames, ignore_index=True)

    def write_set(name, n_features, site_strength, hour_strength, prefix):
        for (site, date), frame in segments.groupby(["site", "date"], sort=False):
            s_index = sites.index(site)
            hour = frame["local_start"].dt.hour.to_numpy()
            diel = np.sin(2 * np.pi * hour / 24)[:, None]
            values = (rng.normal(size=(len(frame), n_features)) + site_strength * s_index
                      + hour_strength * diel * np.linspace(1, 0.2, n_features))
            columns = [f"{prefix}{i}" for i in range(n_features)] if prefix else INDEX_NAMES[:n_features]
            out = frame[["recording_id", "segment_index"]].copy()
            for column, vector in zip(columns, values.T.astype(np.float32)):
                out[column] = vector
            out["qc_clipped"] = np.zeros(len(frame), np.float32)
            if shuffle_feature_rows:
                out = out.iloc[::-1]
            write_partition(out, root / "features" / name / partition_folder(site, date) / "part-0.parquet")

    write_set("ae-test16", 16, 1.5, 2.0, "ae_")
    write_set("indices", 4, 1.0, 2.0, None)
    write_set("mfcc", 8, 0.0, 2.0, "mfcc_")
    return {
        "segments_dir": root / "segments",
        "feature_dirs": {name: root / "features" / name for name in ("ae-test16", "indices", "mfcc")},
        "segments": segments,
    }


def test_open_stores_joins_every_set_on_the_segment_key(tmp_path):
    built = build_stores(tmp_path, shuffle_feature_rows=True)
    joined = stores.open_stores(built["segments_dir"], built["feature_dirs"])
    assert joined.partitions == [("alpha", "2021-06-01"), ("alpha", "2021-06-02"),
                                 ("beta", "2021-06-01"), ("beta", "2021-06-02")]
    assert joined.frame.npartitions == 4
    assert len(joined.feature_sets["ae-test16"]) == 16
    assert joined.feature_sets["indices"] == [f"indices::{n}" for n in INDEX_NAMES]
    assert not any("qc_" in c for cols in joined.feature_sets.values() for c in cols)
    frame = joined.frame.compute()
    assert len(frame) == len(built["segments"])
    # Rows were written in reverse order in the feature stores: the join must still pair keys.
    raw = pd.read_parquet(built["feature_dirs"]["indices"] / "site=beta/date=2021-06-02/part-0.parquet")
    first = raw.iloc[-1]
    match = frame[(frame["recording_id"] == first["recording_id"]) & (frame["segment_index"] == first["segment_index"])]
    assert match["indices::ACI"].iloc[0] == pytest.approx(first["ACI"])


def test_missing_partition_names_the_file(tmp_path):
    built = build_stores(tmp_path)
    victim = built["feature_dirs"]["mfcc"] / "site=beta/date=2021-06-02/part-0.parquet"
    victim.unlink()
    joined = stores.open_stores(built["segments_dir"], built["feature_dirs"])
    with pytest.raises(FileNotFoundError, match="site=beta/date=2021-06-02"):
        joined.frame.compute()


def test_mismatched_keys_are_an_error(tmp_path):
    built = build_stores(tmp_path)
    path = built["feature_dirs"]["indices"] / "site=alpha/date=2021-06-01/part-0.parquet"
    frame = pd.read_parquet(path)
    frame.loc[0, "segment_index"] = 99
    write_parquet_atomic(frame, path)
    with pytest.raises(ValueError, match="holds segments that are not in the segment store"):
        stores.open_stores(built["segments_dir"], built["feature_dirs"]).frame.compute()


def test_segments_absent_from_a_set_are_left_out_of_the_join(tmp_path):
    built = build_stores(tmp_path)
    whole = stores.open_stores(built["segments_dir"], built["feature_dirs"]).frame.compute()
    path = built["feature_dirs"]["indices"] / "site=alpha/date=2021-06-01/part-0.parquet"
    frame = pd.read_parquet(path)
    write_parquet_atomic(frame.iloc[1:], path)  # its first segment could not be read: a problem
    joined = stores.open_stores(built["segments_dir"], built["feature_dirs"]).frame.compute()
    assert len(joined) == len(whole) - 1
    left_out = frame.iloc[0][["recording_id", "segment_index"]].tolist()
    assert left_out not in joined[["recording_id", "segment_index"]].values.tolist()
