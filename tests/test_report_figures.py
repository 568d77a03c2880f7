"""Figures: one colour per feature set in every figure, the score legend clear of the bars, the archive calendar."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd

from ecoae.evaluation import figures
from test_report_summary import scores

matplotlib.use("Agg")


def score_metrics() -> pd.DataFrame:
    site, _ = scores("site", "segment", {"mfcc": 0.9, "ae-x": 0.95, "indices": 0.7}, spread=0.05)
    diel, _ = scores("diel", "1h", {"mfcc": 0.5, "ae-x": 0.6, "indices": 0.96}, spread=0.02)
    return pd.concat([site, diel], ignore_index=True)


def timing_rows() -> pd.DataFrame:
    return pd.DataFrame({
        "feature_set": ["indices", "ae-x", "ae-x", "mfcc"], "stage": ["indices", "spectrogram", "encode", "mfcc"],
        "kind": "per_partition", "cpu_s_per_audio_min": [1.0, 0.5, 0.2, 0.3]})


def test_set_colours_follow_the_sorted_names():
    colours = figures.set_colours(["mfcc", "ae-x", "indices"])
    assert colours == figures.set_colours(["indices", "mfcc", "ae-x", "mfcc"])
    assert len(set(colours.values())) == 3
    assert colours["ae-x"] == matplotlib.colormaps["tab10"](0)
    assert len(set(figures.set_colours([f"s{i:02d}" for i in range(15)]).values())) == 15


def test_scores_and_timings_give_each_set_the_same_colour():
    colours = figures.set_colours(["mfcc", "ae-x", "indices"])
    fig = figures.draw_scores(score_metrics(), "random_forest", colours)
    from_scores = {container.get_label(): container.patches[0].get_facecolor()
                   for container in fig.axes[0].containers if hasattr(container, "patches")}
    fig = figures.draw_timings(timing_rows(), colours)
    bars = [p for p in fig.axes[0].patches]
    names = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    from_timings = {names[round(p.get_x() + p.get_width() / 2)]: p.get_facecolor() for p in bars if p.get_height() > 0}
    assert set(from_scores) == set(from_timings) == {"mfcc", "ae-x", "indices"}
    for name, colour in from_scores.items():
        assert np.allclose(colour, colours[name]) and np.allclose(from_timings[name], colours[name])


def test_score_legend_covers_no_bar():
    fig = figures.draw_scores(score_metrics(), "random_forest")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legend = fig.legends[0].get_window_extent(renderer)
    for ax in fig.axes:
        assert not legend.overlaps(ax.get_window_extent(renderer))
        for bar in ax.patches:
            assert not legend.overlaps(bar.get_window_extent(renderer))


def test_calendar_marks_days_without_recordings(tmp_path):
    recordings = pd.DataFrame({"site": ["a", "a", "b"], "date": ["2021-06-01", "2021-06-03", "2021-06-01"],
                               "duration": [3600.0, 1800.0, 7200.0]})
    table, unit = figures.overview.calendar(recordings)
    assert unit == "hours" and table.columns.tolist() == ["2021-06-01", "2021-06-02", "2021-06-03"]
    assert table.loc["a"].tolist() == [1.0, 0.0, 0.5] and table.loc["b"].tolist() == [2.0, 0.0, 0.0]
    counts, unit = figures.overview.calendar(recordings.drop(columns="duration"))
    assert unit == "recordings" and counts.loc["a"].tolist() == [1, 0, 1]
    sparse, _ = figures.overview.calendar(recordings.assign(date=["2021-06-01", "2021-06-30", "2021-07-01"]),
                                          max_gap=7)
    assert sparse.columns.tolist() == ["2021-06-01", "… 28 days without audio …", "2021-06-30", "2021-07-01"]
    assert sparse.loc["a"].tolist() == [1.0, 0.0, 0.5, 0.0] and sparse.loc["b"].tolist() == [0.0, 0.0, 0.0, 2.0]
    path = figures.calendar_figure(recordings, tmp_path / "archive.png")
    assert path.stat().st_size > 1000
    assert figures.calendar_figure(recordings[["site"]], tmp_path / "none.png") is None
