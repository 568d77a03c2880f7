"""Acoustic indices: the fast path equals scikit-maad's own recipe on real recordings."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from ecoae import cli
from ecoae.features import indices_fast
from ecoae.archive.audio import load_audio
from ecoae.features.indices import (
    ALL_INDICES,
    QC_COLUMNS,
    maad_recipe_indices,
    partition_indices,
    resolve_settings,
    segment_indices,
)
from ecoae.archive.segments import SEGMENT_COLUMNS
from ecoae.settings import AudioSettings
from ecoae.store import SEGMENT_KEY, write_partition
from ecoae.store import read_parquet

RATE = 22050
#: (file, offset s, duration s): two Jura files (22 000 Hz, resampled), two Dagua
#: files (one with samples clipped at 1.0), and a window inside a file.
REAL_SEGMENTS = [
    ("jura/S4A03895_20190522_060000.wav", 0.0, 10.0),
    ("jura/S4A03895_20190522_230000.wav", 0.0, 10.0),
    ("dagua/SM302298__0__20170325_060000.wav", 0.0, 5.0),
    ("dagua/SM302298__0__20170326_180000.wav", 0.0, 5.0),
    ("jura/S4A03895_20190522_120000.wav", 2.5, 6.0),
]


def make_segments(archive: Path, windows: list[tuple[str, float, float]]) -> pd.DataFrame:
    """A segment-store partition frame for ``windows`` of real files."""
    rows = []
    for i, (path, offset, duration) in enumerate(windows):
        start = pd.Timestamp("2019-05-22T00:00:00Z") + pd.Timedelta(minutes=i)
        rows.append((Path(path).stem, 0, start, duration, Path(path).parts[0], "2019-05-22",
                     start.tz_localize(None), "UTC", path, offset))
    frame = pd.DataFrame(rows, columns=SEGMENT_COLUMNS)
    frame["segment_index"] = frame["segment_index"].astype("int32")
    return frame


def assert_same_indices(expected: dict, actual: dict, names: list[str], rtol: float = 1e-9) -> None:
    for name in names:
        want, got = float(expected[name]), float(actual[name])
        if not np.isfinite(want):
            assert np.isnan(got), f"{name}: maad gives {want}, stored {got}"
        else:
            assert got == pytest.approx(want, rel=rtol, abs=1e-12), name


@pytest.fixture(scope="module")
def archive(shared_data) -> Path:
    return shared_data / "archive"


@pytest.mark.parametrize("window", REAL_SEGMENTS, ids=[w[0].split("/")[1] for w in REAL_SEGMENTS])
def test_fast_indices_equal_maad_recipe(archive, window):
    path, offset, duration = window
    samples = load_audio(archive / path, RATE, offset, duration).astype(np.float64)
    expected = maad_recipe_indices(samples, RATE)
    actual = segment_indices(samples, RATE)
    assert set(expected) == set(ALL_INDICES)
    assert_same_indices(expected, actual, ALL_INDICES)
    assert all(np.isfinite(actual[name]) for name in ALL_INDICES if name not in ("EPS_KURT", "EPS_SKEW"))


def test_recipe_equals_direct_scikit_maad_calls(archive):
    """maad_recipe_indices is scikit-maad's documented recipe, not a re-implementation."""
    from maad.features import all_spectral_alpha_indices, all_temporal_alpha_indices
    from maad.sound import spectrogram

    s = load_audio(archive / REAL_SEGMENTS[2][0], RATE).astype(np.float64)
    s = s - np.mean(s)  # what maad.sound.load(detrend=True) does after reading
    temporal = all_temporal_alpha_indices(s, RATE)
    sxx, tn, fn, _ = spectrogram(s, RATE, nperseg=1024, noverlap=512)
    spectral, _ = all_spectral_alpha_indices(sxx, tn, fn)
    direct = {**temporal.iloc[0].to_dict(), **spectral.iloc[0].to_dict()}
    assert_same_indices(direct, segment_indices(s, RATE), ALL_INDICES)


def test_vectorised_functions_equal_maad_with_other_settings(archive):
    from maad.features import (
        acoustic_gradient_index,
        region_of_interest_index,
        spectral_events,
        temporal_moments,
    )
    from maad.sound import median_equalizer, spectrogram
    from maad.util import power2dB

    s = load_audio(archive / REAL_SEGMENTS[3][0], RATE).astype(np.float64)
    sxx, tn, fn, _ = spectrogram(s, RATE, nperseg=512, noverlap=256)
    options = dict(seed_level=10, low_level=4, fusion_rois=(0.05, 100), remove_rois_flim_min=(100, 9000),
                   remove_rois_flim_max=(500, 10500), min_event_duration=0.01, max_event_duration=2,
                   min_freq_bw=20, max_freq_bw=5000, max_ratio_xy=5)
    assert indices_fast.region_of_interest_index(sxx, tn, fn, **options) == pytest.approx(
        region_of_interest_index(sxx, tn, fn, **options), rel=1e-12
    )
    equalized = indices_fast.median_equalizer(sxx, np.median(sxx, axis=1))
    np.testing.assert_allclose(equalized, median_equalizer(sxx), rtol=1e-12)
    dt = tn[1] - tn[0]
    fract, mean, count, _ = spectral_events(power2dB(equalized), dt, 6, 0.05)
    assert indices_fast.spectral_events(power2dB(equalized) >= 6, dt, 0.05) == pytest.approx(
        (np.mean(fract), np.mean(mean), np.mean(count)), rel=1e-12
    )
    fract, mean, count, _ = spectral_events(power2dB(equalized), dt, 3, None)
    assert indices_fast.spectral_events(power2dB(equalized) >= 3, dt, None) == pytest.approx(
        (np.mean(fract), np.mean(mean), np.mean(count)), rel=1e-12
    )
    assert indices_fast.waveform_moments(s) == pytest.approx(temporal_moments(s), rel=1e-9)
    amplitude = np.sqrt(sxx)
    assert indices_fast.gradient_indices(amplitude, dt)[2] == pytest.approx(
        acoustic_gradient_index(amplitude, dt, order=1, norm="per_bin")[2], rel=1e-12
    )


@pytest.mark.parametrize("row_major", [False, True], ids=["maad-layout", "row-major"])
@pytest.mark.parametrize("n_frames", [428, 429])
def test_median_rows_is_numpy_median(archive, n_frames, row_major):
    from maad.sound import spectrogram

    s = load_audio(archive / REAL_SEGMENTS[0][0], RATE).astype(np.float64)
    sxx = spectrogram(s, RATE)[0][:, :n_frames]
    assert sxx.shape[1] == n_frames and not sxx.flags.c_contiguous
    if row_major:  # the layout segment_indices works on
        sxx = np.ascontiguousarray(sxx)
    for method in ("partition", "sort"):
        np.testing.assert_array_equal(indices_fast.median_rows(sxx, method), np.median(sxx, axis=1))
    # The tie-heavy input the ROI index takes the median of (clipped dB, mostly zeros).
    clipped_db = sxx.copy()
    clipped_db[clipped_db < np.median(clipped_db)] = 0
    for method in ("partition", "sort"):
        np.testing.assert_array_equal(
            indices_fast.median_rows(clipped_db, method), np.median(clipped_db, axis=1)
        )
    with_nan = sxx.copy()
    with_nan[3, 5] = np.nan
    np.testing.assert_array_equal(indices_fast.median_rows(with_nan), np.median(with_nan, axis=1))
    with pytest.raises(ValueError, match="method"):
        indices_fast.median_rows(sxx, "quickselect")


def test_selected_subset_and_unknown_names(archive):
    s = load_audio(archive / REAL_SEGMENTS[0][0], RATE).astype(np.float64)
    row = segment_indices(s, RATE, {"select": ["NDSI", "ACI", "nROI"]})
    assert [k for k in row if not k.startswith("qc_")] == ["ACI", "NDSI", "nROI"]
    assert_same_indices(maad_recipe_indices(s, RATE), row, ["ACI", "NDSI", "nROI"])
    with pytest.raises(ValueError, match="ACX"):
        resolve_settings({"select": ["ACX"]})
    with pytest.raises(ValueError, match="nfft"):
        resolve_settings({"spectrogram": {"nfft": 512}})


def test_digital_silence_gives_nan_not_inf_and_is_flagged():
    row = segment_indices(np.zeros(10 * RATE, dtype=np.float32), RATE)
    values = np.array([row[name] for name in ALL_INDICES])
    assert not np.isinf(values).any()
    assert row["qc_silent"] and not row["qc_short"] and not row["qc_clipped"]
    assert row["qc_undefined"] == np.isnan(values).sum() > 0
    assert row["ZCR"] == 0 and row["VARt"] == 0


def test_dc_offset_removed_like_maad_loader(archive):
    """SM4 recordings carry a DC offset; detrend (default) removes it as maad.sound.load does."""
    samples = load_audio(archive / REAL_SEGMENTS[0][0], RATE).astype(np.float64)
    assert abs(samples.mean()) > 5 * samples.std()  # the offset dominates the raw waveform
    kept = segment_indices(samples, RATE, {"detrend": False, "select": ["ZCR", "MEANt"]})
    removed = segment_indices(samples, RATE, {"select": ["ZCR", "MEANt"]})
    assert kept["MEANt"] == pytest.approx(samples.mean()) and abs(removed["MEANt"]) < 1e-12
    assert removed["ZCR"] > 100 * kept["ZCR"]


def test_decoded_mp3_silence_is_flagged_and_finite(shared_data):
    # An MP3 of all-zero audio decodes to a faint noise floor (peak ~ -67 dBFS), not zeros.
    samples = load_audio(shared_data / "quirky" / "digital_silence_10s.mp3", RATE)
    row = segment_indices(samples, RATE)
    assert row["qc_silent"]
    assert not np.isinf([row[name] for name in ALL_INDICES]).any()


def test_clipping_flagged_and_values_finite(archive):
    path = archive / "dagua" / "SM302298__0__20170325_060000.wav"
    raw, _ = sf.read(path)
    samples = load_audio(path, RATE)
    row = segment_indices(samples, RATE)
    assert row["qc_clipped"] == bool(np.max(np.abs(raw)) >= 0.999)
    square = np.clip(3 * np.sin(np.linspace(0, 2000 * np.pi, 5 * RATE)), -1, 1)
    clipped = segment_indices(square, RATE)
    assert clipped["qc_clipped"] and not clipped["qc_silent"]
    assert np.isfinite([clipped[n] for n in ("LEQt", "ACI", "NDSI", "Ht", "Hf")]).all()


@pytest.mark.parametrize("n_samples", [0, 1, 300, 2000])
def test_very_short_segments_are_all_nan_and_flagged(n_samples):
    row = segment_indices(np.random.default_rng(0).normal(0, 0.1, n_samples), RATE)
    assert row["qc_short"]
    assert all(np.isnan(row[name]) for name in ALL_INDICES)
    assert row["qc_undefined"] == len(ALL_INDICES)


def test_real_short_recording_is_computed(shared_data):
    samples = load_audio(shared_data / "quirky" / "short_1s_KT08_20171118_110000.wav", RATE)
    row = segment_indices(samples, RATE)
    assert not row["qc_short"]
    assert_same_indices(maad_recipe_indices(samples.astype(np.float64), RATE), row, ALL_INDICES)


def test_partition_store_via_cli(archive, tmp_path):
    segments = make_segments(archive, REAL_SEGMENTS[:3])
    segment_file = write_partition(segments, tmp_path / "segments" / "site=jura" / "date=2019-05-22" / "part-0.parquet")
    out = tmp_path / "indices" / "site=jura" / "date=2019-05-22" / "part-0.parquet"
    settings = {"select": ["ACI", "ADI", "Ht", "nROI"]}
    status = cli.main(["indices", str(segment_file), "--archive", str(archive), "--threads", "2",
                       "--settings", json.dumps(settings), "--out", str(out),
                       "--problems", str(tmp_path / "problems.parquet")])
    assert status == 0
    stored = read_parquet(out)
    # Columns follow scikit-maad's order (temporal first), whatever the order of select.
    assert list(stored.columns) == SEGMENT_KEY + ["Ht", "ACI", "ADI", "nROI"] + QC_COLUMNS
    pd.testing.assert_frame_equal(stored[SEGMENT_KEY], segments[SEGMENT_KEY])
    serial, problems = partition_indices(segments, archive, AudioSettings(sample_rate=RATE), settings=settings, threads=1)
    pd.testing.assert_frame_equal(stored, serial)
    assert problems.empty and read_parquet(tmp_path / "problems.parquet").empty
    import pyarrow.parquet as pq

    metadata = pq.read_schema(out).metadata
    recorded = json.loads(metadata[b"ecoae.indices"])
    assert recorded["spectrogram"] == {"window": "hann", "nperseg": 1024, "noverlap": 512}
    assert recorded["select"] == settings["select"]


def test_cli_rejects_bad_settings(archive, tmp_path):
    segment_file = write_partition(make_segments(archive, REAL_SEGMENTS[:1]), tmp_path / "site=a" / "date=2019-05-22" / "part-0.parquet")
    out = tmp_path / "out" / "site=a" / "date=2019-05-22" / "part-0.parquet"
    status = cli.main(["indices", str(segment_file), "--archive", str(archive),
                       "--settings", '{"select": ["NOPE"]}', "--out", str(out),
                       "--problems", str(tmp_path / "problems.parquet")])
    assert status == 2 and not out.exists()


def test_worker_processes_keep_segment_order(archive):
    from ecoae.features.indices import segment_indices
    from ecoae.features.mfcc import mfcc_analysis
    from ecoae.features.segment_workers import Analysis, map_segment_audio, worker_count

    settings = resolve_settings({"select": ["ACI", "Ht"]})
    segments = make_segments(archive, REAL_SEGMENTS)
    audio = AudioSettings(sample_rate=RATE)
    # One pass, two analyses (the second at another rate): each segment is decoded once.
    analyses = [Analysis("indices", segment_indices, settings, RATE, 0.001), mfcc_analysis(audio)]
    pooled = map_segment_audio(analyses, segments, archive, audio.channel, 2)
    serial = map_segment_audio(analyses, segments, archive, audio.channel, 1)
    for name in ("indices", "mfcc"):
        assert pooled.results[name].rows == serial.results[name].rows
        assert len(pooled.results[name].rows) == len(REAL_SEGMENTS)
        pd.testing.assert_frame_equal(pooled.results[name].keys, segments[SEGMENT_KEY])
    assert set(pooled.cpu_s) == {"decode", "indices", "mfcc"} and pooled.cpu_s["indices"] > 0
    assert worker_count(8, 30, 60) == 1 and worker_count(2, 600, 60) == 2 and worker_count(4, 150, 60) == 2


def _refuse(samples, sample_rate, settings):
    raise ValueError("cannot use these samples")


def test_a_failing_analysis_names_its_segment(archive):
    from ecoae.features.segment_workers import Analysis, map_segment_audio

    segments = make_segments(archive, REAL_SEGMENTS[:1])
    with pytest.raises(ValueError, match=r"at 0(\.0)? s \(refuse\): cannot use these samples") as caught:
        map_segment_audio([Analysis("refuse", _refuse, {}, RATE, 60)], segments, archive, "mix", 1)
    assert str(segments["path"].iloc[0]) in str(caught.value)
