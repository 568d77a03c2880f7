"""Figures of the evaluation report (PNG files under ``results/evaluation/figures``).

Every figure that shows feature sets gives each set the same colour
(:func:`set_colours`, from the sorted names of the run's sets).

- ``archive.png``: hours of audio per site and day (the archive's calendar);
- ``scores.png``: balanced accuracy of every set per task and timescale;
- ``projection_<set>.png``: 2-D PCA (and UMAP when installed) of a set's
  segments, coloured by each task's labels;
- ``diel_<set>.png``: mean per local hour and site of a few indices, or of the
  first principal components of the other sets;
- ``confusion_<task>_<timescale>.png``: out-of-fold confusion matrices;
- ``timings.png``: seconds of compute per minute of audio (set colours, stages hatched);
- ``ae_<model>_loss_curve.png`` / ``ae_<model>_reconstructions.png``: copied
  from the auto-encoder training outputs when present.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ecoae.evaluation import overview
from ecoae.evaluation.classify import prepare_features
from ecoae.evaluation.labels import label_column
from ecoae.evaluation.stores import SET_SEPARATOR


#: Section of the figures the report shows in its overview of the archive, not under Figures.
ARCHIVE_SECTION = "Archive"


@dataclass
class Figure:
    """A figure file and what the report says about it."""

    path: Path
    title: str
    caption: str
    section: str


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    fig.savefig(path, dpi=90, bbox_inches="tight")
    _pyplot().close(fig)
    return path


def set_colours(feature_sets) -> dict[str, tuple[float, float, float, float]]:
    """One colour per feature set, the same in every figure of a run.

    Colours follow the sorted set names (``tab10``, ``tab20`` beyond ten sets), so
    they depend on which sets the run holds, not on the order a figure meets them.
    """
    import matplotlib

    names = sorted(set(feature_sets))
    palette = matplotlib.colormaps["tab10" if len(names) <= 10 else "tab20"]
    return {name: palette(i % palette.N) for i, name in enumerate(names)}


def _standardised(values: np.ndarray) -> np.ndarray:
    values = prepare_features(values)
    keep = ~np.all(np.isnan(values), axis=0)
    values = values[:, keep]
    median = np.nanmedian(values, axis=0)
    values = np.where(np.isnan(values), median, values)
    std = values.std(axis=0)
    return (values - values.mean(axis=0)) / np.where(std > 0, std, 1.0)


def principal_components(values: np.ndarray, n: int = 2) -> np.ndarray:
    """Return the first ``n`` principal components of standardised features."""
    from sklearn.decomposition import PCA

    values = _standardised(values)
    n = min(n, values.shape[1], values.shape[0])
    return PCA(n_components=n, random_state=0).fit_transform(values)


def _umap(values: np.ndarray) -> np.ndarray | None:
    try:
        import umap
    except ImportError:
        return None
    neighbours = max(2, min(15, len(values) - 1))
    return umap.UMAP(n_neighbors=neighbours, random_state=0).fit_transform(_standardised(values))


def score_figure(metrics: pd.DataFrame, model: str, path: Path, colours: dict | None = None) -> Path | None:
    """Bar chart of balanced accuracy ± fold spread per task, timescale and set (see :func:`draw_scores`)."""
    fig = draw_scores(metrics, model, colours)
    return None if fig is None else _save(fig, path)


def draw_scores(metrics: pd.DataFrame, model: str, colours: dict | None = None):
    """Draw the score bars; the legend sits below the panels, clear of every bar.

    Parameters
    ----------
    metrics : DataFrame
    model : str
    colours : dict, optional
        Set name -> colour (default: :func:`set_colours` of the sets in ``metrics``).

    Returns
    -------
    matplotlib.figure.Figure or None
        None when ``model`` has no scores.
    """
    mine = metrics[metrics["model"] == model]
    if mine.empty:
        return None
    colours = colours or set_colours(mine["feature_set"])
    plt = _pyplot()
    tasks = list(dict.fromkeys(mine["task"]))
    sets = sorted(set(mine["feature_set"]))
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.6), squeeze=False)
    width = 0.8 / len(sets)
    for ax, task in zip(axes[0], tasks):
        rows = mine[mine["task"] == task]
        scales = list(dict.fromkeys(rows["timescale"]))
        for i, name in enumerate(sets):
            sub = rows[rows["feature_set"] == name].set_index("timescale").reindex(scales)
            ax.bar(np.arange(len(scales)) + i * width, sub["balanced_accuracy_mean"], width,
                   yerr=sub["balanced_accuracy_std"], capsize=2, label=name, color=colours[name])
        chance = rows.groupby("timescale")["chance_balanced_accuracy"].first().reindex(scales)
        for j, value in enumerate(chance):
            ax.hlines(value, j - 0.1, j + 0.9, colors="black", linestyles="dotted")
        ax.set_xticks(np.arange(len(scales)) + 0.4 - width / 2, scales)
        ax.set_ylim(0, 1.05)
        ax.set_title(task)
        ax.set_ylabel("balanced accuracy")
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, 0.0),
               ncol=min(len(sets), 5), frameon=False)
    fig.tight_layout()
    return fig


def projection_figure(frame: pd.DataFrame, set_name: str, columns: list[str], tasks: list[str],
                      max_points: int, use_umap: bool, path: Path) -> Path | None:
    """Scatter of a 2-D projection of one set's segments, one panel per task."""
    tasks = [t for t in tasks if label_column(t) in frame and frame[label_column(t)].notna().any()]
    if len(frame) < 3 or not tasks:
        return None
    sample = frame.sample(n=min(max_points, len(frame)), random_state=0) if len(frame) > max_points else frame
    projections = [("PCA", principal_components(sample[columns].to_numpy(), 2))]
    if use_umap and len(sample) > 5:
        embedded = _umap(sample[columns].to_numpy())
        if embedded is not None:
            projections.append(("UMAP", embedded))
    plt = _pyplot()
    fig, axes = plt.subplots(len(projections), len(tasks), figsize=(4 * len(tasks), 3.6 * len(projections)),
                             squeeze=False)
    for row, (method, points) in enumerate(projections):
        if points.shape[1] < 2:
            points = np.column_stack([points[:, 0], np.zeros(len(points))])
        for ax, task in zip(axes[row], tasks):
            values = sample[label_column(task)].astype("string").fillna("(unlabelled)").to_numpy()
            for label in sorted(set(values)):
                chosen = values == label
                ax.scatter(points[chosen, 0], points[chosen, 1], s=10, alpha=0.7, label=label)
            ax.set_title(f"{set_name}: {task} ({method})", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
            if len(set(values)) <= 12:
                ax.legend(fontsize=7, markerscale=1.5)
    return _save(fig, path)


def diel_columns(set_name: str, columns: list[str], wanted: list[str]) -> list[str]:
    """Columns of the indices set named in ``wanted`` (case-insensitive), in that order."""
    by_name = {c.split(SET_SEPARATOR, 1)[1].lower(): c for c in columns}
    return [by_name[w.lower()] for w in wanted if w.lower() in by_name]


def diel_figure(frame: pd.DataFrame, set_name: str, columns: list[str], wanted: list[str],
                path: Path) -> Path | None:
    """Mean per local hour and site of a few features of one set."""
    if len(frame) < 3:
        return None
    chosen = diel_columns(set_name, columns, wanted) if set_name == "indices" else []
    if chosen:
        curves = frame[chosen].astype(float).replace([np.inf, -np.inf], np.nan)
        curves.columns = [c.split(SET_SEPARATOR, 1)[1] for c in chosen]
    else:
        components = principal_components(frame[columns].to_numpy(), 2)
        curves = pd.DataFrame(components, columns=[f"PC{i + 1}" for i in range(components.shape[1])],
                              index=frame.index)
    curves["hour"] = pd.to_datetime(frame["local_start"]).dt.hour
    curves["site"] = frame["site"].astype(str)
    plt = _pyplot()
    names = [c for c in curves.columns if c not in ("hour", "site")]
    fig, axes = plt.subplots(1, len(names), figsize=(3.8 * len(names), 3.2), squeeze=False)
    for ax, name in zip(axes[0], names):
        for site, rows in curves.groupby("site"):
            means = rows.groupby("hour")[name].mean()
            ax.plot(means.index, means.to_numpy(), marker="o", markersize=3, label=site)
        ax.set_title(f"{set_name}: {name}", fontsize=9)
        ax.set_xlabel("local hour")
        ax.set_xlim(-0.5, 23.5)
    axes[0][0].legend(fontsize=7)
    return _save(fig, path)


def confusion_figure(confusion: pd.DataFrame, task: str, timescale: str, path: Path) -> Path | None:
    """Row-normalised out-of-fold confusion matrices, one panel per set and model."""
    rows = confusion[(confusion["task"] == task) & (confusion["timescale"] == timescale)]
    if rows.empty:
        return None
    sets = list(dict.fromkeys(rows["feature_set"]))
    models = list(dict.fromkeys(rows["model"]))
    classes = list(dict.fromkeys(rows["true"]))
    size = max(2.6, 0.35 * len(classes) + 1.6)
    plt = _pyplot()
    fig, axes = plt.subplots(len(models), len(sets), figsize=(size * len(sets), size * len(models)), squeeze=False)
    for i, model in enumerate(models):
        for j, name in enumerate(sets):
            sub = rows[(rows["model"] == model) & (rows["feature_set"] == name)]
            matrix = sub.pivot(index="true", columns="predicted", values="count").reindex(index=classes, columns=classes)
            normalised = matrix.div(matrix.sum(axis=1).replace(0, 1), axis=0).to_numpy(float)
            ax = axes[i][j]
            ax.imshow(normalised, vmin=0, vmax=1, cmap="Blues")
            if len(classes) <= 8:
                for (r, c), value in np.ndenumerate(matrix.to_numpy()):
                    ax.text(c, r, str(int(value)), ha="center", va="center", fontsize=7,
                            color="white" if normalised[r, c] > 0.5 else "black")
            ax.set_xticks(range(len(classes)), classes, rotation=90, fontsize=7)
            ax.set_yticks(range(len(classes)), classes if j == 0 else [], fontsize=7)
            ax.set_title(f"{name}\n{model}", fontsize=8)
            if j == 0:
                ax.set_ylabel("true")
            if i == len(models) - 1:
                ax.set_xlabel("predicted")
    fig.tight_layout()
    return _save(fig, path)


HATCHES = ("", "//", "..", "xx", "\\\\", "oo", "--", "++")


def timing_figure(timings: pd.DataFrame, path: Path, colours: dict | None = None) -> Path | None:
    """Stacked bars of compute seconds per minute of audio (see :func:`draw_timings`)."""
    fig = draw_timings(timings, colours)
    return None if fig is None else _save(fig, path)


def draw_timings(timings: pd.DataFrame, colours: dict | None = None):
    """Draw stacked bars of CPU seconds per audio minute: one bar per set in its colour, stages hatched.

    Returns
    -------
    matplotlib.figure.Figure or None
        None without per-minute records.
    """
    if timings.empty:
        return None
    stages = timings[(timings["kind"] == "per_partition") & (timings["stage"] != "total")]
    if stages.empty or stages["cpu_s_per_audio_min"].isna().all():
        return None
    table = stages.pivot_table(index="feature_set", columns="stage", values="cpu_s_per_audio_min", aggfunc="sum")
    colours = colours or set_colours(table.index)
    plt = _pyplot()
    from matplotlib.patches import Patch

    fig, ax = plt.subplots(figsize=(1.6 * len(table) + 2.5, 3.4))
    bottom = np.zeros(len(table))
    for stage, hatch in zip(table.columns, HATCHES * len(table.columns)):
        values = table[stage].fillna(0).to_numpy()
        ax.bar(table.index, values, bottom=bottom, color=[colours[name] for name in table.index],
               hatch=hatch, edgecolor="white", linewidth=0.8)
        bottom += values
    legend = [Patch(facecolor="0.6", edgecolor="white", hatch=hatch, label=stage)
              for stage, hatch in zip(table.columns, HATCHES * len(table.columns))]
    ax.legend(handles=legend, fontsize=8, title="stage", title_fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.set_ylabel("CPU seconds per minute of audio")
    ax.tick_params(axis="x", rotation=20)
    return fig


def calendar_figure(recordings: pd.DataFrame, path: Path) -> Path | None:
    """Heat map of the archive: sites x days, hours of audio per cell (blank: no recording)."""
    table, unit = overview.calendar(recordings)
    if table.empty:
        return None
    plt = _pyplot()
    import matplotlib

    days, sites = table.shape[1], table.shape[0]
    fig, ax = plt.subplots(figsize=(min(18.0, 2.5 + 0.28 * days), min(30.0, 1.2 + 0.32 * sites)))
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="#f2f2f2")
    image = ax.imshow(np.ma.masked_equal(table.to_numpy(float), 0.0), aspect="auto", cmap=cmap,
                      interpolation="nearest", vmin=0)
    step = max(1, days // 40)
    ax.set_xticks(range(0, days, step), table.columns[::step], rotation=90, fontsize=7)
    ax.set_yticks(range(sites), table.index, fontsize=7 if sites > 20 else 8)
    fig.colorbar(image, ax=ax, label=f"{unit} of audio" if unit == "hours" else unit, fraction=0.03, pad=0.01)
    return _save(fig, path)


def model_figures(models_dir: str | Path | None, feature_sets: list[str], figure_dir: Path) -> list[Figure]:
    """Copy each auto-encoder's loss curve and reconstructions into the figure folder."""
    out = []
    if models_dir is None:
        return out
    for name in feature_sets:
        if not name.startswith("ae-"):
            continue
        model = name.removeprefix("ae-")
        for stem, title in (("loss_curve", "training loss"), ("reconstructions", "reconstructions")):
            source = Path(models_dir) / model / f"{stem}.png"
            if source.exists():
                target = figure_dir / f"ae_{_safe(model)}_{stem}.png"
                shutil.copyfile(source, target)
                out.append(Figure(target, f"{name}: {title}",
                                  f"From the training rule of auto-encoder {model!r} ({source}).", "Auto-encoders"))
    return out


def make_all(results, segment_frame: pd.DataFrame, feature_sets: dict[str, list[str]], tasks: list[str],
             settings: dict, figure_dir: Path, models_dir: str | Path | None) -> list[Figure]:
    """Draw every figure of the report; returns them in report order."""
    figure_dir = Path(figure_dir)
    for old in figure_dir.glob("*.png"):
        old.unlink()
    made: list[Figure] = []

    def add(path, title, caption, section):
        if path is not None:
            made.append(Figure(Path(path), title, caption, section))

    colours = set_colours(feature_sets)
    recordings = results.archive.recordings
    add(calendar_figure(recordings, figure_dir / "archive.png") if recordings is not None else None,
        "Recordings per site and day",
        "Audio per site and local day from the inventory: hours (recordings when the inventory has no "
        "durations); grey: no recording that day.", ARCHIVE_SECTION)
    model = settings["summary_model"]
    add(score_figure(results.metrics, model, figure_dir / "scores.png", colours), "Scores",
        f"Balanced accuracy ({model}), mean over grouped folds; bars: standard deviation over folds; "
        "dotted: chance.", "Scores")
    for task in dict.fromkeys(results.confusion["task"]) if not results.confusion.empty else []:
        for timescale in dict.fromkeys(results.confusion.loc[results.confusion["task"] == task, "timescale"]):
            add(confusion_figure(results.confusion, task, timescale,
                                 figure_dir / f"confusion_{_safe(task)}_{_safe(timescale)}.png"),
                f"Confusion: {task}, {timescale}",
                "Out-of-fold predictions summed over folds (counts; colour: fraction of the true class).",
                "Confusion matrices")
    for name, columns in feature_sets.items():
        add(projection_figure(segment_frame, name, columns, tasks, settings["projection_points"], settings["umap"],
                              figure_dir / f"projection_{_safe(name)}.png"),
            f"Projection: {name}", "Segments of the set projected to 2-D (standardised features), "
            "coloured by each task's label.", "Projections")
    for name, columns in feature_sets.items():
        add(diel_figure(segment_frame, name, columns, settings["diel_indices"], figure_dir / f"diel_{_safe(name)}.png"),
            f"Diel curves: {name}", "Mean per local hour and site (indices by name; other sets: first principal "
            "components of standardised features).", "Diel curves")
    add(timing_figure(results.timings, figure_dir / "timings.png", colours), "Compute cost",
        "CPU seconds per minute of audio, by stage (hatching), from the workflow's benchmark records; "
        "each set has its colour of the score figure.", "Compute cost")
    made.extend(model_figures(models_dir, list(feature_sets), figure_dir))
    return made
