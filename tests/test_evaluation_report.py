"""End to end: `ecoae evaluate` on small synthetic stores -> tables, figures, report.html in Chromium.

The fixture also writes an inventory (recordings and quarantine tables, one site
name holding markup) for the report's overview of the archive.
"""

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
HOSTILE_SITE = "<script>alert(1)</script>"


def write_inventory(root: Path, segments: pd.DataFrame) -> None:
    """Recordings of the synthetic stores (one timed by its file's mtime) and two quarantined files."""
    recordings = segments.groupby("recording_id", as_index=False).agg(
        path=("path", "first"), site=("site", "first"), date=("date", "first"), local_start=("local_start", "min"),
        duration=("duration", "sum"))
    recordings["time_source"] = "filename:test"
    recordings.loc[0, "time_source"] = "file_mtime"
    quarantine = pd.DataFrame({
        "path": [f"{HOSTILE_SITE}/empty.wav", "alpha/short.wav"], "site": [HOSTILE_SITE, "alpha"],
        "reason": ["empty file (0 bytes): the recorder wrote no audio; nothing to recover",
                   "too short: 0.500 s of audio, less than segments.min_segment_seconds = 1 s"],
        "file_size": [0, 100], "file_mtime_ns": [0, 0]})
    (root / "inventory").mkdir()
    recordings.to_parquet(root / "inventory" / "recordings.parquet")
    quarantine.to_parquet(root / "inventory" / "quarantine.parquet")


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluation")
    built = build_stores(root)
    write_inventory(root, built["segments"])
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
    for expected in ("archive.png", "scores.png", "confusion_site_segment.png", "projection_indices.png",
                     "diel_indices.png", "timings.png", "ae_test16_loss_curve.png", "ae_test16_reconstructions.png"):
        assert expected in figures
    assert html.count("<img ") == len(figures)


def test_summary_puts_cost_beside_scores_before_the_sentences(evaluated):
    html = (evaluated / "report.html").read_text()
    summary = html[html.index('id=summary'):html.index('id=archive')]
    table = summary[summary.index('<table id="cost"'):summary.index("</table>")]
    assert summary.index('<table id="cost"') < summary.index("<ul class=summary>")
    rows = {row.split("</td>")[0].rsplit(">", 1)[-1]: row for row in table.split("<tr")[2:]}
    assert set(rows) == {"ae-test16", "indices", "mfcc"}
    # ae-test16: 4 partitions x (spectrograms + encode) x 2 s CPU over 144 audio minutes; training once 100 s.
    assert ">0.111<" in rows["ae-test16"] and ">100<" in rows["ae-test16"]
    assert ">0.0556<" in rows["indices"] and ">—<" in rows["indices"]
    assert '<td class="best">0.0556</td>' in rows["mfcc"]  # the cheapest, tied with indices
    metrics = pd.read_csv(evaluated / "metrics.csv")
    site = metrics[(metrics["task"] == "site") & (metrics["timescale"] == "segment")
                   & (metrics["model"] == "random_forest")].set_index("feature_set")
    assert f'{site.loc["ae-test16", "balanced_accuracy_mean"]:.3f} ± ' in rows["ae-test16"]


def test_report_shows_the_archive_after_the_summary(evaluated):
    html = (evaluated / "report.html").read_text()
    assert html.index("id=summary") < html.index("id=archive") < html.index("<h2>Data</h2>")
    archive = html[html.index("id=archive"):html.index("<h2>Data</h2>")]
    assert "48 recordings, 2.4 hours of audio at 2 sites on 2 days (2021-06-01 to 2021-06-02); 2 files quarantined" \
        in archive
    assert "Start times from file name: 47, file mtime: 1." in archive
    assert "Caution: the start time of 1 recording comes from the file&#x27;s modification time" in archive
    assert archive.count("<img ") == 1 and 'alt="Recordings per site and day"' in archive
    assert HOSTILE_SITE not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in archive
    assert ">empty file<" in archive and ">too short<" in archive


def test_tasks_carry_the_segments_per_window(evaluated):
    tasks = pd.read_csv(evaluated / "tasks.csv")
    hour = tasks[tasks["timescale"] == "1h"]
    # Three one-minute segments per recording, one recording every two hours: three per window.
    assert (hour["segments_per_window_median"] == 3).all() and (hour["segments_per_window_max"] == 3).all()
    assert tasks.loc[tasks["timescale"] == "segment", "segments_per_window_max"].isna().all()
    assert not tasks["notes"].fillna("").str.contains("window holds one segment").any()


@pytest.fixture(scope="module")
def rendered(evaluated, tmp_path_factory):
    """The report rendered by scripts/screenshot_report.py in headless Chromium (1280 px wide, first screen 900 px)."""
    sys.path.insert(0, str(SCREENSHOT.parent))
    from screenshot_report import find_chromium

    if find_chromium() is None:
        pytest.skip("no chromium installed (Debian: apt-get install chromium); cannot render report.html")
    shot = tmp_path_factory.mktemp("screenshot") / "report.png"
    done = subprocess.run([sys.executable, str(SCREENSHOT), str(evaluated / "report.html"), "--out", str(shot),
                           "--height", "2000", "--width", "1280", "--first-screen", "900"],
                          capture_output=True, text=True, timeout=300)
    return done, shot


def test_report_renders_in_headless_chromium(evaluated, rendered):
    done, shot = rendered
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    figures = len(list((evaluated / "figures").glob("*.png")))
    assert result["images_total"] == figures and result["images_loaded"] == figures
    assert shot.stat().st_size > 10_000


def test_first_screen_shows_the_summary_and_the_cost_table(rendered):
    done, _ = rendered
    result = json.loads(done.stdout.strip().splitlines()[-1])
    screen = result["first_screen"]
    assert set(screen["elements"]) == {"summary", "cost"} and screen["visible"]
    summary, cost = screen["elements"]["summary"], screen["elements"]["cost"]
    assert 0 < summary[0] < summary[1] <= cost[0] < cost[1] <= 900


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
