"""The results contract, checked on a real workflow run over a small real archive.

- every store opens with pandas, dask, pyarrow, duckdb and polars, which agree on
  ``site`` and ``date`` (taken from the folder names);
- ``ecoae.open_features`` joins every set on the segment key without repeated columns;
- a changed setting re-runs exactly what depends on it, in one run that succeeds.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

import ecoae
from ecoae.layout import Layout
from workflow_helpers import planned_jobs, snakemake, write_fast_config

pytestmark = pytest.mark.slow

PARTITIONS = {("dagua", "2017-03-25"), ("dagua", "2017-03-26"), ("jura", "2019-05-22")}
# One job per site and ISO week (jobs.days_per_job): dagua's two days are one batch.
BATCHES = 2


@pytest.fixture(scope="module")
def run(shared_data, tmp_path_factory):
    """A finished run of the whole workflow on 8 jura and 2 × 6 dagua recordings."""
    root = tmp_path_factory.mktemp("contract")
    archive = root / "archive"
    for site, pattern, count in [("jura", "*.wav", 8), ("dagua", "*2017032[56]_0*.wav", 12)]:
        (archive / site).mkdir(parents=True)
        for path in sorted((shared_data / "archive" / site).glob(pattern))[:count]:
            shutil.copy(path, archive / site / path.name)
    configfile = write_fast_config(root)
    results = root / "results with space"
    args = ["--cores", "2", "--configfile", str(configfile), "--config", f"archive={archive}", f"results={results}"]
    snakemake(*args)
    return {"results": results, "args": args, "root": root, "configfile": configfile}


def _stores(results: Path) -> dict[str, str]:
    layout = Layout(str(results))
    names = ["segments", "spectrograms", "indices", "mfcc", "ae-explicit384", "ae-implicit384", "pca32"]
    return {name: layout.store_dir(name) for name in names}


def _readers():
    import dask.dataframe as dd
    import duckdb
    import polars as pl
    import pyarrow.dataset as ds

    return {
        "pandas": lambda d: pd.read_parquet(d),
        "dask": lambda d: dd.read_parquet(d).compute(),
        "pyarrow": lambda d: ds.dataset(d, partitioning="hive").to_table().to_pandas(),
        "duckdb": lambda d: duckdb.sql(
            f"SELECT * FROM read_parquet('{d}/*/*/*.parquet', hive_partitioning = true)"
        ).df(),
        "polars": lambda d: pl.scan_parquet(f"{d}/**/*.parquet", hive_partitioning=True).collect().to_pandas(),
    }


def test_every_store_opens_with_five_readers_that_agree_on_site_and_date(run):
    segments = pd.read_parquet(Layout(str(run["results"])).store_dir("segments"))
    for store, folder in _stores(run["results"]).items():
        for reader, read in _readers().items():
            frame = read(folder)
            where = f"{reader} reading {store}"
            assert len(frame) == len(segments), where
            assert {"site", "date", "recording_id", "segment_index"} <= set(frame.columns), where
            # site is text everywhere; date is text (pandas, dask, pyarrow) or a date (duckdb, polars).
            assert set(frame["site"].astype(str)) == {"dagua", "jura"}, where
            dates = pd.to_datetime(frame["date"].astype(str)).dt.strftime("%Y-%m-%d")
            assert set(zip(frame["site"].astype(str), dates)) == PARTITIONS, where
            assert not frame.duplicated(["recording_id", "segment_index"]).any(), where


def test_feature_files_hold_the_segment_key_and_features_only(run):
    import pyarrow.parquet as pq

    for store in ("indices", "mfcc", "ae-explicit384"):
        (path, *_rest) = Path(_stores(run["results"])[store]).glob("site=*/date=*/part-0.parquet")
        names = pq.read_schema(path).names
        assert names[:2] == ["recording_id", "segment_index"], store
        assert not {"site", "date", "start_time", "duration"} & set(names), store


def test_open_features_joins_every_set_without_repeated_columns(run):
    frame = ecoae.open_features(run["results"]).compute()
    segments = pd.read_parquet(Layout(str(run["results"])).store_dir("segments"))
    assert len(frame) == len(segments) and frame.columns.is_unique
    sets = {column.split("::")[0] for column in frame.columns if "::" in column}
    assert sets == {"ae-explicit384", "ae-implicit384", "pca32", "indices", "mfcc"}
    assert {"site", "date", "start_time", "duration", "indices::ACI", "mfcc::qc_silent"} <= set(frame.columns)
    assert len([c for c in frame.columns if c.startswith("ae-explicit384::ae_")]) == 384
    only = ecoae.open_features(run["results"], sets=["mfcc"], flags=False).compute()
    assert not any(c.startswith("indices::") or c.endswith("qc_silent") for c in only.columns)


def _override(run, name: str, text: str) -> list[str]:
    path = run["root"] / f"{name}.yaml"
    path.write_text(text)
    return [*run["args"], "--configfile", str(run["configfile"]), str(path)]


@pytest.mark.parametrize(
    "name,override,expected",
    [
        ("rate", "audio: {sample_rate: 16000}\n",
         {"images": BATCHES, "training_images": 1, "train": 2, "fit_pca": 1, "audio_features": BATCHES, "evaluate": 1}),
        ("mfcc", "mfcc: {n_mfcc: 13}\n", {"audio_features": BATCHES, "evaluate": 1}),
        ("threads", "spectrogram: {threads: 1}\nevaluation: {threads: 1}\nindices: {threads: 1}\n"
                    "mfcc: {threads: 1}\nautoencoder: {train_threads: 1, encode_threads: 2}\ninventory: {threads: 1}\n", {}),
    ],
)
def test_a_changed_setting_plans_exactly_its_dependants(run, name, override, expected):
    plan = snakemake(*_override(run, name, override), "-n").stdout
    jobs = planned_jobs(plan)
    jobs.pop("all", None)
    assert dict(jobs) == expected, plan[-3000:]


def test_changed_spectrogram_setting_rerenders_retrains_and_reencodes_in_one_run(run):
    # The images are rendered in the audio pass (each segment decoded once), so it runs again.
    args = _override(run, "nfft", "spectrogram: {n_fft: 1024}\n")
    jobs = planned_jobs(snakemake(*args, "-n").stdout)
    jobs.pop("all", None)
    assert dict(jobs) == {"audio_features": BATCHES, "images": BATCHES, "training_images": 1, "train": 2,
                          "fit_pca": 1, "evaluate": 1}
    snakemake(*args)
    again = snakemake(*args, "-n")
    assert "Nothing to be done" in again.stdout + again.stderr
