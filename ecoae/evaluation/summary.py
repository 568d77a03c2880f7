"""Generated text: which feature set wins each task and timescale, how clearly, and at what cost.

The comparison is paired: every set was scored on the same folds, so the
difference between the winner and the runner-up is taken fold by fold. A win is
called clear when the mean paired difference exceeds the standard deviation of
the paired differences over folds (the fold spread); otherwise the text says
the sets are not separated by this archive.

No set "wins" a task that no set does better than chance on: such a task is
stated as having no signal, and a best score below chance by more than its fold
spread is explained (too few groups, class imbalance across grouped folds).
A longer timescale whose windows hold one segment each is stated as adding no
aggregation. :func:`set_costs` gives each set's compute cost for the table that
stands beside the scores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ecoae.evaluation.timings import ONE_OFF

#: Verdicts of a task and timescale (column ``verdict`` of :attr:`Summary.table`).
BELOW_CHANCE = "below chance"
AT_CHANCE = "at chance"
NOT_CLEAR = "not clearly above chance"
TIE = "tie"
WIN = "win"
#: Verdicts under which the best score of a column is marked in the report's tables.
ABOVE_CHANCE = (TIE, WIN)
#: Fewer groups per class than this are called too few in the below-chance explanation.
FEW_GROUPS_PER_CLASS = 5


@dataclass
class Summary:
    """Sentences for the report and the table behind them."""

    sentences: list[str]
    table: pd.DataFrame


def summarise(metrics: pd.DataFrame, fold_metrics: pd.DataFrame, model: str = "random_forest",
              score: str = "balanced_accuracy", tasks: pd.DataFrame | None = None) -> Summary:
    """Compare feature sets per task and timescale for one model.

    Parameters
    ----------
    metrics, fold_metrics : DataFrame
        From :func:`ecoae.evaluation.run.run_evaluation`.
    model : str
        Model whose scores are compared (falls back to the first model present).
    score : str
        ``"balanced_accuracy"`` or ``"f1_macro"``.
    tasks : DataFrame, optional
        The task table: class counts for the below-chance explanation and the
        segments per window of each timescale.

    Returns
    -------
    Summary
        One sentence per task and timescale (then one per timescale that adds
        little or no aggregation); the table has a ``verdict`` column
        (:data:`BELOW_CHANCE`, :data:`AT_CHANCE`, :data:`NOT_CLEAR`, :data:`TIE`, :data:`WIN`).
    """
    tasks = pd.DataFrame() if tasks is None else tasks
    if metrics.empty:
        return Summary(["No task could be evaluated (see the task table for the reasons)."] + window_sentences(tasks),
                       pd.DataFrame())
    if model not in set(metrics["model"]):
        model = metrics["model"].iloc[0]
    rows, sentences = [], []
    mine = metrics[metrics["model"] == model]
    for (task, timescale), group in mine.groupby(["task", "timescale"], sort=False):
        ranked = group.sort_values(f"{score}_mean", ascending=False)
        winner = ranked.iloc[0]
        row = {"task": task, "timescale": timescale, "model": model, "winner": winner["feature_set"],
               "winner_score": winner[f"{score}_mean"], "winner_spread": winner[f"{score}_std"],
               "chance": winner["chance_balanced_accuracy"], "verdict": chance_verdict(winner, score)}
        if row["verdict"] in (BELOW_CHANCE, AT_CHANCE, NOT_CLEAR):
            rows.append(row)
            sentences.append(_no_signal_sentence(row, winner, score, _classes(tasks, task, timescale)))
            continue
        tied = ranked[np.isclose(ranked[f"{score}_mean"], winner[f"{score}_mean"])
                      & np.isclose(ranked[f"{score}_std"], winner[f"{score}_std"])]
        if len(tied) > 1:
            row.update(winner=", ".join(tied["feature_set"]), verdict=TIE)
            rows.append(row)
            sentences.append(f"{task} at the {timescale} timescale: {row['winner']} tie with {score.replace('_', ' ')} "
                             f"{winner[f'{score}_mean']:.2f} ± {winner[f'{score}_std']:.2f} "
                             f"(chance {winner['chance_balanced_accuracy']:.2f}).")
            continue
        if len(ranked) > 1:
            row.update(_paired(ranked.iloc[0], ranked.iloc[1], fold_metrics, model, score))
        rows.append(row)
        sentences.append(_sentence(row, score))
    return Summary(sentences + window_sentences(tasks), pd.DataFrame(rows))


def chance_verdict(best: pd.Series, score: str = "balanced_accuracy") -> str:
    """Where the best set's score stands against chance.

    Returns
    -------
    str
        :data:`BELOW_CHANCE` when mean + fold spread is below chance, :data:`AT_CHANCE`
        when the mean is not above chance, :data:`NOT_CLEAR` when mean − spread is not
        above it, else :data:`WIN`.
    """
    mean, spread, chance = best[f"{score}_mean"], best[f"{score}_std"], best["chance_balanced_accuracy"]
    if mean + spread < chance:
        return BELOW_CHANCE
    if mean <= chance:
        return AT_CHANCE
    if mean - spread <= chance:
        return NOT_CLEAR
    return WIN


def below_chance_reason(best: pd.Series, classes: str = "") -> str:
    """Explain a best score below chance by more than its fold spread.

    Parameters
    ----------
    best : Series
        The best set's metrics row (``n_groups``, ``n_classes``, ``n_folds``, ``group_by``).
    classes : str
        Class counts as the task table states them (``"a: 24; b: 12"``), optional.
    """
    groups, n_classes, folds = int(best["n_groups"]), int(best["n_classes"]), int(best["n_folds"])
    per_class = groups / max(n_classes, 1)
    counted = f" (examples per class: {classes})" if classes and classes.count(";") < 6 else ""
    few = (f"too few groups: {groups} {best['group_by']} groups for {n_classes} classes, about {per_class:.1f} per "
           "class; " if per_class < FEW_GROUPS_PER_CLASS else "")
    return (f"A score systematically below chance is an artefact of the split, not an inverted signal: {few}"
            f"each of the {folds} grouped folds holds out whole groups, so the held-out class is rarer in "
            f"training than in the test fold (class imbalance across folds){counted}, and whatever else a "
            "group shares, such as its site, points the classifier to another class. Treat this as no signal.")


def _no_signal_sentence(row: dict, best: pd.Series, score: str, classes: str) -> str:
    name = score.replace("_", " ")
    where = f"{row['task']} at the {row['timescale']} timescale"
    scored = f"{name} {row['winner_score']:.2f} ± {row['winner_spread']:.2f}, chance {row['chance']:.2f}"
    if row["verdict"] == NOT_CLEAR:
        return (f"{where}: no feature set is clearly above chance (best: {row['winner']}, {scored}; "
                "within one fold spread of chance).")
    head = f"{where}: no feature set beats chance (best: {row['winner']}, {scored})"
    if row["verdict"] == AT_CHANCE:
        return head + "."
    return head + ", below chance by more than the fold spread. " + below_chance_reason(best, classes)


def _classes(tasks: pd.DataFrame, task: str, timescale: str) -> str:
    if tasks.empty or "classes" not in tasks:
        return ""
    found = tasks[(tasks["task"] == task) & (tasks["timescale"] == timescale)]
    return "" if found.empty or pd.isna(found["classes"].iloc[0]) else str(found["classes"].iloc[0])


def _paired(winner: pd.Series, runner: pd.Series, fold_metrics: pd.DataFrame, model: str, score: str) -> dict:
    folds = fold_metrics[(fold_metrics["task"] == winner["task"]) & (fold_metrics["timescale"] == winner["timescale"])
                         & (fold_metrics["model"] == model)]
    a = folds[folds["feature_set"] == winner["feature_set"]].sort_values("fold")[score].to_numpy()
    b = folds[folds["feature_set"] == runner["feature_set"]].sort_values("fold")[score].to_numpy()
    difference = a - b
    spread = float(difference.std())
    return dict(runner_up=runner["feature_set"], runner_up_score=runner[f"{score}_mean"],
                difference=float(difference.mean()), difference_spread=spread,
                folds_won=int((difference > 0).sum()), folds_tied=int((difference == 0).sum()),
                n_folds=len(difference), clear=bool(difference.mean() > spread and difference.mean() > 0))


def _sentence(row: dict, score: str) -> str:
    name = score.replace("_", " ")
    where = f"{row['task']} at the {row['timescale']} timescale"
    head = (f"{where}: {row['winner']} wins with {name} {row['winner_score']:.2f} ± {row['winner_spread']:.2f} "
            f"(chance {row['chance']:.2f})")
    if "runner_up" not in row:
        return head + "."
    if np.isclose(row["difference"], 0.0):
        return head + f", level with {row['runner_up']} on average."
    verdict = ("the difference exceeds the fold spread" if row["clear"]
               else "the difference is within the fold spread, so this archive does not separate them")
    return (head + f", ahead of {row['runner_up']} ({row['runner_up_score']:.2f}) by {row['difference']:.2f} "
            f"(paired over folds: spread {row['difference_spread']:.2f}, better in {row['folds_won']} of "
            f"{row['n_folds']} folds); {verdict}.")


def window_note(timescale: str, median: float, largest: float) -> str:
    """What the segments per window say about a longer timescale ("" when it aggregates).

    Parameters
    ----------
    timescale : str
    median, largest : float
        Median and maximum number of segments in the timescale's windows.
    """
    if largest == 1:
        return (f"at {timescale} each window holds one segment, so this timescale adds no aggregation: its examples "
                "are single segments (feature spread 0), only grouped by site-day instead of by recording")
    if median == 1:
        return (f"at {timescale} at least half of the windows hold a single segment (at most {largest:g}), "
                "so this timescale aggregates little")
    return ""


def window_sentences(tasks: pd.DataFrame) -> list[str]:
    """One sentence per timescale whose windows hold one segment (or mostly one), from the task table."""
    needed = {"timescale", "segments_per_window_median", "segments_per_window_max"}
    if tasks.empty or not needed <= set(tasks.columns):
        return []
    windows = tasks.dropna(subset=["segments_per_window_max"]).drop_duplicates("timescale")
    notes = (window_note(r.timescale, r.segments_per_window_median, r.segments_per_window_max)
             for r in windows.itertuples(index=False))
    return [note[0].upper() + note[1:] + "." for note in notes if note]


def set_costs(timings: pd.DataFrame, feature_sets: list[str]) -> pd.DataFrame:
    """Each set's compute cost: CPU seconds per audio minute, and the one-off (training) CPU seconds.

    Parameters
    ----------
    timings : DataFrame
        From :func:`ecoae.evaluation.timings.timing_table` (may be empty).
    feature_sets : list of str
        The sets, in the order of the rows returned.

    Returns
    -------
    DataFrame
        Columns feature_set, cpu_s_per_audio_min (the ``total`` stage; NaN without
        records) and one_off_cpu_s (sum of the one-off stages such as training;
        NaN when the set has none).
    """
    costs = pd.DataFrame({"feature_set": list(feature_sets)})
    if timings.empty:
        return costs.assign(cpu_s_per_audio_min=np.nan, one_off_cpu_s=np.nan)
    total = timings[timings["stage"] == "total"].set_index("feature_set")["cpu_s_per_audio_min"]
    once = timings[timings["kind"] == ONE_OFF].groupby("feature_set")["cpu_s"].sum(min_count=1)
    costs["cpu_s_per_audio_min"] = costs["feature_set"].map(total).astype(float)
    costs["one_off_cpu_s"] = costs["feature_set"].map(once).astype(float)
    return costs
