"""Archive-scale behaviour of the whole workflow: incremental re-runs and kill-and-resume.

These run Snakemake end to end (minutes), with a small training configuration.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from ecoae.archive.demo import generate_demo_archive
from workflow_helpers import REPO, planned_jobs, snakemake, write_fast_config

pytestmark = pytest.mark.slow

@pytest.fixture(scope="module")
def fast_config(tmp_path_factory) -> Path:
    return write_fast_config(tmp_path_factory.mktemp("config"))


def run_args(archive: Path, results: Path, fast_config: Path) -> list[str]:
    return ["--cores", "2", "--configfile", str(REPO / "config" / "config.yaml"), str(fast_config),
            "--config", f"archive={archive}", f"results={results}"]


def test_new_day_runs_only_its_batch_and_never_retrains(tmp_path, fast_config):
    archive, later = tmp_path / "archive", tmp_path / "later"
    small = dict(sites=2, interval_minutes=240, recording_seconds=10)
    generate_demo_archive(archive, days=1, **small)
    generate_demo_archive(later, days=2, **small)
    args = run_args(archive, tmp_path / "results", fast_config)
    snakemake(*args)
    assert "Nothing to be done" in snakemake(*args, "-n").stdout
    models = sorted((tmp_path / "results" / "models").glob("*/model.*"))
    stamps = [path.stat().st_mtime_ns for path in models]
    other_site = sorted((tmp_path / "results").glob("features/*/site=wetland/date=*/part-0.parquet"))
    other_stamps = [path.stat().st_mtime_ns for path in other_site]

    new_day = sorted((later / "forest").glob("20240502_*.WAV"))
    assert new_day
    for path in new_day:
        shutil.copy(path, archive / "forest" / path.name)
    snakemake(*args, "--until", "inventory")
    dry = snakemake(*args, "-n").stdout
    # Three jobs for the new day's batch, forest's ISO week (segments; indices and MFCC in
    # one pass; images rendered and encoded with every model in one process), the
    # evaluation, and no training.
    assert planned_jobs(dry) == {"segment": 1, "images": 1, "audio_features": 1, "evaluate": 1, "all": 1}
    batches = set(re.findall(r"site=(\w+), days=([\d_-]+)", dry))
    assert batches == {("forest", "2024-04-29_2024-05-05")}
    snakemake(*args)
    stores = (tmp_path / "results" / "features").glob("*/site=forest/date=2024-05-02/part-0.parquet")
    assert len(list(stores)) == 5  # two AE models, the PCA, indices, MFCC
    assert len(models) == 3 and [path.stat().st_mtime_ns for path in models] == stamps  # nothing refitted
    assert other_site and [path.stat().st_mtime_ns for path in other_site] == other_stamps  # other site untouched


def store_tables(results: Path) -> dict[str, pd.DataFrame]:
    tables = {}
    for path in sorted(results.glob("**/part-0.parquet")):
        tables[str(path.relative_to(results))] = pd.read_parquet(path)
    return tables


def test_kill_and_resume_gives_identical_outputs(shared_data, tmp_path, fast_config):
    archive = tmp_path / "archive"
    for site, count in (("jura", 8), ("dagua", 8)):
        (archive / site).mkdir(parents=True)
        for path in sorted((shared_data / "archive" / site).glob("*.wav"))[::6][:count]:
            shutil.copy(path, archive / site / path.name)

    reference = tmp_path / "reference"
    snakemake(*run_args(archive, reference, fast_config))

    resumed = tmp_path / "resumed"
    args = run_args(archive, resumed, fast_config)
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
               "--directory", str(REPO), *args]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.monotonic() + 600
    # Kill everything (Snakemake and its running jobs) once feature extraction is under way.
    while not list(resumed.glob("features/*/site=*/date=*/part-0.parquet")):
        assert process.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (resumed / "evaluation" / "report.html").exists()

    snakemake(*args, "--unlock")
    snakemake(*args)
    expected, got = store_tables(reference), store_tables(resumed)
    assert sorted(got) == sorted(expected)
    for name, table in expected.items():
        pd.testing.assert_frame_equal(got[name], table, check_exact=False, rtol=1e-5, obj=name)
    metrics = [pd.read_csv(r / "evaluation" / "metrics.csv") for r in (reference, resumed)]
    scores = [m.drop(columns=[c for c in m.columns if "seconds" in c]) for m in metrics]
    pd.testing.assert_frame_equal(scores[1], scores[0])


def test_trained_model_encodes_another_archive_without_training(tmp_path, fast_config):
    first, second = tmp_path / "first", tmp_path / "second"
    small = dict(sites=2, days=1, interval_minutes=240, recording_seconds=10)
    generate_demo_archive(first, **small)
    generate_demo_archive(second, seed=99, **small)
    snakemake(*run_args(first, tmp_path / "results_first", fast_config))
    models = tmp_path / "results_first" / "models"
    reuse = tmp_path / "reuse.yaml"
    # The PCA baseline is left out here: it would be fitted on the second archive.
    reuse.write_text("pca: {components: []}\nautoencoder:\n  models:\n" + "".join(
        f"    {name}: {{checkpoint: {models / name / 'model.pt'}}}\n" for name in ("explicit384", "implicit384")))
    args = [*run_args(second, tmp_path / "results_second", fast_config), "--configfile", str(reuse)]
    snakemake(*args, "--until", "inventory")
    plan = planned_jobs(snakemake(*args, "-n").stdout)
    assert plan["images"] == 2 and not any(name.startswith("train") for name in plan)
    snakemake(*args)
    assert not (tmp_path / "results_second" / "models").exists()
    features = pd.concat(pd.read_parquet(p) for p in
                         (tmp_path / "results_second" / "features" / "ae-explicit384").glob("site=*/date=*/part-0.parquet"))
    segments = pd.concat(pd.read_parquet(p) for p in
                         (tmp_path / "results_second" / "segments").glob("site=*/date=*/part-0.parquet"))
    assert len(features) == len(segments) == 12
    assert len([c for c in features.columns if c.startswith("ae_")]) == 384
