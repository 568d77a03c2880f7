"""Grouped cross-validation folds and the rules that skip tasks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecoae.evaluation import splits


def test_no_group_on_both_sides_and_every_example_tested_once():
    rng = np.random.default_rng(3)
    groups = np.repeat([f"rec{i}" for i in range(40)], rng.integers(1, 6, size=40))
    labels = np.array([("a", "b", "c")[int(g[3:]) % 3] for g in groups])
    folds, notes = splits.grouped_folds(labels, groups, n_splits=5, seed=1)
    assert len(folds) == 5 and notes == []
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested) == list(range(len(groups)))
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])
        assert set(labels[train]) == {"a", "b", "c"}


def test_folds_are_deterministic_and_capped_by_group_count():
    labels = np.array(["x", "y"] * 6)
    groups = np.array(["g1", "g1", "g2", "g2", "g3", "g3"] * 2)
    first, _ = splits.grouped_folds(labels, groups, n_splits=10, seed=0)
    second, _ = splits.grouped_folds(labels, groups, n_splits=10, seed=0)
    assert len(first) == 3
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(first, second))
    with pytest.raises(ValueError, match="two groups"):
        splits.grouped_folds(labels, np.array(["g"] * 12))


def test_one_class_task_is_skipped_with_reason():
    selection = splits.select_task_rows(pd.Series(["jura"] * 10), pd.Series(range(10)))
    assert selection.reason.startswith("one class") and "jura" in selection.reason
    assert not selection.mask.any()
    empty = splits.select_task_rows(pd.Series([pd.NA] * 4, dtype="string"), pd.Series(range(4)))
    assert "no labelled examples" in empty.reason


def test_rare_classes_are_dropped_and_task_skipped_when_fewer_than_two_remain():
    labels = pd.Series(["a"] * 10 + ["b"] * 3 + ["c"] * 8 + [pd.NA] * 2, dtype="string")
    groups = pd.Series([f"r{i}" for i in range(23)])
    selection = splits.select_task_rows(labels, groups, min_examples=5)
    assert selection.reason is None
    assert selection.counts == {"a": 10, "c": 8}
    assert selection.mask.sum() == 18 and not selection.mask[10:13].any() and not selection.mask[-2:].any()
    assert any("'b' dropped: 3 examples < 5" in note for note in selection.notes)
    skipped = splits.select_task_rows(labels, groups, min_examples=9)
    assert skipped.reason.startswith("fewer than two classes") and "'c' dropped" in skipped.reason


def test_class_confined_to_one_group_is_dropped():
    # Like the real archive's site task over one-day windows: jura's windows share one site-day.
    labels = pd.Series(["jura"] * 24 + ["dagua"] * 72)
    groups = pd.Series(["jura/2019-05-22"] * 24 + [f"dagua/2017-03-2{5 + i // 24}" for i in range(72)])
    selection = splits.select_task_rows(labels, groups, min_examples=5, min_groups=2)
    assert selection.reason is not None
    assert "'jura' dropped: all its examples lie in 1 group(s) < 2" in selection.reason
