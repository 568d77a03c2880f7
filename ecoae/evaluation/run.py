"""The whole evaluation: stores + labels -> metrics, timings, figures, report.

Outputs in ``out_dir``: ``metrics.csv`` (one row per task, timescale, feature
set and model), ``fold_metrics.csv`` (per fold, for paired comparisons),
``tasks.csv`` (every task and timescale, evaluated or skipped with the reason),
``confusion.csv``, ``timings.csv``, ``figures/*.png`` and ``report.html``
(which also gives an overview of the archive from the inventory's tables).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ecoae.layout import Layout
from ecoae.settings import EvaluationSettings
from ecoae.evaluation.quality import read_quality
from ecoae.evaluation import (aggregate, classify, figures, labels, overview, report, splits, stores, summary,
                              timings)

log = logging.getLogger(__name__)

SEGMENT = "segment"

@dataclass
class Results:
    """Everything the evaluation computed (tables written as CSV, used by the report)."""

    metrics: pd.DataFrame
    fold_metrics: pd.DataFrame
    tasks: pd.DataFrame
    confusion: pd.DataFrame
    timings: pd.DataFrame
    dataset: dict
    notes: list[str] = field(default_factory=list)
    quality: pd.DataFrame = field(default_factory=pd.DataFrame)
    archive: overview.Archive = field(default_factory=overview.Archive)


def recording_sample(recording_ids: pd.Series, fraction: float, seed: int) -> np.ndarray:
    """Deterministically keep about ``fraction`` of the recordings (whole recordings).

    Returns a boolean mask over ``recording_ids``.
    """
    if fraction >= 1:
        return np.ones(len(recording_ids), bool)
    digests = [
        int.from_bytes(hashlib.blake2b(f"{seed}:{rec}".encode(), digest_size=8).digest(), "little")
        for rec in recording_ids.astype(str)
    ]
    return np.asarray(digests, dtype=np.float64) / 2.0**64 < fraction


def _sample_partition(part: pd.DataFrame, fraction: float, seed: int) -> pd.DataFrame:
    return part[recording_sample(part["recording_id"], fraction, seed)]


def duration_confound(durations: pd.Series, y: np.ndarray) -> list[str]:
    """Note when the classes' audio durations do not overlap at all.

    Features that depend on duration (or on anything the recorders differ in)
    could then separate the classes without hearing what the task is about.
    """
    spans = pd.DataFrame({"d": durations.to_numpy(float), "y": y}).groupby("y")["d"].agg(["min", "max"])
    ordered = spans.sort_values("min")
    if len(ordered) < 2 or not (ordered["min"].to_numpy()[1:] > ordered["max"].to_numpy()[:-1]).all():
        return []
    described = ", ".join(f"{k}: {r['min']:g}-{r['max']:g} s" if r["min"] != r["max"] else f"{k}: {r['min']:g} s"
                          for k, r in ordered.iterrows())
    return [f"caution: audio per example differs completely between classes ({described}); "
            "a feature sensitive to duration can separate them"]


def _label_adder(tasks, diel_periods, multi_date_sites, tables):
    def add_labels(frame: pd.DataFrame) -> pd.DataFrame:
        frame = labels.add_metadata_labels(frame, tasks, diel_periods, multi_date_sites)
        for table, events in tables:
            frame = labels.add_table_labels(frame, table, events)
        return frame

    return add_labels


_KEY = ["task", "timescale", "feature_set", "model"]
#: Columns of the four result tables, so that they keep their header when empty
#: (an archive where every task is skipped still gets a report saying why).
TABLE_COLUMNS = {
    "metrics": _KEY + ["n_examples", "n_classes", "n_groups", "group_by", "n_folds", "dimension",
                       "balanced_accuracy_mean", "balanced_accuracy_std", "f1_macro_mean", "f1_macro_std",
                       "chance_balanced_accuracy", "fit_seconds"],
    "fold_metrics": _KEY + ["fold", "n_train", "n_test", "balanced_accuracy", "f1_macro"],
    "tasks": ["task", "timescale", "group_by", "classes", "notes", "status", "reason", "n_examples",
              "n_groups", "n_folds", "segments_per_window_median", "segments_per_window_max"],
    "confusion": _KEY + ["true", "predicted", "count"],
}


def _window_fill(data: pd.DataFrame, timescale: str) -> dict:
    """Median and maximum segments per window of a longer timescale, and the note they call for."""
    if timescale == SEGMENT or "n_segments" not in data or data.empty:
        return {"median": np.nan, "max": np.nan, "notes": []}
    median, largest = float(data["n_segments"].median()), float(data["n_segments"].max())
    note = summary.window_note(timescale, median, largest)
    return {"median": median, "max": largest, "notes": [note] if note else []}


def evaluate_timescale(data: pd.DataFrame, timescale: str, feature_sets: dict[str, list[str]],
                       task_names: list[str], settings: dict, threads: int):
    """Cross-validate every task x feature set x model on one timescale's table.

    Returns
    -------
    (list of dict, list of dict, list of dict, list of dict)
        Metric rows, fold rows, task rows, confusion rows.
    """
    metric_rows, fold_rows, task_rows, confusion_rows = [], [], [], []
    group_by = "recording" if timescale == SEGMENT else "site-day"
    groups = data["recording_id"] if timescale == SEGMENT else data["site"].astype(str) + "/" + data["date"].astype(str)
    windows = _window_fill(data, timescale)
    for task in task_names:
        column = labels.label_column(task)
        base = {"task": task, "timescale": timescale}
        if column not in data:
            continue
        selection = splits.select_task_rows(
            data[column], groups, settings["min_examples_per_class"], settings["min_groups_per_class"]
        )
        task_row = {**base, "group_by": group_by, "classes": "; ".join(f"{k}: {v}" for k, v in selection.counts.items()),
                    "notes": " | ".join(selection.notes + windows["notes"]),
                    "segments_per_window_median": windows["median"], "segments_per_window_max": windows["max"]}
        if selection.reason:
            log.info("skipping task %s at %s: %s", task, timescale, selection.reason)
            task_rows.append({**task_row, "status": "skipped", "reason": selection.reason})
            continue
        y = data.loc[selection.mask, column].astype(str).to_numpy()
        g = groups[selection.mask].astype(str).to_numpy()
        folds, fold_notes = splits.grouped_folds(y, g, settings["n_splits"], settings["seed"])
        duration = "duration" if timescale == SEGMENT else "audio_seconds"
        confound = duration_confound(data.loc[selection.mask, duration], y)
        task_rows.append({**task_row, "status": "evaluated", "reason": "", "n_examples": len(y),
                          "n_groups": len(np.unique(g)), "n_folds": len(folds),
                          "notes": " | ".join(selection.notes + windows["notes"] + fold_notes + confound)})
        classes = sorted(np.unique(y))
        for set_name, columns in feature_sets.items():
            X = data.loc[selection.mask, columns].to_numpy()
            for model_name in settings["models"]:
                model = classify.make_model(
                    model_name, threads, settings["random_forest_trees"], settings["random_forest_max_depth"],
                    settings["logistic_c"], settings["seed"],
                )
                result = classify.cross_validate(model, X, y, folds)
                log.info("%s %s %s %s: balanced accuracy %.3f ± %.3f", task, timescale, set_name, model_name,
                         result.balanced_accuracy.mean(), result.balanced_accuracy.std())
                key = {**base, "feature_set": set_name, "model": model_name}
                metric_rows.append({
                    **key, "n_examples": len(y), "n_classes": len(classes), "n_groups": len(np.unique(g)),
                    "group_by": group_by, "n_folds": len(folds), "dimension": X.shape[1],
                    "balanced_accuracy_mean": result.balanced_accuracy.mean(),
                    "balanced_accuracy_std": result.balanced_accuracy.std(),
                    "f1_macro_mean": result.f1_macro.mean(), "f1_macro_std": result.f1_macro.std(),
                    "chance_balanced_accuracy": 1.0 / len(classes), "fit_seconds": result.fit_seconds,
                })
                for fold, (acc, f1) in enumerate(zip(result.balanced_accuracy, result.f1_macro)):
                    fold_rows.append({**key, "fold": fold, "n_train": len(folds[fold][0]),
                                      "n_test": len(folds[fold][1]), "balanced_accuracy": acc, "f1_macro": f1})
                matrix = pd.crosstab(pd.Categorical(y, classes), pd.Categorical(result.predictions, classes),
                                     dropna=False)
                for true in classes:
                    for predicted in classes:
                        confusion_rows.append({**key, "true": true, "predicted": predicted,
                                               "count": int(matrix.loc[true, predicted])})
    return metric_rows, fold_rows, task_rows, confusion_rows


def run_evaluation(segments_dir: str | Path, feature_dirs: dict[str, str | Path], out_dir: str | Path,
                   benchmarks_dir: str | Path | None = None, models_dir: str | Path | None = None,
                   settings: EvaluationSettings | dict | None = None, sample_rate: int | None = None,
                   threads: int = 1, base_dir: str | Path = ".",
                   partition_list: str | Path | None = None, inventory_dir: str | Path | None = None) -> Results:
    """Run the comparative evaluation and write its outputs.

    Parameters
    ----------
    segments_dir : path
        Segment store folder.
    feature_dirs : dict of str to path
        Feature set name -> store folder.
    out_dir : path
        Output folder (``results/evaluation``).
    benchmarks_dir : path, optional
        Snakemake benchmark records (``results/benchmarks``).
    models_dir : path, optional
        Auto-encoder training outputs (``results/models``); their loss curves and
        reconstruction figures go into the report.
    settings : EvaluationSettings or dict, optional
        The ``evaluation`` config section (missing keys: :class:`~ecoae.settings.EvaluationSettings`).
    sample_rate : int, optional
        Rate all audio was read at (stated in the report).
    threads : int
    base_dir : path
        Folder relative label-table paths are relative to.
    partition_list : path, optional
        The inventory's ``partitions.tsv``: the partitions to read (default: every
        partition folder of the segment store).
    inventory_dir : path, optional
        Folder of the inventory's recordings and quarantine tables, for the report's
        overview of the archive (default: the folder of ``partition_list``, else
        ``<segments_dir>/../inventory``).

    Returns
    -------
    Results
    """
    if not isinstance(settings, EvaluationSettings):
        settings = EvaluationSettings.from_mapping(settings, "evaluation")
    settings = settings.canonical()
    out_dir = Path(out_dir)
    figure_dir = out_dir / "figures"
    figure_dir.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []

    meta = stores.read_segment_metadata(segments_dir, ["recording_id", "path", "duration"], partition_list)
    dates_per_site = meta.groupby("site")["date"].nunique()
    multi_date_sites = set(dates_per_site[dates_per_site > 1].index)
    task_names = [t for t in settings["tasks"] if not (t == "site" and meta["site"].nunique() < 2)]
    if "site" in settings["tasks"] and "site" not in task_names:
        notes.append("site task not run: the archive has one site")
    if "date" in task_names and not multi_date_sites:
        task_names.remove("date")
        notes.append("date task not run: no site was recorded on several dates")
    metadata_tasks = list(task_names)
    lookup = labels.recording_lookup(meta)
    tables = []
    for spec in settings["label_tables"]:
        table = labels.load_label_table(spec, base_dir)
        events, table_notes = labels.match_recordings(table, lookup)
        notes.extend(table_notes)
        tables.append((table, events))
        task_names.append(table.name)
    add_labels = _label_adder(metadata_tasks, settings["diel_periods"], multi_date_sites, tables)
    joined = stores.open_stores(segments_dir, feature_dirs, add_labels, partition_list)
    label_columns = [labels.label_column(t) for t in task_names]
    all_features = [c for cols in joined.feature_sets.values() for c in cols]

    fraction = settings["max_segments"] / max(len(meta), 1)
    segment_frame = joined.frame.map_partitions(_sample_partition, fraction, settings["seed"]).compute(
        scheduler="threads", num_workers=threads).reset_index(drop=True)
    if fraction < 1:
        notes.append(f"segment timescale: {len(segment_frame)} of {len(meta)} segments "
                     f"(whole recordings sampled, evaluation.max_segments = {settings['max_segments']})")

    all_rows = ([], [], [], [])
    for timescale in settings["timescales"]:
        if timescale == SEGMENT:
            data, sets = segment_frame, joined.feature_sets
        else:
            data = aggregate.aggregate_windows(joined.frame, timescale, all_features, label_columns, threads)
            data["recording_id"] = ""
            sets = {name: [f"{c}{aggregate.MEAN_SUFFIX}" for c in cols] + [f"{c}{aggregate.STD_SUFFIX}" for c in cols]
                    for name, cols in joined.feature_sets.items()}
        log.info("timescale %s: %d rows", timescale, len(data))
        rows = evaluate_timescale(data, timescale, sets, task_names, settings, threads)
        for collected, new in zip(all_rows, rows):
            collected.extend(new)
    metrics, fold_metrics, tasks, confusion = (
        pd.DataFrame(rows, columns=columns) for rows, columns in zip(all_rows, TABLE_COLUMNS.values())
    )

    minutes = meta.groupby(["site", "date"], as_index=False)["duration"].sum()
    minutes["minutes"] = minutes["duration"] / 60.0
    bench = timings.read_benchmarks(benchmarks_dir) if benchmarks_dir and Path(benchmarks_dir).exists() else None
    timing = (timings.timing_table(bench, minutes, list(feature_dirs), settings["timing_rules"])
              if bench is not None and len(bench) else pd.DataFrame())
    if timing.empty:
        notes.append("no benchmark records found: timings table is empty")

    dataset = {
        "recordings": int(meta["recording_id"].nunique()), "segments": int(len(meta)),
        "audio_minutes": float(meta["duration"].sum() / 60.0),
        "sites": {s: int(n) for s, n in meta.groupby("site")["recording_id"].nunique().items()},
        "dates": sorted(meta["date"].astype(str).unique()), "sample_rate": sample_rate,
        "feature_sets": {name: len(cols) for name, cols in joined.feature_sets.items()},
        "partitions": len(joined.partitions),
    }
    if inventory_dir is None:
        inventory_dir = (Path(partition_list).parent if partition_list is not None
                         else Layout(str(Path(segments_dir).parent)).inventory_dir)
    results = Results(metrics, fold_metrics, tasks, confusion, timing, dataset, notes, read_quality(models_dir),
                      overview.read_archive(inventory_dir))
    for name in ("metrics", "fold_metrics", "tasks", "confusion", "timings", "quality"):
        getattr(results, name).to_csv(out_dir / f"{name}.csv", index=False)

    figure_list = figures.make_all(results, segment_frame, joined.feature_sets, task_names, settings,
                                   figure_dir, models_dir)
    text = summary.summarise(metrics, fold_metrics, settings["summary_model"], tasks=tasks)
    report.write_report(out_dir / "report.html", results, text, figure_list, settings)
    log.info("wrote %s", out_dir / "report.html")
    return results
