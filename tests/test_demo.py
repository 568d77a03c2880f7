"""The synthetic demo archive: layout, determinism, atomic writes, and that the audio
really carries the sites, hours and weather its manifest claims (measured from the samples)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ecoae.archive import demo
from ecoae.archive.demo import MANIFEST_NAME, generate_demo_archive

# Two sites x one day x every 6 h x 10 s: 8 files, generated in well under a second.
SMALL = dict(sites=2, days=1, interval_minutes=360, recording_seconds=10)
SMALL_NAMES = ["20240501_000000.WAV", "20240501_060000.WAV", "20240501_120000.WAV", "20240501_180000.WAV"]


@pytest.fixture(scope="module")
def small_archive(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("demo")
    return out, generate_demo_archive(out, **SMALL)


def power_spectrum(path: Path) -> tuple[np.ndarray, np.ndarray]:
    samples, rate = sf.read(path)
    return np.fft.rfftfreq(samples.size, 1.0 / rate), np.abs(np.fft.rfft(samples)) ** 2


def band_power(spectrum: tuple[np.ndarray, np.ndarray], low: float, high: float) -> float:
    freqs, power = spectrum
    return float(power[(freqs >= low) & (freqs < high)].sum())


def band_profile_db(spectrum: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Share of the 1-8 kHz power in each 250 Hz band, in dB."""
    powers = np.array([band_power(spectrum, low, low + 250.0) for low in np.arange(1000.0, 8000.0, 250.0)])
    return 10 * np.log10(powers / powers.sum())


def test_layout_names_and_manifest(small_archive):
    out, manifest = small_archive
    assert sorted(p.name for p in out.iterdir()) == ["ecoae-demo.json", "forest", "wetland"]
    for site in ("wetland", "forest"):
        assert sorted(p.name for p in (out / site).iterdir()) == SMALL_NAMES
    on_disk = json.loads((out / MANIFEST_NAME).read_text())
    assert on_disk == manifest
    assert manifest["synthetic"] is True and "synthetic" in manifest["note"].lower()
    assert manifest["parameters"] == {**SMALL, "sample_rate": 16000, "seed": 7, "start_date": "2024-05-01"}
    expected = [f"{site}/{name}" for site in ("wetland", "forest") for name in SMALL_NAMES]
    assert [f["path"] for f in manifest["files"]] == expected
    assert manifest["files"][1]["local_start"] == "2024-05-01T06:00:00"
    assert not list(out.rglob("*.partial"))


def test_files_are_16_bit_mono_wav_of_the_requested_length(small_archive):
    out, manifest = small_archive
    for entry in manifest["files"]:
        info = sf.info(out / entry["path"])
        assert (info.format, info.subtype, info.channels) == ("WAV", "PCM_16", 1)
        assert (info.samplerate, info.frames) == (16000, 160000)
        samples, _ = sf.read(out / entry["path"], dtype="int16")
        assert 0 < np.abs(samples.astype(np.int32)).max() < 32767, "silent or clipped file"


def test_same_parameters_give_byte_identical_files_in_any_order(tmp_path, small_archive):
    first, _ = small_archive
    generate_demo_archive(tmp_path / "again", **SMALL)
    for path in sorted(first.rglob("*")):
        if path.is_file():
            assert path.read_bytes() == (tmp_path / "again" / path.relative_to(first)).read_bytes(), path
    # Each file is seeded from (seed, site, start): generating fewer sites, days or hours
    # gives the same bytes for the files both archives share.
    fewer = dict(sites=1, days=1, interval_minutes=720, recording_seconds=10)
    generate_demo_archive(tmp_path / "one_site", **fewer)
    for name in ("20240501_000000.WAV", "20240501_120000.WAV"):
        shared = (tmp_path / "one_site" / "wetland" / name).read_bytes()
        assert shared == (first / "wetland" / name).read_bytes()
    generate_demo_archive(tmp_path / "other_seed", **fewer, seed=8)
    midnight = "wetland/20240501_000000.WAV"
    assert (tmp_path / "other_seed" / midnight).read_bytes() != (first / midnight).read_bytes()


def test_night_files_carry_insects_at_the_site_carrier(small_archive):
    out, manifest = small_archive
    for site in manifest["sites"]:
        night = power_spectrum(out / site["name"] / "20240501_000000.WAV")
        noon = power_spectrum(out / site["name"] / "20240501_120000.WAV")

        def insect_share(spectrum):
            return band_power(spectrum, 4000, 6000) / band_power(spectrum, 1000, 8000)

        assert insect_share(night) > 10 * insect_share(noon), site["name"]
        freqs, power = night
        in_band = (freqs >= 4000) & (freqs < 6000)
        peak = freqs[in_band][np.argmax(power[in_band])]
        assert peak == pytest.approx(site["insect"]["carrier_hz"], rel=0.035), site["name"]


def test_dawn_files_are_louder_in_the_callers_bands_than_midnight(small_archive):
    out, manifest = small_archive
    for site in manifest["sites"]:
        dawn = power_spectrum(out / site["name"] / "20240501_060000.WAV")
        midnight = power_spectrum(out / site["name"] / "20240501_000000.WAV")
        bands = [(species["f_low"], species["f_high"]) for species in site["species"]]
        dawn_callers = sum(band_power(dawn, *b) for b in bands)
        assert dawn_callers > 30 * sum(band_power(midnight, *b) for b in bands), site["name"]
        # The strongest 250 Hz band above 1 kHz at dawn belongs to one of the site's callers.
        strongest = 1000.0 + 250.0 * int(np.argmax(band_profile_db(dawn)))
        assert any(low - 250.0 < strongest < high for low, high in bands), (site["name"], strongest)


def test_sites_differ_in_spectral_profile_at_every_hour(small_archive):
    out, _ = small_archive
    for name in SMALL_NAMES:
        wetland = band_profile_db(power_spectrum(out / "wetland" / name))
        forest = band_profile_db(power_spectrum(out / "forest" / name))
        assert np.abs(wetland - forest).max() > 10.0, name


def _day_with_rain_and_wind(seed: int) -> date:
    day = date(2024, 5, 1)
    while not all(demo.weather_spells(seed, day).values()):
        day += timedelta(days=1)
    return day


def test_rain_and_wind_files_carry_their_weather(tmp_path):
    day = _day_with_rain_and_wind(seed=7)
    manifest = generate_demo_archive(
        tmp_path, sites=1, days=1, interval_minutes=60, recording_seconds=5, start_date=day.isoformat()
    )
    files = manifest["files"]
    rainy = [f for f in files if f["rain"] > 0]
    windy = [f for f in files if f["wind"] > 0]
    assert rainy and windy and len(rainy) < len(files) and len(windy) < len(files)
    spectra = {f["path"]: power_spectrum(tmp_path / f["path"]) for f in files}
    # Rain: broadband hiss and drops reach 7-8 kHz, where the wetland has no callers.
    high = {path: band_power(s, 7000, 8000) for path, s in spectra.items()}
    assert min(high[f["path"]] for f in rainy) > 3 * max(high[f["path"]] for f in files if f["rain"] == 0)
    # Wind: rumble below 300 Hz.
    low = {path: band_power(s, 20, 300) for path, s in spectra.items()}
    assert min(low[f["path"]] for f in windy) > 10 * max(low[f["path"]] for f in files if f["wind"] == 0)


def test_weather_spells_run_past_midnight_into_the_next_day():
    carried = 0
    for offset in range(30):
        day = date(2024, 5, 1) + timedelta(days=offset)
        following = demo.weather_spells(7, day + timedelta(days=1))
        for kind, spells in demo.weather_spells(7, day).items():
            for spell in spells:
                if spell.end_hour > 24.0:
                    shifted = demo.Spell(spell.start_hour - 24.0, spell.end_hour - 24.0, spell.intensity)
                    assert shifted in following[kind]
                    carried += 1
    assert carried > 0


def test_more_sites_get_distinct_path_safe_names_and_bands_in_range():
    profiles = demo.site_profiles(6, seed=7)
    names = [p.name for p in profiles]
    assert names[:3] == ["wetland", "forest", "grassland"] and names[3:] == ["site_04", "site_05", "site_06"]
    for profile in profiles:
        assert profile.species and 4000 <= profile.insect.carrier_hz <= 6000
        for species in profile.species:
            assert 900 <= species.f_low < species.f_high <= 7500 and species.call in demo.CALL_SHAPES
    assert demo.site_profiles(6, seed=7) == profiles


def test_interrupted_run_leaves_no_half_file_and_no_manifest(tmp_path, monkeypatch):
    generate_demo_archive(tmp_path, **SMALL)
    complete = {p: p.read_bytes() for p in tmp_path.rglob("*.WAV")}
    real_write = sf.write
    calls = []

    def write_half_then_fail(file, data, *args, **kwargs):
        calls.append(file)
        if len(calls) == 3:
            real_write(file, data[: data.size // 2], *args, **kwargs)
            raise OSError("disk full")
        real_write(file, data, *args, **kwargs)

    monkeypatch.setattr(demo.sf, "write", write_half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        generate_demo_archive(tmp_path, **SMALL, seed=8)
    assert not (tmp_path / MANIFEST_NAME).exists(), "an incomplete archive must not keep a manifest"
    assert not list(tmp_path.rglob("*.partial"))
    for path in complete:
        assert sf.info(path).frames == 160000, path
    failed = tmp_path / "wetland" / SMALL_NAMES[2]
    assert failed.read_bytes() == complete[failed], "the file whose write failed must keep its old content"


@pytest.mark.parametrize(
    "override, message",
    [
        (dict(recording_seconds=400, interval_minutes=5), "at most interval_minutes"),
        (dict(sample_rate=8000), "at least 16000"),
        (dict(start_date="01/05/2024"), "YYYY-MM-DD"),
        (dict(sites=0), "at least 1"),
    ],
)
def test_impossible_parameters_are_refused_with_the_fix(tmp_path, override, message):
    with pytest.raises(ValueError, match=message):
        generate_demo_archive(tmp_path, **{**SMALL, **override})
    assert not any(tmp_path.iterdir())
