"""Aggregation windows: local-time alignment, mean/std, majority labels, lazy = eager."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecoae.evaluation import aggregate, stores
from test_evaluation_stores import build_stores


def small_frame() -> pd.DataFrame:
    starts = pd.to_datetime(["2021-06-01 05:01", "2021-06-01 05:07", "2021-06-01 05:12",
                             "2021-06-01 05:59", "2021-06-01 06:00", "2021-06-02 05:03"])
    return pd.DataFrame({
        "site": ["s1", "s1", "s1", "s1", "s1", "s2"],
        "local_start": starts,
        "duration": [60.0, 60.0, 60.0, 30.0, 60.0, 60.0],
        "f::a": [1.0, 3.0, 10.0, np.nan, 7.0, 2.0],
        "f::b": [0.0, 0.0, 0.0, 4.0, np.inf, 1.0],
        "label:diel": pd.array(["dawn", "day", "day", "dawn", pd.NA, "dawn"], dtype="string"),
    })


def test_windows_align_on_local_time_with_mean_and_population_std():
    out = aggregate.aggregate_windows(small_frame(), "10min", ["f::a", "f::b"], ["label:diel"])
    assert list(out["window_start"].dt.strftime("%H:%M")) == ["05:00", "05:10", "05:50", "06:00", "05:00"]
    assert list(out["site"]) == ["s1"] * 4 + ["s2"]
    assert list(out["date"]) == ["2021-06-01"] * 4 + ["2021-06-02"]
    assert list(out["n_segments"]) == [2, 1, 1, 1, 1]
    assert out["audio_seconds"].tolist() == [120.0, 60.0, 30.0, 60.0, 60.0]
    first = out.iloc[0]
    assert first["f::a::mean"] == pytest.approx(2.0) and first["f::a::std"] == pytest.approx(1.0)
    assert out.iloc[1]["f::a::std"] == 0.0  # one segment: std 0, not NaN
    assert np.isnan(out.iloc[2]["f::a::mean"])  # only value missing -> NaN, imputed later
    assert np.isnan(out.iloc[3]["f::b::mean"])  # inf is treated as missing
    # Majority label; a tie (dawn 1, day 1 in 05:00) goes to the alphabetically first.
    assert out["label:diel"].fillna("-").tolist() == ["dawn", "day", "dawn", "-", "dawn"]


def test_hour_windows_match_a_direct_pandas_groupby():
    frame = small_frame().replace([np.inf], np.nan)
    out = aggregate.aggregate_windows(frame, "1h", ["f::a", "f::b"], ["label:diel"])
    expected = frame.assign(window_start=frame["local_start"].dt.floor("1h")).groupby(
        ["site", "window_start"])[["f::a", "f::b"]].agg(["mean", lambda v: v.std(ddof=0)])
    np.testing.assert_allclose(out["f::a::mean"], expected[("f::a", "mean")].to_numpy())
    np.testing.assert_allclose(out["f::a::std"], expected[("f::a", "<lambda_0>")].to_numpy(), atol=1e-12)
    # 05:00 window of s1: dawn 2, day 2 -> tie -> dawn; 06:00 has no labelled segment.
    assert out["label:diel"].fillna("-").tolist() == ["dawn", "-", "dawn"]


def test_lazy_dask_aggregation_equals_eager_and_spans_partitions(tmp_path):
    built = build_stores(tmp_path, every_hours=3, segments_per_recording=3)
    joined = stores.open_stores(built["segments_dir"], built["feature_dirs"])
    columns = joined.feature_sets["indices"]
    lazy = aggregate.aggregate_windows(joined.frame, "1h", columns, [], threads=2)
    eager = aggregate.aggregate_windows(joined.frame.compute(), "1h", columns, [])
    pd.testing.assert_frame_equal(lazy, eager)
    assert len(lazy) == 2 * 2 * 8  # sites x dates x recordings per day, one recording per hour window
    assert (lazy["n_segments"] == 3).all()


@pytest.mark.parametrize("bad", ["7min", "5h", "0min", "soon"])
def test_timescales_that_do_not_divide_a_day_are_refused(bad):
    with pytest.raises(ValueError, match="timescale"):
        aggregate.window_offset(bad)
