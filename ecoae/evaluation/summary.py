"""Generated text: which feature set wins each task and timescale, and how clearly.

The comparison is paired: every set was scored on the same folds, so the
difference between the winner and the runner-up is taken fold by fold. A win is
called clear when the mean paired difference exceeds the standard deviation of
the paired differences over folds (the fold spread); otherwise the text says
the sets are not separated by this archive.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

@dataclass
class Summary:
    """Sentences for the report and the table behind them."""

    sentences: list[str]
    table: pd.DataFrame


def summarise(metrics: pd.DataFrame, fold_metrics: pd.DataFrame, model: str = "random_forest",
              score: str = "balanced_accuracy") -> Summary:
    """Compare feature sets per task and timescale for one model.

    Parameters
    ----------
    metrics, fold_metrics : DataFrame
        From :func:`ecoae.evaluation.run.run_evaluation`.
    model : str
        Model whose scores are compared (falls back to the first model present).
    score : str
        ``"balanced_accuracy"`` or ``"f1_macro"``.

    Returns
    -------
    Summary
    """
    if metrics.empty:
        return Summary(["No task could be evaluated (see the task table for the reasons)."], pd.DataFrame())
    if model not in set(metrics["model"]):
        model = metrics["model"].iloc[0]
    rows, sentences = [], []
    mine = metrics[metrics["model"] == model]
    for (task, timescale), group in mine.groupby(["task", "timescale"], sort=False):
        ranked = group.sort_values(f"{score}_mean", ascending=False)
        winner = ranked.iloc[0]
        row = {"task": task, "timescale": timescale, "model": model, "winner": winner["feature_set"],
               "winner_score": winner[f"{score}_mean"], "winner_spread": winner[f"{score}_std"],
               "chance": winner["chance_balanced_accuracy"]}
        tied = ranked[np.isclose(ranked[f"{score}_mean"], winner[f"{score}_mean"])
                      & np.isclose(ranked[f"{score}_std"], winner[f"{score}_std"])]
        if len(tied) > 1:
            row["winner"] = ", ".join(tied["feature_set"])
            rows.append(row)
            sentences.append(f"{task} at the {timescale} timescale: {row['winner']} tie with {score.replace('_', ' ')} "
                             f"{winner[f'{score}_mean']:.2f} ± {winner[f'{score}_std']:.2f} "
                             f"(chance {winner['chance_balanced_accuracy']:.2f}).")
            continue
        if len(ranked) > 1:
            runner = ranked.iloc[1]
            folds = fold_metrics[(fold_metrics["task"] == task) & (fold_metrics["timescale"] == timescale)
                                 & (fold_metrics["model"] == model)]
            a = folds[folds["feature_set"] == winner["feature_set"]].sort_values("fold")[score].to_numpy()
            b = folds[folds["feature_set"] == runner["feature_set"]].sort_values("fold")[score].to_numpy()
            difference = a - b
            spread = float(difference.std())
            row.update(runner_up=runner["feature_set"], runner_up_score=runner[f"{score}_mean"],
                       difference=float(difference.mean()), difference_spread=spread,
                       folds_won=int((difference > 0).sum()), folds_tied=int((difference == 0).sum()),
                       n_folds=len(difference), clear=bool(difference.mean() > spread and difference.mean() > 0))
        rows.append(row)
        sentences.append(_sentence(row, score))
    return Summary(sentences, pd.DataFrame(rows))


def _sentence(row: dict, score: str) -> str:
    name = score.replace("_", " ")
    where = f"{row['task']} at the {row['timescale']} timescale"
    head = (f"{where}: {row['winner']} wins with {name} {row['winner_score']:.2f} ± {row['winner_spread']:.2f} "
            f"(chance {row['chance']:.2f})")
    if row["winner_score"] - row["winner_spread"] <= row["chance"]:
        return head + "; no set is clearly above chance here."
    if "runner_up" not in row:
        return head + "."
    if np.isclose(row["difference"], 0.0):
        return head + f", level with {row['runner_up']} on average."
    verdict = ("the difference exceeds the fold spread" if row["clear"]
               else "the difference is within the fold spread, so this archive does not separate them")
    return (head + f", ahead of {row['runner_up']} ({row['runner_up_score']:.2f}) by {row['difference']:.2f} "
            f"(paired over folds: spread {row['difference_spread']:.2f}, better in {row['folds_won']} of "
            f"{row['n_folds']} folds); {verdict}.")
