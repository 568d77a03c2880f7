"""MFCC store: values equal librosa's own functions on the same real segments."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecoae import cli
from ecoae.archive.audio import load_audio
from ecoae.features.mfcc import QC_COLUMNS, feature_columns, partition_mfcc, resolve_settings, segment_mfcc
from ecoae.archive.segments import SEGMENT_COLUMNS
from ecoae.settings import AudioSettings
from ecoae.store import SEGMENT_KEY, write_partition
from ecoae.store import read_parquet

RATE = 22050
WINDOWS = [
    ("jura/S4A03895_20190522_060000.wav", 0.0, 10.0),
    ("dagua/SM302298__0__20170325_060000.wav", 0.0, 5.0),
    ("jura/S4A03895_20190522_120000.wav", 2.5, 6.0),
]


def make_segments(windows: list[tuple[str, float, float]]) -> pd.DataFrame:
    """A segment-store partition frame for ``windows`` of real files."""
    start = pd.Timestamp("2019-05-22T00:00:00Z")
    rows = [
        (Path(p).stem, 0, start + pd.Timedelta(minutes=i), d, Path(p).parts[0], "2019-05-22",
         (start + pd.Timedelta(minutes=i)).tz_localize(None), "UTC", p, o)
        for i, (p, o, d) in enumerate(windows)
    ]
    frame = pd.DataFrame(rows, columns=SEGMENT_COLUMNS)
    frame["segment_index"] = frame["segment_index"].astype("int32")
    return frame


@pytest.fixture(scope="module")
def archive(shared_data) -> Path:
    return shared_data / "archive"


@pytest.mark.parametrize("deltas", [False, True])
@pytest.mark.parametrize("window", WINDOWS, ids=[w[0].split("/")[1] for w in WINDOWS])
def test_summary_equals_librosa_called_directly(archive, window, deltas):
    import librosa

    path, offset, duration = window
    samples = load_audio(archive / path, RATE, offset, duration)
    settings = {"n_mfcc": 13, "deltas": deltas}
    row = segment_mfcc(samples, RATE, settings)
    mfcc = librosa.feature.mfcc(y=samples, sr=RATE, n_mfcc=13)
    np.testing.assert_allclose([row[f"mfcc{i:02d}_mean"] for i in range(13)], mfcc.mean(axis=1), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose([row[f"mfcc{i:02d}_std"] for i in range(13)], mfcc.std(axis=1), rtol=1e-5, atol=1e-4)
    if deltas:
        delta = librosa.feature.delta(mfcc)
        np.testing.assert_allclose([row[f"mfcc{i:02d}_delta_std"] for i in range(13)], delta.std(axis=1), rtol=1e-5, atol=1e-4)
    assert not row["qc_short"] and not row["qc_silent"]
    assert [k for k in row if not k.startswith("qc_")] == feature_columns(resolve_settings(settings))


def test_other_mel_settings_follow_librosa(archive):
    import librosa

    samples = load_audio(archive / WINDOWS[1][0], RATE)
    settings = {"n_mfcc": 30, "n_fft": 1024, "hop_length": 256, "n_mels": 64, "fmin": 200.0, "fmax": 9000.0}
    row = segment_mfcc(samples, RATE, settings)
    mfcc = librosa.feature.mfcc(y=samples, sr=RATE, n_mfcc=30, n_fft=1024, hop_length=256, n_mels=64, fmin=200, fmax=9000)
    np.testing.assert_allclose([row[f"mfcc{i:02d}_mean"] for i in range(30)], mfcc.mean(axis=1), rtol=1e-5, atol=1e-4)


def test_silence_and_short_segments():
    silent = segment_mfcc(np.zeros(5 * RATE, dtype=np.float32), RATE)
    assert silent["qc_silent"] and not silent["qc_short"]
    assert np.isfinite([silent[c] for c in feature_columns(resolve_settings())]).all()
    short = segment_mfcc(np.ones(100, dtype=np.float32) * 0.1, RATE, {"deltas": True})
    assert short["qc_short"]
    assert all(np.isnan(short[c]) for c in feature_columns(resolve_settings({"deltas": True})))
    # Enough samples for the STFT but fewer frames than the delta window: deltas NaN only.
    few_frames = segment_mfcc(np.random.default_rng(1).normal(0, 0.1, 3000).astype(np.float32), RATE, {"deltas": True})
    assert few_frames["qc_short"] and np.isfinite(few_frames["mfcc00_mean"]) and np.isnan(few_frames["mfcc00_delta_mean"])


def test_unknown_setting_rejected():
    with pytest.raises(ValueError, match="n_mfc"):
        resolve_settings({"n_mfc": 10})


def test_partition_store_via_cli(archive, tmp_path):
    segments = make_segments(WINDOWS)
    segment_file = write_partition(segments, tmp_path / "segments" / "site=jura" / "date=2019-05-22" / "part-0.parquet")
    out = tmp_path / "mfcc" / "site=jura" / "date=2019-05-22" / "part-0.parquet"
    status = cli.main(["mfcc", str(segment_file), "--archive", str(archive), "--threads", "2",
                       "--settings", json.dumps({"n_mfcc": 20}), "--out", str(out),
                       "--problems", str(tmp_path / "problems.parquet")])
    assert status == 0
    stored = read_parquet(out)
    columns = feature_columns(resolve_settings())
    assert list(stored.columns) == SEGMENT_KEY + columns + QC_COLUMNS
    pd.testing.assert_frame_equal(stored[SEGMENT_KEY], segments[SEGMENT_KEY])
    assert (stored[columns].dtypes == "float32").all() and np.isfinite(stored[columns].to_numpy()).all()
    features, problems = partition_mfcc(segments, archive, AudioSettings(sample_rate=RATE), threads=1)
    pd.testing.assert_frame_equal(stored, features)
    assert problems.empty


def test_power_spectrogram_equals_librosa_stft(archive):
    import librosa

    from ecoae.features.mfcc import power_spectrogram

    samples = load_audio(archive / WINDOWS[0][0], RATE)
    expected = np.abs(librosa.stft(samples, n_fft=2048, hop_length=512)) ** 2
    actual = power_spectrogram(samples, 2048, 512).T
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=1e-3, atol=1e-6 * expected.max())


@pytest.mark.parametrize("length", [2048, 3000, 512 * 63, 512 * 64, 512 * 64 + 1, 512 * 200 + 77])
def test_mfcc_matrix_equals_librosa_at_block_edges(length):
    """Frames are processed in blocks: lengths around block edges give librosa's matrix."""
    import librosa

    from ecoae.features.mfcc import fast_mfcc

    t = np.arange(length) / RATE
    samples = (0.3 * np.sin(2 * np.pi * 440 * t * (1 + t))
               + np.random.default_rng(length).normal(0, 0.05, length)).astype(np.float32)
    settings = resolve_settings()
    expected = librosa.feature.mfcc(y=samples, sr=RATE, n_mfcc=settings["n_mfcc"])
    actual = fast_mfcc(samples, RATE, settings)
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-3)
