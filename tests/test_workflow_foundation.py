"""The inventory and segmentation rules run by Snakemake on real recordings."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from ecoae.store import read_parquet
from workflow_helpers import REPO, planned_jobs, snakemake, write_fast_config


@pytest.fixture(scope="module")
def archive_copy(shared_data, tmp_path_factory):
    target = tmp_path_factory.mktemp("archive") / "archive"
    shutil.copytree(shared_data / "archive", target)
    return target


def test_inventory_and_segments_then_nothing_to_do(archive_copy, tmp_path):
    results = tmp_path / "results"
    config = ["--config", f"archive={archive_copy}", f"results={results}"]
    run = snakemake("--cores", "2", "segments", *config)
    assert "ecoae: 120 recordings used, 0 files quarantined" in run.stdout + run.stderr
    recordings = read_parquet(results / "inventory" / "recordings.parquet")
    assert recordings.groupby("site").size().to_dict() == {"dagua": 72, "jura": 48}
    stores = sorted((results / "segments").glob("site=*/date=*/part-0.parquet"))
    assert [p.relative_to(results / "segments").parts[:2] for p in stores] == [
        ("site=dagua", "date=2017-03-25"), ("site=dagua", "date=2017-03-26"),
        ("site=dagua", "date=2017-03-27"), ("site=jura", "date=2019-05-22")]
    segments = pd.concat(read_parquet(p) for p in stores)
    assert len(segments) == 120 and set(segments["recording_id"]) == set(recordings["recording_id"])

    again = snakemake("--cores", "2", "segments", "-n", *config)
    assert "Nothing to be done" in again.stdout + again.stderr
    # A dry run of the whole workflow before any model exists plans every stage, one job
    # per site and week (jobs.days_per_job): dagua's three days span two ISO weeks.
    whole = planned_jobs(snakemake("-n", *config).stdout)
    assert whole["train"] == 2 and whole["images"] == 3 and whole["audio_features"] == 3 and whole["evaluate"] == 1
    assert whole["fit_pca"] == 1 and whole["training_images"] == 1

    # A new day for one site: only the inventory and the segments of that site's week run.
    shutil.copy(archive_copy / "jura" / "S4A03895_20190522_063000.wav",
                archive_copy / "jura" / "S4A03895_20190523_063000.wav")
    snakemake("--cores", "2", "--until", "inventory", *config)
    plan = snakemake("--cores", "2", "segments", "-n", *config)
    assert planned_jobs(plan.stdout) == {"segment": 1, "segments": 1}
    assert "site=jura, days=2019-05-20_2019-05-26" in plan.stdout and "date=2019-05-23.parquet" in plan.stdout

    # Removing that day again removes its partition from the stores.
    snakemake("--cores", "2", "segments", *config)
    new_partition = results / "segments" / "site=jura" / "date=2019-05-23"
    assert (new_partition / "part-0.parquet").exists()
    (archive_copy / "jura" / "S4A03895_20190523_063000.wav").unlink()
    snakemake("--cores", "2", "segments", *config)
    assert not new_partition.exists() and (results / "segments" / "site=jura" / "date=2019-05-22").exists()


@pytest.mark.slow
def test_hostile_archive_runs_the_whole_workflow(shared_data, tmp_path):
    """Broken files are quarantined, a damaged float WAV costs its own segment, hostile folder
    and results names neither stop nor hijack the run; the odd files (256 kHz, MP3 silence,
    1 s) get every feature set and a report."""
    import numpy as np
    import soundfile as sf

    archive = tmp_path / "archive"
    shutil.copytree(shared_data / "quirky", archive / "<script>alert(1)")
    damaged = archive / "a{b}c"
    damaged.mkdir()
    tone = (0.1 * np.sin(np.arange(16000 * 4) * 0.3)).astype(np.float32)
    sf.write(damaged / "20240501_000000.WAV", tone, 16000, subtype="FLOAT")
    tone[20000:20010] = np.nan
    sf.write(damaged / "20240501_001000.WAV", tone, 16000, subtype="FLOAT")
    results = tmp_path / "out $(touch PWNED) dir"
    run = snakemake("--cores", "2", "--configfile", str(REPO / "config" / "config.yaml"),
                    str(write_fast_config(tmp_path)), "--config", f"archive={archive}", f"results={results}")
    output = run.stdout + run.stderr
    assert "ecoae: 7 recordings used, 3 files quarantined, 1 segments with problems" in output
    assert not list(tmp_path.rglob("PWNED")) and not (REPO / "PWNED").exists()
    recordings = read_parquet(results / "inventory" / "recordings.parquet")
    names = dict(zip(recordings["site"], recordings["site_name"]))
    assert set(names.values()) == {"<script>alert(1)", "a{b}c"}
    assert all(key != name for key, name in names.items())  # both made safe for paths
    quarantine = read_parquet(results / "inventory" / "quarantine.parquet")
    assert {Path(p).name for p in quarantine["path"]} == {
        "audiomoth_zero_bytes_20220104_183000.WAV", "truncated_header_stereo_empty.wav", "stereo_float_5_frames.wav"}
    for store in ("ae-explicit384", "ae-implicit384", "pca32", "indices", "mfcc"):
        rows = pd.concat(read_parquet(p) for p in (results / "features" / store).glob("site=*/date=*/part-0.parquet"))
        assert len(rows) == 6, store  # 5 odd files + the good float WAV; the damaged one is a problem
    problems = pd.concat(read_parquet(p) for p in (results / "problems").glob("*/site=*/date=*/part-0.parquet"))
    assert set(problems["stage"]) == {"spectrograms", "indices", "mfcc"}
    assert set(problems["path"]) == {"a{b}c/20240501_001000.WAV"}
    assert problems["reason"].str.contains("10 of 64000 samples are NaN or infinite").all()
    indices = pd.concat(read_parquet(p) for p in (results / "features" / "indices").glob("*/*/part-0.parquet"))
    assert indices["qc_silent"].sum() == 1  # the MP3 of digital silence
    report = (results / "evaluation" / "report.html").read_text()
    assert "<script>alert(1)" not in report and "&lt;script&gt;alert(1)" in report


def test_bad_config_value_is_named(tmp_path):
    run = snakemake("-n", "--config", "archive=/nonexistent", f"results={tmp_path}", "segmnets=1", check=False)
    assert run.returncode != 0 and "unknown setting config.segmnets; did you mean 'segments'?" in run.stdout + run.stderr


def test_missing_archive_stops_at_start_with_one_line(tmp_path):
    results = tmp_path / "results"
    run = snakemake("--cores", "1", "--config", f"archive={tmp_path / 'nowhere'}", f"results={results}", check=False)
    assert run.returncode != 0
    lines = [line for line in (run.stdout + run.stderr).splitlines() if "is not a folder" in line]
    assert lines == [f"config archive: {tmp_path / 'nowhere'} is not a folder; pass --config "
                     "archive=/path/to/recordings (or leave archive empty to run the demo archive)"]
    assert "Traceback" not in run.stderr and not results.exists()
