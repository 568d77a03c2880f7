"""The summary's text: no winner below chance, below-chance results explained, timescales without aggregation, costs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecoae.evaluation import summary
from ecoae.evaluation.run import evaluate_timescale
from ecoae.settings import EvaluationSettings


def scores(task: str, timescale: str, means: dict[str, float], spread: float, chance: float = 0.5,
           n_groups: int = 4, n_folds: int = 2) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Metrics and fold rows of one task and timescale for the random forest (two folds per set)."""
    metrics, folds = [], []
    for name, mean in means.items():
        key = {"task": task, "timescale": timescale, "feature_set": name, "model": "random_forest"}
        metrics.append({**key, "n_examples": 48, "n_classes": 2, "n_groups": n_groups, "group_by": "site-day",
                        "n_folds": n_folds, "dimension": 8, "balanced_accuracy_mean": mean,
                        "balanced_accuracy_std": spread, "f1_macro_mean": mean, "f1_macro_std": spread,
                        "chance_balanced_accuracy": chance, "fit_seconds": 0.1})
        for fold, value in enumerate((mean - spread, mean + spread)):
            folds.append({**key, "fold": fold, "n_train": 24, "n_test": 24, "balanced_accuracy": value,
                          "f1_macro": value})
    return pd.DataFrame(metrics), pd.DataFrame(folds)


def test_below_chance_is_no_win_and_is_explained():
    metrics, folds = scores("date", "10min", {"ae-explicit384": 0.29, "mfcc": 0.20}, spread=0.12)
    tasks = pd.DataFrame({"task": ["date"], "timescale": ["10min"], "classes": ["2017-03-25: 24; 2017-03-26: 24"]})
    text = summary.summarise(metrics, folds, tasks=tasks)
    sentence = text.sentences[0]
    assert "wins" not in sentence
    assert sentence.startswith("date at the 10min timescale: no feature set beats chance (best: ae-explicit384, "
                               "balanced accuracy 0.29 ± 0.12, chance 0.50), below chance by more than the fold spread")
    assert "too few groups: 4 site-day groups for 2 classes, about 2.0 per class" in sentence
    assert "class imbalance across folds" in sentence and "2017-03-25: 24; 2017-03-26: 24" in sentence
    assert "Treat this as no signal" in sentence
    assert text.table["verdict"].tolist() == [summary.BELOW_CHANCE]


def test_many_groups_below_chance_blames_only_the_folds():
    best = scores("date", "1h", {"a": 0.3}, spread=0.05, n_groups=40)[0].iloc[0]
    reason = summary.below_chance_reason(best)
    assert "too few groups" not in reason and "class imbalance across folds" in reason


@pytest.mark.parametrize("mean, spread, verdict, phrase", [
    (0.48, 0.10, summary.AT_CHANCE, "no feature set beats chance (best: a, balanced accuracy 0.48 ± 0.10, chance 0.50)."),
    (0.58, 0.10, summary.NOT_CLEAR, "no feature set is clearly above chance (best: a,"),
    (0.80, 0.05, summary.WIN, "a wins with balanced accuracy 0.80 ± 0.05"),
])
def test_verdict_against_chance(mean, spread, verdict, phrase):
    metrics, folds = scores("site", "segment", {"a": mean, "b": mean - 0.1}, spread)
    text = summary.summarise(metrics, folds)
    assert text.table["verdict"].tolist() == [verdict]
    assert phrase in text.sentences[0]
    assert ("wins" in text.sentences[0]) == (verdict == summary.WIN)
    assert ("below chance by more" in text.sentences[0]) is False


def test_tie_above_chance_names_both_sets():
    metrics, folds = scores("site", "segment", {"a": 0.9, "b": 0.9}, spread=0.05)
    text = summary.summarise(metrics, folds)
    assert text.table["verdict"].tolist() == [summary.TIE] and "a, b tie" in text.sentences[0]


def test_timescales_without_aggregation_are_stated():
    tasks = pd.DataFrame({
        "task": ["site", "site", "site", "diel"], "timescale": ["segment", "10min", "1h", "10min"],
        "segments_per_window_median": [np.nan, 1.0, 1.0, 1.0], "segments_per_window_max": [np.nan, 1.0, 2.0, 1.0],
    })
    sentences = summary.window_sentences(tasks)
    assert sentences == [
        "At 10min each window holds one segment, so this timescale adds no aggregation: its examples are single "
        "segments (feature spread 0), only grouped by site-day instead of by recording.",
        "At 1h at least half of the windows hold a single segment (at most 2), so this timescale aggregates little.",
    ]
    assert summary.window_note("1h", 3.0, 6.0) == ""
    metrics, folds = scores("site", "10min", {"a": 0.9}, spread=0.05)
    assert summary.summarise(metrics, folds, tasks=tasks).sentences[-2:] == sentences


def test_one_segment_windows_are_noted_in_the_task_table():
    rng = np.random.default_rng(0)
    sites = np.repeat(["alpha", "beta"], 12)
    data = pd.DataFrame({"site": sites, "date": np.tile(np.repeat(["2021-06-01", "2021-06-02", "2021-06-03"], 4), 2),
                         "recording_id": "", "audio_seconds": 60.0, "n_segments": 1,
                         "label:site": sites, "f::a::mean": rng.normal(size=24), "f::a::std": 0.0})
    settings = EvaluationSettings(models=("logistic",), n_splits=2).canonical()
    _, _, task_rows, _ = evaluate_timescale(data, "10min", {"f": ["f::a::mean", "f::a::std"]}, ["site"], settings, 1)
    assert task_rows[0]["segments_per_window_median"] == 1 and task_rows[0]["segments_per_window_max"] == 1
    assert "at 10min each window holds one segment" in task_rows[0]["notes"]


def test_set_costs_per_audio_minute_and_once():
    timings = pd.DataFrame({
        "feature_set": ["ae-x", "ae-x", "ae-x", "ae-x", "mfcc", "mfcc"],
        "stage": ["spectrogram", "total", "training images", "train", "mfcc", "total"],
        "kind": ["per_partition", "per_partition", "one_off", "one_off", "per_partition", "per_partition"],
        "cpu_s": [10.0, 20.0, 5.0, 100.0, 3.0, 3.0],
        "cpu_s_per_audio_min": [1.0, 2.0, np.nan, np.nan, 0.3, 0.3],
    })
    costs = summary.set_costs(timings, ["mfcc", "ae-x", "indices"]).set_index("feature_set")
    assert costs.loc["ae-x"].tolist() == [2.0, 105.0]
    assert costs.loc["mfcc", "cpu_s_per_audio_min"] == 0.3 and np.isnan(costs.loc["mfcc", "one_off_cpu_s"])
    assert costs.loc["indices"].isna().all()
    assert summary.set_costs(pd.DataFrame(), ["a"])["cpu_s_per_audio_min"].isna().all()
