"""Each fast function of ecoae.features.indices_fast against the scikit-maad function it replaces.

On real recordings (skipped when ../shared/data is absent) and on generated edge cases
(digital silence, a pure tone, noise, a segment half zeros, the shortest segment
computed). Array values are compared bit for bit, thresholded decisions exactly, and
sums to 1e-12 relative (they are taken in another order).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from ecoae.archive.audio import load_audio
from ecoae.features import indices_fast
from ecoae.features.indices import (
    ALL_INDICES,
    maad_recipe_indices,
    min_samples,
    resolve_settings,
    segment_indices,
)

RATE = 22050
REAL = ["jura/S4A03895_20190522_060000.wav", "dagua/SM302298__0__20170325_060000.wav"]


def generated(name: str) -> np.ndarray:
    """A generated edge-case segment."""
    rng = np.random.default_rng(7)
    t = np.arange(10 * RATE) / RATE
    return {
        "silence": np.zeros(10 * RATE),
        "tone": 0.3 * np.sin(2 * np.pi * 1000 * t),
        "noise": rng.normal(0, 0.1, 10 * RATE),
        "half_zeros": np.concatenate([np.zeros(6 * RATE), rng.normal(0, 0.1, 4 * RATE)]),
        "shortest": rng.normal(0, 0.1, min_samples(resolve_settings(None))),
    }[name]


GENERATED = ["silence", "tone", "noise", "half_zeros", "shortest"]


@pytest.fixture(params=REAL + GENERATED)
def segment(request, shared_data_or_none) -> np.ndarray:
    """Real recordings (DC removed, as segment_indices does) and generated segments."""
    if request.param in GENERATED:
        return generated(request.param)
    if shared_data_or_none is None:
        pytest.skip("real recordings (../shared/data/archive) not found; see tests/shared_data.py")
    s = load_audio(shared_data_or_none / "archive" / request.param, RATE).astype(np.float64)
    return s - s.mean()


@pytest.fixture(scope="session")
def shared_data_or_none():
    from shared_data import SHARED_DATA

    return SHARED_DATA if (SHARED_DATA / "archive").is_dir() else None


@pytest.fixture(autouse=True)
def quiet():
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def maad_spectrogram(s: np.ndarray, nperseg: int = 1024, noverlap: int = 512):
    from maad.sound import spectrogram

    sxx, tn, fn, _ = spectrogram(s, RATE, nperseg=nperseg, noverlap=noverlap)
    return sxx, tn, fn


def same(expected, actual, rel: float = 1e-12, atol: float = 1e-300) -> None:
    """Equal where finite (to ``rel`` or ``atol``), NaN where scikit-maad gives NaN or inf."""
    expected = np.atleast_1d(np.asarray(expected, dtype=np.float64))
    actual = np.atleast_1d(np.asarray(actual, dtype=np.float64))
    finite = np.isfinite(expected)
    assert np.isnan(actual[~finite]).all() or np.array_equal(actual[~finite], expected[~finite])
    np.testing.assert_allclose(actual[finite], expected[finite], rtol=rel, atol=atol)


@pytest.mark.parametrize("nperseg, noverlap", [(1024, 512), (512, 256), (1000, 300)])
def test_power_spectrogram_is_maad_spectrogram_bit_for_bit(segment, nperseg, noverlap):
    sxx, tn, fn = maad_spectrogram(segment, nperseg, noverlap)
    fast, fast_tn, fast_fn = indices_fast.power_spectrogram(segment, RATE, "hann", nperseg, noverlap)
    assert fast.flags.c_contiguous
    np.testing.assert_array_equal(fast, sxx)
    np.testing.assert_array_equal(fast_tn, tn)
    np.testing.assert_array_equal(fast_fn, fn)


@pytest.mark.parametrize("mode", ["fast", "hilbert"])
def test_temporal_functions_equal_maad(segment, mode):
    from maad.features import temporal_leq, zero_crossing_rate
    from maad.features.alpha_indices import (
        temporal_activity,
        temporal_entropy,
        temporal_events,
        temporal_median,
    )
    from maad.sound import envelope, temporal_snr

    nt = 512
    env = indices_fast.envelope(segment, mode, nt)
    np.testing.assert_array_equal(env, envelope(segment, mode, nt))
    assert indices_fast.zero_crossing_rate(segment, RATE) == zero_crossing_rate(segment, RATE)
    same(temporal_leq(segment, RATE, 42, 2, -35, 94, 1), indices_fast.temporal_leq(segment, RATE, 42, 2, -35, 94, 1))
    for compatibility, reject in (("QUT", 0.01), ("seewave", None)):
        opts = {"mode": mode, "Nt": nt, "compatibility": compatibility, "dB_threshold": 3,
                "rejectDuration": reject}
        got = indices_fast.envelope_indices(env, RATE, opts, set(ALL_INDICES))
        _, bgnt, snrt = temporal_snr(segment, mode, nt)
        expected = {
            "BGNt": bgnt, "SNRt": snrt, "MED": temporal_median(segment, mode, nt),
            "Ht": temporal_entropy(segment, compatibility, mode, nt),
            **dict(zip(("ACTtFraction", "ACTtCount", "ACTtMean"), temporal_activity(segment, 3, mode, nt))),
            **dict(zip(("EVNtFraction", "EVNtMean", "EVNtCount"), temporal_events(segment, RATE, 3, reject, mode, nt)[:3])),
        }
        for name, value in expected.items():
            same(value, got[name], rel=0)  # the same operations on the same envelope


def test_db_at_least_is_the_db_comparison():
    from maad.util import amplitude2dB, power2dB

    rng = np.random.default_rng(3)
    level = 10 ** (3 / 10)
    # Values on and around the threshold's level, zeros, and a spread of magnitudes.
    around = level * (1 + np.arange(-50, 51) * np.finfo(float).eps)
    x = np.concatenate([around, [0.0, 1.0, level], 10 ** rng.uniform(-12, 3, 5000)]).reshape(-1, 1)
    np.testing.assert_array_equal(indices_fast.db_at_least(x, 3), power2dB(x.copy()) >= 3)
    peak = x.max()
    for threshold in (-50, -3000, 0):
        expected = amplitude2dB(x / peak) >= threshold
        np.testing.assert_array_equal(indices_fast.db_at_least(x, threshold, 20, scale=peak), expected)
    zeros = np.zeros((3, 4))  # scale 0: scikit-maad's 0 / 0 is NaN, never above a threshold
    np.testing.assert_array_equal(indices_fast.db_at_least(zeros, -50, 20, scale=0.0), amplitude2dB(zeros / 0.0) >= -50)


@pytest.mark.parametrize("n", [7, 8])
def test_median_rows_nonnegative_is_numpy_median(n):
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 5, (40, n))
    x[rng.uniform(size=x.shape) < 0.55] = 0
    x[0] = 0
    x[1, : n // 2] = 0  # exactly half zeros
    x[2] = rng.uniform(1, 2, n)  # no zeros
    np.testing.assert_array_equal(indices_fast.median_rows_nonnegative(x), np.median(x, axis=1))
    x[3, 0] = -1  # not non-negative: the general path
    np.testing.assert_array_equal(indices_fast.median_rows_nonnegative(x), np.median(x, axis=1))


def test_spectral_functions_equal_maad(segment):
    from maad.features import (
        acoustic_complexity_index,
        acoustic_diversity_index,
        acoustic_eveness_index,
        acoustic_gradient_index,
        bioacoustics_index,
        region_of_interest_index,
        roughness,
        soundscape_index,
        spectral_activity,
        spectral_cover,
        spectral_entropy,
        spectral_events,
        tfsd,
    )
    from maad.features.alpha_indices import _gini, _shannonEntropy
    from maad.sound import median_equalizer
    from maad.util import power2dB

    sxx, tn, fn = maad_spectrogram(segment)
    fast, _, _ = indices_fast.power_spectrogram(segment, RATE)
    amplitude, fast_amplitude = np.sqrt(sxx), np.sqrt(fast)
    dt = tn[1] - tn[0]
    low, mid, high = np.array([0, 1000]), np.array([1000, 10000]), np.array([10000, 20000])

    aci, rou, agi = indices_fast.gradient_indices(fast_amplitude, dt)
    same(acoustic_complexity_index(amplitude)[2], aci)
    same(np.sum(roughness(amplitude, norm=None, axis=1)), rou)
    same(acoustic_gradient_index(amplitude, dt, order=1, norm="per_bin")[2], agi)

    for r_compatible in ("soundecology", "other"):
        # Sums in another order: NDSI = (bio - anthro) / (bio + anthro) keeps their last-bit
        # differences in absolute terms (1e-16 on the tone, whose NDSI is 7e-11).
        same(soundscape_index(sxx, fn, mid, low, r_compatible),
             indices_fast.soundscape_index(np.sum(fast, axis=1), fn, mid, low, r_compatible), atol=1e-12)
    same(bioacoustics_index(amplitude, fn, mid),
         indices_fast.bioacoustics_index(np.mean(fast_amplitude, axis=1), np.max(fast_amplitude), fn, mid))
    same(tfsd(amplitude, fn, tn, flim=mid), indices_fast.tfsd(np.log(fast), fn, mid))

    peak = np.max(fast_amplitude)
    for threshold in (-50, -30):
        scores = indices_fast.band_scores(
            indices_fast.db_at_least(fast_amplitude, threshold, 20, scale=peak), fn, 0, 10000, 1000
        )
        same(acoustic_diversity_index(amplitude, fn, 0, 10000, 1000, threshold), _shannonEntropy(scores.copy()))
        same(acoustic_eveness_index(amplitude, fn, 0, 10000, 1000, threshold), _gini(scores.copy()))

    equalized = indices_fast.median_equalizer(fast, indices_fast.median_rows(fast))
    np.testing.assert_array_equal(equalized, median_equalizer(sxx))
    same(spectral_entropy(median_equalizer(sxx), fn, flim=(1000, 20000)),
         indices_fast.spectral_entropy(equalized, fn, (1000, 20000)))
    equalized_db = power2dB(median_equalizer(sxx))
    for threshold, reject in ((3, dt * 3), (6, None), (3, 0.05), (3, dt * (sxx.shape[1] + 5))):
        got = indices_fast.equalized_activity(equalized, fn, dt, threshold, reject, (low, mid, high))
        same(spectral_cover(equalized_db, fn, threshold, low, mid, high),
             [got["LFC"], got["MFC"], got["HFC"]], rel=0)
        fract, count, mean = spectral_activity(equalized_db, threshold)
        same([np.mean(fract), np.mean(count)], [got["ACTspFract"], got["ACTspCount"]], rel=0)
        same(mean, got["ACTspMean"])  # a power mean of values, not of 10**(dB / 10)
        fract, mean, count, _ = spectral_events(equalized_db, dt, threshold, reject)
        same([np.mean(fract), np.mean(mean), np.mean(count)], [got["EVNspFract"], got["EVNspMean"], got["EVNspCount"]])

    # all_spectral_alpha_indices' ROI settings, then region_of_interest_index's own defaults.
    for options in (dict(seed_level=13, fusion_rois=None, min_event_duration=0.025),
                    dict(seed_level=16, fusion_rois=[0.05, 100], min_event_duration=0.1)):
        expected = region_of_interest_index(sxx, tn, fn, **options)[:2]
        same(expected, indices_fast.region_of_interest_index(fast, tn, fn, ln_power=np.log(fast), **options), rel=0)
        # A margin that every value is within: the image made again with log10.
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(indices_fast, "_ROI_DB_MARGIN", 1e3)
            same(expected, indices_fast.region_of_interest_index(fast, tn, fn, **options), rel=0)


def test_segment_indices_equal_recipe_on_edge_cases_and_other_settings():
    settings_list = [
        None,
        {"temporal": {"mode": "hilbert", "compatibility": "seewave", "rejectDuration": None}},
        {"spectral": {"R_compatible": "other", "ADI_dB_threshold": -40, "AEI_dB_threshold": -60,
                      "dB_threshold": 6, "rejectDuration": 0.05, "fusion_rois": (0.05, 100), "bin_step": 500}},
        {"spectrogram": {"nperseg": 512, "noverlap": 128}, "detrend": False},
    ]
    for settings in settings_list:
        for name in GENERATED:
            s = generated(name)
            expected, actual = maad_recipe_indices(s, RATE, settings), segment_indices(s, RATE, settings)
            for index in ALL_INDICES:
                want, got = float(expected[index]), float(actual[index])
                if not np.isfinite(want):
                    assert np.isnan(got), (settings, name, index)
                else:
                    # abs: indices that cancel to ~0 (SKEWt of a tone, NDSI of a balanced one)
                    assert got == pytest.approx(want, rel=1e-9, abs=1e-12), (settings, name, index)
