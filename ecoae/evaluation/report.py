"""The self-contained HTML report (figures embedded, opens in any browser).

Its first screen holds the summary: each feature set's compute cost beside its
scores, then the sentences. The archive's overview follows, then the data,
method, results and figures. In every table only the best cell of each column is
marked (a score only when it is above chance), never a whole row.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

import numpy as np
import pandas as pd

from ecoae.evaluation import overview
from ecoae.evaluation.figures import ARCHIVE_SECTION, Figure
from ecoae.evaluation.quality import quality_sentences
from ecoae.evaluation.summary import ABOVE_CHANCE, Summary, set_costs, window_note

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{margin-bottom:.2em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .55em;text-align:right}th{background:#f2f2f2}
td.text,th.text{text-align:left}td.best{font-weight:700;background:#e3f1e3}tr.total td{font-weight:600}
figure{margin:1em 0 2em}figure img{max-width:100%;border:1px solid #ddd}figcaption{font-size:.9em;color:#555}
.summary li{margin:.3em 0}.note{color:#555;font-size:.9em}
"""

# Counts the images that decoded (data-images-loaded) and states where the elements marked
# data-first-screen lie on the page (data-first-screen-layout="name:top-bottom;..." in CSS pixels),
# so a headless browser can check the report and its first screen.
SCRIPT = """
window.addEventListener('load', function () {
  var images = Array.from(document.images);
  var ok = images.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute('data-images-loaded', ok + '/' + images.length);
  var spots = Array.from(document.querySelectorAll('[data-first-screen]')).map(function (e) {
    var r = e.getBoundingClientRect();
    return e.getAttribute('data-first-screen') + ':' + Math.round(r.top + window.scrollY) + '-'
      + Math.round(r.bottom + window.scrollY);
  });
  document.body.setAttribute('data-first-screen-layout', spots.join(';'));
});
"""


def _esc(value) -> str:
    return html.escape(str(value))


def _cell_class(text: bool, best: bool) -> str:
    return " ".join(name for name, on in (("text", text), ("best", best)) if on)


def _table(frame: pd.DataFrame, text_columns: tuple[str, ...] = (), best_cells: set[tuple[int, str]] = frozenset(),
           total_rows: set[int] = frozenset(), attributes: str = "") -> str:
    """An HTML table; ``best_cells`` holds (row position, column) of the cells to mark as best."""
    head = "".join(f'<th class="{"text" if c in text_columns else ""}">{_esc(c)}</th>' for c in frame.columns)
    body = []
    for position, (_, row) in enumerate(frame.iterrows()):
        cells = "".join(
            f'<td class="{_cell_class(c in text_columns, (position, c) in best_cells)}">'
            f'{_esc("" if pd.isna(v) else v)}</td>'
            for c, v in row.items()
        )
        body.append(f'<tr class="{"total" if position in total_rows else ""}">{cells}</tr>')
    return f"<table{attributes}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def best_positions(values, higher: bool = True, above: float | None = None) -> set[int]:
    """Positions of the best finite values (all of them on a tie); none when the best is not above ``above``."""
    array = np.asarray(values, dtype=float)
    finite = np.isfinite(array)
    if not finite.any():
        return set()
    best = np.nanmax(array[finite]) if higher else np.nanmin(array[finite])
    if above is not None and not best > above:
        return set()
    return {int(i) for i in np.flatnonzero(finite & np.isclose(array, best))}


def _pm(mean: float, std: float) -> str:
    return f"{mean:.3f} ± {std:.3f}"


SCORES = (("balanced_accuracy", "balanced accuracy"), ("f1_macro", "macro F1"))


def _window_notes(tasks: pd.DataFrame | None) -> dict[str, str]:
    """Timescale -> what its segments per window say (only timescales that aggregate little or nothing)."""
    if tasks is None or tasks.empty or "segments_per_window_max" not in tasks:
        return {}
    windows = tasks.dropna(subset=["segments_per_window_max"]).drop_duplicates("timescale")
    notes = {r.timescale: window_note(r.timescale, r.segments_per_window_median, r.segments_per_window_max)
             for r in windows.itertuples(index=False)}
    return {k: v for k, v in notes.items() if v}


def metrics_tables(metrics: pd.DataFrame, tasks: pd.DataFrame | None = None) -> str:
    """One table per task and timescale: sets as rows, models as column groups, the best cell of each column marked.

    A score column's best cell is marked only when it is above chance. ``tasks`` (optional)
    adds, under a timescale that aggregates little or nothing, what its windows hold.
    """
    if metrics.empty:
        return "<p>No task was evaluated.</p>"
    window_notes = _window_notes(tasks)
    parts = []
    for (task, timescale), group in metrics.groupby(["task", "timescale"], sort=False):
        first = group.iloc[0]
        names = list(dict.fromkeys(group["feature_set"]))
        table = pd.DataFrame({"feature set": names,
                              "dimension": [int(group.loc[group["feature_set"] == n, "dimension"].iloc[0])
                                            for n in names]})
        best: set[tuple[int, str]] = set()
        for model in dict.fromkeys(group["model"]):
            rows = group[group["model"] == model].set_index("feature_set").reindex(names)
            for score, label in SCORES:
                column = f"{model}: {label}"
                table[column] = [_pm(m, s) if pd.notna(m) else ""
                                 for m, s in zip(rows[f"{score}_mean"], rows[f"{score}_std"])]
                best |= {(i, column) for i in best_positions(rows[f"{score}_mean"],
                                                             above=first["chance_balanced_accuracy"])}
        window = f" Note: {_esc(window_notes[timescale])}." if timescale in window_notes else ""
        parts.append(
            f"<h3>{_esc(task)} — {_esc(timescale)}</h3><p class=note>{first['n_examples']} examples, "
            f"{first['n_classes']} classes (chance balanced accuracy {first['chance_balanced_accuracy']:.2f}), "
            f"{first['n_groups']} groups by {_esc(first['group_by'])}, {first['n_folds']} folds; mean ± standard "
            f"deviation over folds; marked: the best set in each column, when above chance.{window}</p>"
            + _table(table, ("feature set",), best)
        )
    return "".join(parts)


def _cost(value: float) -> str:
    if pd.isna(value):
        return "—"
    return f"{value:.3g}" if value < 1000 else f"{value:,.0f}"


def cost_table_html(metrics: pd.DataFrame, timings: pd.DataFrame, summary: Summary, feature_sets: list[str],
                    model: str) -> str:
    """The summary's table: each set's compute cost beside its score on every task and timescale.

    Parameters
    ----------
    metrics, timings : DataFrame
    summary : Summary
        Its table's ``verdict`` says which task columns have a set above chance.
    feature_sets : list of str
        Every set of the run (rows, in this order).
    model : str
        The model compared (the summary's own when its table names one).

    Returns
    -------
    str
        A table marked ``data-first-screen="cost"``: the cheapest per-minute cost and,
        where a set is above chance, the best score of each column are marked.
    """
    if not summary.table.empty:
        model = summary.table["model"].iloc[0]
    costs = set_costs(timings, feature_sets)
    table = pd.DataFrame({"feature set": costs["feature_set"],
                          "CPU s / audio min": costs["cpu_s_per_audio_min"].map(_cost),
                          "one-off CPU s (training)": costs["one_off_cpu_s"].map(_cost)})
    best = {(i, "CPU s / audio min") for i in best_positions(costs["cpu_s_per_audio_min"], higher=False)}
    verdicts = ({(r.task, r.timescale): r.verdict for r in summary.table.itertuples(index=False)}
                if "verdict" in summary.table else {})
    mine = metrics[metrics["model"] == model] if not metrics.empty else metrics
    for (task, timescale), group in (mine.groupby(["task", "timescale"], sort=False) if len(mine) else []):
        verdict = verdicts.get((task, timescale))
        column = f"{task} · {timescale}" + ("" if verdict in ABOVE_CHANCE else " (no set above chance)")
        rows = group.set_index("feature_set").reindex(table["feature set"])
        table[column] = [_pm(m, s) if pd.notna(m) else ""
                         for m, s in zip(rows["balanced_accuracy_mean"], rows["balanced_accuracy_std"])]
        if verdict in ABOVE_CHANCE:
            best |= {(i, column) for i in best_positions(rows["balanced_accuracy_mean"])}
    return _table(table, ("feature set",), best, attributes=' id="cost" data-first-screen="cost"')


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
    return _table(shown, ("feature set", "stage", "rule", "kind"), total_rows=totals)


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


def _figure(figure: Figure) -> str:
    return (f'<figure><img src="{_image(figure.path)}" alt="{_esc(figure.title)}"><figcaption><b>{_esc(figure.title)}.'
            f"</b> {_esc(figure.caption)}</figcaption></figure>")


def archive_html(archive: overview.Archive, figures: list[Figure]) -> str:
    """The archive's overview: totals, calendar heat map, one row per site, quarantined files by reason."""
    sentences = " ".join(_esc(s) for s in overview.overview_sentences(archive))
    notes = "".join(f"<li>{_esc(n)}</li>" for n in archive.notes)
    parts = [f"<p>{sentences}</p>", f"<ul class=note>{notes}</ul>" if notes else ""]
    parts += [_figure(f) for f in figures]
    if archive.recordings is not None and len(archive.recordings):
        sites = overview.site_table(archive.recordings)
        sites["hours"] = sites["hours"].map(lambda v: "" if pd.isna(v) else f"{v:.1f}")
        parts.append("<h3>Sites</h3><p class=note>Start times by source: file name, metadata embedded in the file, "
                     "or the file's modification time.</p>"
                     + _table(sites, ("site", "first", "last")))
        noted = overview.time_problem_table(archive.recordings)
        if len(noted):
            parts.append("<h3>Recordings with a problem in their start time</h3>"
                         + _table(noted, ("reason", "sites", "example", "detail")))
    left_out = overview.problem_segment_table(archive.problems)
    if len(left_out):
        parts.append("<h3>Segments left out</h3><p class=note>Their audio could not be read when features were "
                     "computed (the file changed after the inventory, or holds NaN or infinite samples); they are "
                     "absent from every feature store. Per stage: results/problems/.</p>"
                     + _table(left_out, ("reason", "sites", "example", "detail")))
    if archive.quarantine is not None:
        quarantined = overview.quarantine_table(archive.quarantine)
        parts.append("<h3>Quarantined files</h3>" + (
            _table(quarantined, ("reason", "sites", "example", "detail")) if len(quarantined)
            else "<p class=note>No file was quarantined.</p>"))
    return "".join(parts)


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
    for column in ("n_examples", "n_groups", "n_folds", "segments_per_window_max"):
        if column in tasks:
            tasks[column] = tasks[column].astype("Int64")
    tasks = tasks.rename(columns={"segments_per_window_median": "segments per window (median)",
                                  "segments_per_window_max": "segments per window (max)"})
    task_html = _table(tasks[[c for c in ("task", "timescale", "status", "reason", "group_by", "n_examples",
                                          "n_groups", "n_folds", "segments per window (median)",
                                          "segments per window (max)", "classes", "notes") if c in tasks]],
                       ("task", "timescale", "status", "reason", "group_by", "classes", "notes")) if len(tasks) else ""
    sections: dict[str, list[Figure]] = {}
    for figure in figures:
        sections.setdefault(figure.section, []).append(figure)
    archive = archive_html(results.archive, sections.pop(ARCHIVE_SECTION, []))
    figure_html = "".join(
        f"<h3>{_esc(section)}</h3>" + "".join(_figure(f) for f in items) for section, items in sections.items()
    )
    costs = cost_table_html(results.metrics, results.timings, summary, list(d["feature_sets"]),
                            settings["summary_model"])
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
<h2 id=summary data-first-screen=summary>Summary</h2>
<p>Each set's compute cost (CPU seconds per minute of audio, all stages; one-off training or fitting apart) beside
its balanced accuracy (mean ± standard deviation over grouped folds; <b>{_esc(settings['summary_model'])}</b>).
Marked: the cheapest set, and the best score of each column where a set is above chance.</p>
{costs}
<ul class=summary>{summary_items}</ul>
<h2 id=archive>Archive</h2>{archive}
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
<h2>Results</h2>{metrics_tables(results.metrics, results.tasks)}
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
