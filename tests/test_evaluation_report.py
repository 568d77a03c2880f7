"""End to end: `ecoae evaluate` on small synthetic stores -> tables, figures, report.html in Chromium."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecoae.cli import main
from test_evaluation_stores import build_stores
from test_evaluation_timings import write_benchmark

REPO = Path(__file__).resolve().parents[1]
SCREENSHOT = REPO / "scripts" / "screenshot_report.py"


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluation")
    built = build_stores(root)
    for (site, date), frame in built["segments"].groupby(["site", "date"]):
        for rule in ("spectrograms", "indices", "mfcc", "encode/ae-test16"):
            write_benchmark(root / "benchmarks" / rule / f"site={site}/date={date}.tsv", 3.0, 2.0)
    write_benchmark(root / "benchmarks" / "train" / "test16.tsv", 60.0, 100.0)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    (root / "models" / "test16").mkdir(parents=True)
    for name in ("loss_curve", "reconstructions"):
        fig, ax = plt.subplots(figsize=(2, 2))
        ax.plot([3, 2, 1])
        fig.savefig(root / "models" / "test16" / f"{name}.png")
        plt.close(fig)
    # A user task with one class only (skipped), from a CSV naming recordings by file path.
    alpha = built["segments"][built["segments"]["site"] == "alpha"].drop_duplicates("recording_id")
    pd.DataFrame({"recording": alpha["path"], "label": "present"}).to_csv(root / "owl.csv", index=False)
    settings = {
        "timescales": ["segment", "1h"], "random_forest_trees": 20, "n_splits": 3, "projection_points": 200,
        "label_tables": [{"name": "owl", "path": "owl.csv"}],
    }
    out = root / "evaluation"
    argv = ["evaluate", "--results", str(root), "--settings", json.dumps(settings), "--threads", "2",
            "--base-dir", str(root)]
    for name in built["feature_dirs"]:
        argv += ["--feature-set", name]
    assert main(argv) == 0
    return out


def test_metrics_cover_every_set_task_and_timescale(evaluated):
    metrics = pd.read_csv(evaluated / "metrics.csv")
    site = metrics[(metrics["task"] == "site") & (metrics["timescale"] == "segment")]
    assert set(site["feature_set"]) == {"ae-test16", "indices", "mfcc"}
    assert set(site["model"]) == {"random_forest", "logistic"}
    assert (site["group_by"] == "recording").all() and (site["n_folds"] == 3).all()
    assert dict(zip(site["feature_set"], site["dimension"])) == {"ae-test16": 16, "indices": 4, "mfcc": 8}
    hour = metrics[metrics["timescale"] == "1h"]
    assert (hour["group_by"] == "site-day").all()
    assert set(hour.loc[hour["feature_set"] == "indices", "dimension"]) == {8}  # mean + std
    # The synthetic AE features carry the site signal, the MFCCs none: the evaluation must see it.
    rf = site[site["model"] == "random_forest"].set_index("feature_set")["balanced_accuracy_mean"]
    assert rf["ae-test16"] > 0.75 and rf["mfcc"] < 0.7
    folds = pd.read_csv(evaluated / "fold_metrics.csv")
    assert len(folds) == 3 * len(metrics)


def test_one_class_user_task_is_skipped_with_reason(evaluated):
    tasks = pd.read_csv(evaluated / "tasks.csv")
    owl = tasks[tasks["task"] == "owl"]
    assert set(owl["status"]) == {"skipped"}
    assert owl["reason"].str.contains("only class 'present'").all()


def test_timings_and_report_text(evaluated):
    timing = pd.read_csv(evaluated / "timings.csv").set_index(["feature_set", "stage"])
    # 4 partitions x 2 s CPU each over 144 one-minute segments.
    assert timing.loc[("indices", "total"), "cpu_s_per_audio_min"] == pytest.approx(8.0 / 144)
    assert timing.loc[("ae-test16", "total"), "cpu_s_per_audio_min"] == pytest.approx(16.0 / 144)
    html = (evaluated / "report.html").read_text()
    assert "site at the segment timescale: ae-test16 wins" in html
    assert "resampled to 22050 Hz" in html
    figures = sorted(p.name for p in (evaluated / "figures").glob("*.png"))
    for expected in ("scores.png", "confusion_site_segment.png", "projection_indices.png", "diel_indices.png",
                     "timings.png", "ae_test16_loss_curve.png", "ae_test16_reconstructions.png"):
        assert expected in figures
    assert html.count("<img ") == len(figures)


def test_report_renders_in_headless_chromium(evaluated, tmp_path):
    sys.path.insert(0, str(SCREENSHOT.parent))
    from screenshot_report import find_chromium

    if find_chromium() is None:
        pytest.skip("no chromium installed (Debian: apt-get install chromium); cannot render report.html")
    shot = tmp_path / "report.png"
    done = subprocess.run([sys.executable, str(SCREENSHOT), str(evaluated / "report.html"), "--out", str(shot),
                           "--height", "2000"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    figures = len(list((evaluated / "figures").glob("*.png")))
    assert result["images_total"] == figures and result["images_loaded"] == figures
    assert shot.stat().st_size > 10_000


def test_duration_confound_is_noted_only_when_classes_do_not_overlap():
    from ecoae.evaluation.run import duration_confound

    y = np.array(["jura"] * 3 + ["dagua"] * 3)
    note = duration_confound(pd.Series([10.0] * 3 + [5.0] * 3), y)
    assert len(note) == 1 and "dagua: 5 s, jura: 10 s" in note[0]
    assert duration_confound(pd.Series([10.0, 5.0, 10.0, 5.0, 10.0, 10.0]), y) == []


def test_segment_cap_samples_whole_recordings_deterministically():
    from ecoae.evaluation.run import recording_sample

    ids = pd.Series([f"rec{i // 4}" for i in range(4000)])
    keep = recording_sample(ids, 0.25, seed=0)
    assert np.array_equal(keep, recording_sample(ids, 0.25, seed=0))
    per_recording = pd.Series(keep).groupby(ids).agg(["all", "any"])
    assert (per_recording["all"] == per_recording["any"]).all()  # never part of a recording
    assert 0.18 < keep.mean() < 0.32
    assert recording_sample(ids, 1.0, seed=0).all()
