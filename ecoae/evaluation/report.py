"""The self-contained HTML report (figures embedded, opens in any browser)."""

from __future__ import annotations

import base64
import html
from pathlib import Path

import pandas as pd

from ecoae.evaluation.figures import Figure
from ecoae.evaluation.quality import quality_sentences
from ecoae.evaluation.summary import Summary

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{margin-bottom:.2em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .55em;text-align:right}th{background:#f2f2f2}
td.text,th.text{text-align:left}tr.best td{font-weight:600;background:#eef6ee}
figure{margin:1em 0 2em}figure img{max-width:100%;border:1px solid #ddd}figcaption{font-size:.9em;color:#555}
.summary li{margin:.3em 0}.note{color:#555;font-size:.9em}
"""

# Counts the images that decoded, so a headless browser can check the report (data-images-loaded).
SCRIPT = """
window.addEventListener('load', function () {
  var images = Array.from(document.images);
  var ok = images.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute('data-images-loaded', ok + '/' + images.length);
});
"""


def _esc(value) -> str:
    return html.escape(str(value))


def _table(frame: pd.DataFrame, text_columns: tuple[str, ...] = (), best_rows: set[int] = frozenset()) -> str:
    head = "".join(f'<th class="{"text" if c in text_columns else ""}">{_esc(c)}</th>' for c in frame.columns)
    body = []
    for position, (_, row) in enumerate(frame.iterrows()):
        cells = "".join(
            f'<td class="{"text" if c in text_columns else ""}">{_esc("" if pd.isna(v) else v)}</td>'
            for c, v in row.items()
        )
        body.append(f'<tr class="{"best" if position in best_rows else ""}">{cells}</tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _pm(mean: float, std: float) -> str:
    return f"{mean:.3f} ± {std:.3f}"


def metrics_tables(metrics: pd.DataFrame) -> str:
    """One table per task and timescale: sets as rows, models as column groups."""
    if metrics.empty:
        return "<p>No task was evaluated.</p>"
    parts = []
    for (task, timescale), group in metrics.groupby(["task", "timescale"], sort=False):
        first = group.iloc[0]
        rows = []
        for name, sub in group.groupby("feature_set", sort=False):
            row = {"feature set": name, "dimension": int(sub["dimension"].iloc[0])}
            for model in sub["model"]:
                m = sub[sub["model"] == model].iloc[0]
                row[f"{model}: balanced accuracy"] = _pm(m["balanced_accuracy_mean"], m["balanced_accuracy_std"])
                row[f"{model}: macro F1"] = _pm(m["f1_macro_mean"], m["f1_macro_std"])
            rows.append((row, sub["balanced_accuracy_mean"].max()))
        table = pd.DataFrame([r for r, _ in rows])
        best = {max(range(len(rows)), key=lambda i: rows[i][1])}
        parts.append(
            f"<h3>{_esc(task)} — {_esc(timescale)}</h3><p class=note>{first['n_examples']} examples, "
            f"{first['n_classes']} classes (chance balanced accuracy {first['chance_balanced_accuracy']:.2f}), "
            f"{first['n_groups']} groups by {_esc(first['group_by'])}, {first['n_folds']} folds; mean ± standard "
            "deviation over folds.</p>" + _table(table, ("feature set",), best)
        )
    return "".join(parts)


def timing_table_html(timings: pd.DataFrame) -> str:
    """The computation-time table, formatted."""
    if timings.empty:
        return "<p>No benchmark records were found, so there is no timing table.</p>"
    shown = timings.copy()
    for column in ("audio_minutes", "wall_s", "cpu_s", "wall_s_per_audio_min", "cpu_s_per_audio_min", "max_rss_mib"):
        shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{v:.3g}")
    shown = shown.rename(columns={"wall_s_per_audio_min": "wall s / audio min", "cpu_s_per_audio_min": "CPU s / audio min",
                                  "audio_minutes": "audio min", "wall_s": "wall s", "cpu_s": "CPU s",
                                  "max_rss_mib": "max RSS MiB", "feature_set": "feature set"})
    totals = {i for i, stage in enumerate(shown["stage"]) if stage == "total"}
    return _table(shown, ("feature set", "stage", "rule", "kind"), totals)


def quality_table_html(quality: pd.DataFrame) -> str:
    """The reconstruction-quality table (``results/models/*/quality.tsv``), or a note when there is none."""
    if quality is None or quality.empty:
        return "<p class=note>No quality tables found (no image model was fitted by this run).</p>"
    table = quality.copy()
    table["mse"] = table["mse"].map(lambda v: f"{v:.5f}")
    table["explained_variance"] = table["explained_variance"].map(lambda v: f"{v:.3f}")
    return _table(table, ("model", "method", "mse", "explained_variance"))


def _image(path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f"data:image/png;base64,{data}"


def write_report(path: str | Path, results, summary: Summary, figures: list[Figure], settings: dict) -> Path:
    """Write ``report.html``.

    Parameters
    ----------
    path : path
    results : ecoae.evaluation.run.Results
    summary : Summary
    figures : list of Figure
    settings : dict
        The evaluation settings (stated in the method section).
    """
    d = results.dataset
    sites = ", ".join(f"{_esc(s)} ({n} recordings)" for s, n in d["sites"].items())
    dims = ", ".join(f"{_esc(n)} ({k} features)" for n, k in d["feature_sets"].items())
    rate = (f"All audio was resampled to {d['sample_rate']} Hz before any feature was computed, so a classifier "
            "cannot tell sites apart by their recorders' sample rate or format." if d.get("sample_rate") else "")
    tasks = results.tasks.copy()
    for column in ("n_examples", "n_groups", "n_folds"):
        if column in tasks:
            tasks[column] = tasks[column].astype("Int64")
    task_html = _table(tasks[[c for c in ("task", "timescale", "status", "reason", "group_by", "n_examples",
                                          "n_groups", "n_folds", "classes", "notes") if c in tasks]],
                       ("task", "timescale", "status", "reason", "group_by", "classes", "notes")) if len(tasks) else ""
    sections: dict[str, list[Figure]] = {}
    for figure in figures:
        sections.setdefault(figure.section, []).append(figure)
    figure_html = "".join(
        f"<h3>{_esc(section)}</h3>" + "".join(
            f'<figure><img src="{_image(f.path)}" alt="{_esc(f.title)}"><figcaption><b>{_esc(f.title)}.</b> '
            f"{_esc(f.caption)}</figcaption></figure>" for f in items)
        for section, items in sections.items()
    )
    notes = "".join(f"<li>{_esc(n)}</li>" for n in results.notes)
    summary_items = "".join(f"<li>{_esc(s)}</li>" for s in summary.sentences + quality_sentences(results.quality))
    if len(tasks):
        for row in tasks.itertuples(index=False):
            cautions = [n for n in str(row.notes).split(" | ") if n.startswith("caution")]
            if row.status == "evaluated" and cautions:
                summary_items += f"<li>{_esc(row.task)} at the {_esc(row.timescale)} timescale — {_esc(cautions[0])}.</li>"
        skipped = tasks[tasks["status"] == "skipped"]
        if len(skipped):
            listed = "; ".join(f"{r.task} at {r.timescale}" for r in skipped.itertuples(index=False))
            summary_items += (f"<li>Not evaluated (reasons in the task table): {_esc(listed)}.</li>")
    scales = ", ".join(_esc(s) for s in settings["timescales"])
    document = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>ecoae evaluation</title><style>{STYLE}</style>
<script>{SCRIPT}</script></head><body>
<h1>Which feature set answers which question</h1>
<p class=note>ecoae comparative evaluation of auto-encoder features, acoustic indices and MFCCs on this archive.</p>
<h2>Summary</h2>
<p>Model compared: <b>{_esc(settings['summary_model'])}</b>; score: balanced accuracy under grouped
cross-validation (same folds for every feature set, so differences are paired fold by fold).</p>
<ul class=summary>{summary_items}</ul>
<h2>Data</h2>
<p>{d['recordings']} recordings, {d['segments']} segments, {d['audio_minutes']:.1f} minutes of audio in
{d['partitions']} site-day partitions. Sites: {sites}. Dates: {_esc(', '.join(d['dates'][:10]))}{' …' if len(d['dates']) > 10 else ''}.
Feature sets: {dims}. {rate}</p>
<h2>Method</h2>
<p>Each task is a classification of labels from the recordings' metadata (site; diel period from the local start hour:
{_esc(', '.join(f'{k} {v[0]}–{v[1]} h' for k, v in settings['diel_periods'].items()))}; date, within sites recorded
on several dates) or from user label tables. Timescales: {scales}. At the segment timescale each example is a segment
and segments of one recording never fall on both sides of a split; longer timescales average the features over
windows of local time (mean and standard deviation of each feature, so their dimension doubles) and keep each
site-day on one side. Classes with fewer than {settings['min_examples_per_class']} examples or spread over fewer than
{settings['min_groups_per_class']} groups are dropped; a task left with fewer than two classes is skipped, with the
reason below. Models: random forest ({settings['random_forest_trees']} trees, balanced class weights) and logistic
regression on standardised features (C = {settings['logistic_c']}, balanced class weights); missing feature values are
imputed with the training fold's median. Up to {settings['n_splits']} stratified grouped folds, seed {settings['seed']}.</p>
<h2>Results</h2>{metrics_tables(results.metrics)}
<h2>Tasks</h2>{task_html}
<h2>Reconstruction quality of the image models</h2>
<p>How well each model reconstructs spectrograms of recordings held out from its training (validation images):
mean squared pixel error (pixels in [0, 1]) and explained variance, 1 − MSE / the variance of the validation pixels
around the training mean image (0: no better than the mean image; 1: perfect). Each auto-encoder is shown beside
PCAs of the same training images with as many components as its features (capped by the number of training
images) and with 32. A network that does worse than PCA-32 keeps less of the images than a linear projection to
32 numbers.</p>{quality_table_html(results.quality)}
<h2>Computation time</h2>
<p>Seconds of compute per minute of audio, summed from Snakemake's per-job benchmark records (wall-clock and CPU
time of each job, including its start-up) and divided by the minutes of audio of the partitions the jobs processed.
Auto-encoder features cost their spectrograms plus encoding; training is a one-off cost, shown apart and not
per minute.</p>{timing_table_html(results.timings)}
<h2>Figures</h2>{figure_html}
<h2>Notes</h2><ul>{notes or '<li>None.</li>'}</ul>
<p class=note>Tables: metrics.csv, fold_metrics.csv, tasks.csv, confusion.csv, timings.csv next to this file.</p>
</body></html>
"""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(document, encoding="utf-8")
    temporary.replace(path)
    return path
