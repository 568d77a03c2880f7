"""Deterministic synthetic soundscape archive for demos, tests and benchmarks.

:func:`generate_demo_archive` writes an archive laid out as AudioMoth users keep
theirs: one folder per site holding 16-bit PCM mono WAV files named
``YYYYMMDD_HHMMSS.WAV`` after their local start time. One recording starts every
``interval_minutes`` from 00:00 local time each day. Every file is synthesised
from its own random generator, seeded from ``(seed, site, start time)``, so a
file does not depend on which other files are generated or in what order, and
the same parameters give byte-identical files. ``ecoae-demo.json`` is written
last: its presence means the archive is complete. Nothing here is a real
recording.

Soundscape model
----------------
Each file is a sum of the layers below, evaluated at the hour of day ``h`` of the
middle of the recording (all times local wall-clock).

Background floor (always)
    Stationary coloured noise, different per site: ``wetland`` a quiet pink
    floor; ``forest`` a pink floor plus a stream (band-limited noise,
    250-2000 Hz, the loudest floor); ``grassland`` a brown (low-heavy) floor.

Site callers (day, dawn chorus)
    One or two "species" per site, each with its own call shape, frequency band
    and activity curve: a Gaussian bump over the hour of day (peak and width in
    hours below), silenced between about 21:30 and 04:00. The number of calls in
    a file is Poisson with the rate at ``h``; each call gets a random distance
    attenuation of 0-20 dB.

    =========  ======================================  ==========  ===========
    site       species (call shape)                    band (kHz)  peak (h)
    =========  ======================================  ==========  ===========
    wetland    pulsed harmonic croak (f0 + harmonics)  0.95-4.2    19.0 ± 1.8
    wetland    warble (whistle with fast vibrato)      2.2-3.2     9.0 ± 3.0
    forest     downslur whistle                        3.2-4.4     8.0 ± 3.5
    forest     high trill of short notes               6.5-7.3     13.0 ± 3.0
    grassland  up-sweep chirp phrases                  4.6-6.2     11.0 ± 3.5
    grassland  low buzzy trill                         1.6-2.1     15.0 ± 3.0
    =========  ======================================  ==========  ===========

Dawn chorus (about 04:30-07:30)
    A smooth window (logistic edges at 04:30 and 07:30, full from about 05:00
    to 07:00) adds five times each species' peak call rate on top of its
    activity curve and raises call levels by up to 4 dB: many overlapping calls
    of all the site's species.

Night insects (dusk about 20:30 to dawn about 04:30)
    Continuous pulsed stridulation: two or three individuals per file, each a
    carrier near the site's frequency (wetland 4.3 kHz, forest 5.6 kHz in
    chirps of pulses at 2.5 Hz, grassland 4.9 kHz, the loudest), gated by a
    pulse train (35, 45, 60 pulses/s) and slowly amplitude-modulated. Logistic
    ramps at 20:30 and 04:30.

Weather (drawn per day from ``(seed, date)``, shared by all sites)
    Rain spells (Poisson, mean 0.8 a day, 0.5-3 h, intensity 0.3-1): broadband
    hiss (0.5-8 kHz) plus random drop transients (short decaying noise bursts,
    20-220 drops/s). Spells running past midnight continue into the next day.
    Wind spells (Poisson, mean 1.2 a day, 1-6 h, strength 0.3-1,
    scaled by the site's exposure: forest 0.4, wetland 0.8, grassland 1.0):
    noise below about 500 Hz under a slow random gust envelope.

Sites beyond the three above are named ``site_04``, ``site_05``, ... and get
profiles drawn from ``seed`` (one or two species with random call shapes and
bands within 1-7.5 kHz, an insect carrier within 4-6 kHz, a random floor).

Levels are fixed, not normalised per file, so quiet nights stay quiet (floors
-46 to -54 dBFS RMS, near calls peaking around -16 dBFS); a file
whose peak would exceed -1 dBFS is scaled down as a whole (the gain is in the
manifest). The manifest lists, for each file, its dawn-chorus and night-insect
activity and its rain and wind intensities, so what a file should contain can
be checked.
"""

from __future__ import annotations

import json
import logging
import os
import time
import zlib
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np
import soundfile as sf

from ecoae.settings import DemoSettings

logger = logging.getLogger(__name__)

#: Name of the manifest written (last) into the archive folder.
MANIFEST_NAME = "ecoae-demo.json"

#: Largest peak a file may reach (-1 dBFS); louder files are scaled down.
PEAK_LIMIT = 10 ** (-1 / 20)

#: Lowest sample rate that holds every layer (callers reach 7.5 kHz).
MIN_SAMPLE_RATE = 16000

_DAWN_START_HOUR = 4.5
_DAWN_END_HOUR = 7.5
_DUSK_HOUR = 20.5
_CALLERS_WAKE_HOUR = 4.0
_CALLERS_REST_HOUR = 21.5
_CHORUS_RATE_BOOST = 5.0
_CHORUS_LEVEL_DB = 4.0


@dataclass(frozen=True)
class Species:
    """A synthetic caller.

    Attributes
    ----------
    name : str
        Short description.
    call : str
        Call shape, a key of ``CALL_SHAPES``.
    f_low, f_high : float
        Frequency band of the call in Hz (for ``"croak"``: fundamental and top harmonic edge).
    calls_per_minute : float
        Call rate at the peak of the activity curve (outside the dawn chorus).
    peak_hour, width_hours : float
        Activity curve: Gaussian over the (circular) hour of day.
    level_db : float
        Peak amplitude of a near call in dBFS.
    """

    name: str
    call: str
    f_low: float
    f_high: float
    calls_per_minute: float
    peak_hour: float
    width_hours: float
    level_db: float


@dataclass(frozen=True)
class Insect:
    """Night stridulation of a site.

    Attributes
    ----------
    carrier_hz : float
        Carrier frequency.
    pulse_hz : float
        Pulse rate of the stridulation.
    chirp_hz : float
        Rate of chirps (groups of pulses); 0 for a continuous trill.
    level_db : float
        Peak amplitude of the nearest individual in dBFS.
    """

    carrier_hz: float
    pulse_hz: float
    chirp_hz: float
    level_db: float


@dataclass(frozen=True)
class NoiseBand:
    """One stationary component of the background floor.

    Attributes
    ----------
    f_low, f_high : float
        Band edges in Hz (smooth roll-off outside).
    slope : float
        Spectral slope of the power: 0 white, 1 pink, 2 brown.
    level_db : float
        RMS level of the component in dBFS.
    """

    f_low: float
    f_high: float
    slope: float
    level_db: float


@dataclass(frozen=True)
class SiteProfile:
    """Everything that makes a site sound like itself.

    Attributes
    ----------
    name : str
        Folder name (lowercase, path-safe).
    description : str
        One line for the manifest.
    species : tuple of Species
        The site's callers.
    insect : Insect
        The site's night insects.
    floor : tuple of NoiseBand
        The background floor.
    wind_exposure : float
        Factor applied to the regional wind strength.
    """

    name: str
    description: str
    species: tuple[Species, ...]
    insect: Insect
    floor: tuple[NoiseBand, ...]
    wind_exposure: float


_NAMED_SITES: tuple[SiteProfile, ...] = (
    SiteProfile(
        name="wetland",
        description="reed marsh: evening frog croaks, daytime warbler, insects at 4.3 kHz",
        species=(
            Species("pulsed harmonic croak", "croak", 950.0, 4200.0, 10.0, 19.0, 1.8, -16.0),
            Species("warble", "warble", 2200.0, 3200.0, 14.0, 9.0, 3.0, -18.0),
        ),
        insect=Insect(carrier_hz=4300.0, pulse_hz=35.0, chirp_hz=0.0, level_db=-26.0),
        floor=(NoiseBand(50.0, 8000.0, 1.0, -52.0),),
        wind_exposure=0.8,
    ),
    SiteProfile(
        name="forest",
        description="woodland by a stream: whistles and a high trill, chirping insects at 5.6 kHz",
        species=(
            Species("downslur whistle", "whistle", 3200.0, 4400.0, 12.0, 8.0, 3.5, -16.0),
            Species("high trill", "trill", 6500.0, 7300.0, 8.0, 13.0, 3.0, -20.0),
        ),
        insect=Insect(carrier_hz=5600.0, pulse_hz=45.0, chirp_hz=2.5, level_db=-28.0),
        floor=(NoiseBand(50.0, 8000.0, 1.0, -54.0), NoiseBand(250.0, 2000.0, 0.5, -40.0)),
        wind_exposure=0.4,
    ),
    SiteProfile(
        name="grassland",
        description="open meadow: up-sweep chirp phrases, low buzzy trill, loud insects at 4.9 kHz",
        species=(
            Species("up-sweep chirp phrase", "chirp", 4600.0, 6200.0, 14.0, 11.0, 3.5, -17.0),
            Species("low buzzy trill", "trill", 1600.0, 2100.0, 9.0, 15.0, 3.0, -19.0),
        ),
        insect=Insect(carrier_hz=4900.0, pulse_hz=60.0, chirp_hz=0.0, level_db=-22.0),
        floor=(NoiseBand(20.0, 8000.0, 2.0, -46.0),),
        wind_exposure=1.0,
    ),
)


def _drawn_site(index: int, seed: int) -> SiteProfile:
    """Profile for site number ``index`` (0-based) beyond the named ones, drawn from ``seed``."""
    rng = np.random.default_rng([seed, 0x517E, index])
    shapes = sorted(CALL_SHAPES)
    species = []
    for number in range(int(rng.integers(1, 3))):
        call = shapes[int(rng.integers(len(shapes)))]
        width = {"croak": 2800.0, "chirp": 1400.0, "warble": 1000.0}.get(call, 800.0)
        f_low = float(rng.uniform(1000.0, 7500.0 - width if call != "croak" else 1400.0))
        species.append(
            Species(
                name=f"{call} {number + 1}",
                call=call,
                f_low=round(f_low, 1),
                f_high=round(f_low + width, 1),
                calls_per_minute=round(float(rng.uniform(6.0, 15.0)), 2),
                peak_hour=round(float(rng.uniform(7.0, 19.0)), 2),
                width_hours=round(float(rng.uniform(1.5, 4.0)), 2),
                level_db=round(float(rng.uniform(-20.0, -15.0)), 2),
            )
        )
    insect = Insect(
        carrier_hz=round(float(rng.uniform(4000.0, 6000.0)), 1),
        pulse_hz=round(float(rng.uniform(25.0, 70.0)), 2),
        chirp_hz=round(float(rng.choice([0.0, rng.uniform(1.5, 4.0)])), 2),
        level_db=round(float(rng.uniform(-30.0, -22.0)), 2),
    )
    slope, level = round(float(rng.uniform(0.5, 2.0)), 2), round(float(rng.uniform(-54.0, -46.0)), 2)
    return SiteProfile(
        name=f"site_{index + 1:02d}",
        description="profile drawn from the seed",
        species=tuple(species),
        insect=insect,
        floor=(NoiseBand(20.0, 8000.0, slope, level),),
        wind_exposure=round(float(rng.uniform(0.4, 1.0)), 2),
    )


def site_profiles(sites: int, seed: int = 7) -> list[SiteProfile]:
    """The profiles of the first ``sites`` demo sites.

    Parameters
    ----------
    sites : int
        Number of sites. The first three are ``wetland``, ``forest`` and
        ``grassland``; further ones are ``site_04``, ``site_05``, ... with
        profiles drawn from ``seed``.
    seed : int
        Seed for the drawn profiles.

    Returns
    -------
    list of SiteProfile
    """
    return [
        _NAMED_SITES[index] if index < len(_NAMED_SITES) else _drawn_site(index, seed)
        for index in range(sites)
    ]


# --------------------------------------------------------------------------- hour-of-day curves


def _logistic(x: float) -> float:
    return 1.0 / (1.0 + np.exp(-x))


def _circular_hours(hour: float, centre: float) -> float:
    """Signed distance from ``centre`` to ``hour`` on the 24-h circle."""
    return (hour - centre + 12.0) % 24.0 - 12.0


def dawn_chorus_activity(hour: float) -> float:
    """Dawn-chorus intensity at an hour of day.

    Parameters
    ----------
    hour : float
        Local hour of day in [0, 24).

    Returns
    -------
    float
        In [0, 1]: about 1 from 05:00 to 07:00, one half at 04:30 and 07:30.
    """
    return float(_logistic((hour - _DAWN_START_HOUR) / 0.2) * _logistic((_DAWN_END_HOUR - hour) / 0.2))


def night_insect_activity(hour: float) -> float:
    """Night-insect intensity at an hour of day.

    Parameters
    ----------
    hour : float
        Local hour of day in [0, 24).

    Returns
    -------
    float
        In [0, 1]: about 1 from 21:30 to 03:30, one half at 20:30 and 04:30.
    """
    evening = _logistic(_circular_hours(hour, _DUSK_HOUR) / 0.3) if hour >= 12.0 else 0.0
    morning = _logistic(-_circular_hours(hour, _DAWN_START_HOUR) / 0.3) if hour < 12.0 else 0.0
    return float(evening + morning)


def species_activity(species: Species, hour: float) -> float:
    """Relative call rate of a species at an hour of day, outside the dawn chorus.

    Parameters
    ----------
    species : Species
        The caller (its ``peak_hour`` and ``width_hours`` give a Gaussian bump).
    hour : float
        Local hour of day in [0, 24).

    Returns
    -------
    float
        In [0, 1]: the bump, silenced at night (logistic edges at 04:00 and 21:30).
    """
    distance = _circular_hours(hour, species.peak_hour)
    bump = np.exp(-0.5 * (distance / species.width_hours) ** 2)
    awake = _logistic((hour - _CALLERS_WAKE_HOUR) / 0.3) * _logistic((_CALLERS_REST_HOUR - hour) / 0.3)
    return float(bump * awake)


# --------------------------------------------------------------------------- call shapes
# Each shape returns (frequency track in Hz, amplitude envelope, harmonic weights).

Call = tuple[np.ndarray, np.ndarray, tuple[float, ...]]
CallShape = Callable[[np.random.Generator, Species, int], Call]


def _unit_time(seconds: float, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    n = max(int(seconds * sample_rate), 2)
    t = np.arange(n, dtype=np.float64) / sample_rate
    return t, t / t[-1]


def _gated_notes(t: np.ndarray, period: float, note: float) -> tuple[np.ndarray, np.ndarray]:
    """Position within each note (0..1) and a Hann gate that is 0 between notes."""
    within = np.mod(t, period)
    position = np.clip(within / note, 0.0, 1.0)
    gate = np.where(within < note, np.sin(np.pi * position) ** 2, 0.0)
    return position, gate


def _whistle(rng: np.random.Generator, sp: Species, sample_rate: int) -> Call:
    """Descending whistle: fast start high, slowing as it falls."""
    _, u = _unit_time(rng.uniform(0.25, 0.6), sample_rate)
    top = rng.uniform(sp.f_high * 0.95, sp.f_high)
    bottom = rng.uniform(sp.f_low, sp.f_low * 1.05)
    freq = bottom + (top - bottom) * (1.0 - u) ** 1.6
    envelope = np.sin(np.pi * u**0.7) ** 2
    return freq, envelope, (1.0, 0.08)


def _chirp(rng: np.random.Generator, sp: Species, sample_rate: int) -> Call:
    """Phrase of three to six short rising sweeps."""
    note = rng.uniform(0.04, 0.08)
    period = note + rng.uniform(0.05, 0.1)
    t, _ = _unit_time(period * int(rng.integers(3, 7)) - (period - note), sample_rate)
    position, gate = _gated_notes(t, period, note)
    freq = sp.f_low + (sp.f_high - sp.f_low) * position
    return freq, gate, (1.0,)


def _trill(rng: np.random.Generator, sp: Species, sample_rate: int) -> Call:
    """Rapid series of short notes drifting slightly down in pitch."""
    period = 1.0 / rng.uniform(12.0, 20.0)
    t, u = _unit_time(rng.uniform(0.8, 2.0), sample_rate)
    position, gate = _gated_notes(t, period, 0.6 * period)
    base = rng.uniform(sp.f_low, sp.f_low + 0.6 * (sp.f_high - sp.f_low))
    freq = base * (1.0 - 0.04 * u) + 0.35 * (sp.f_high - sp.f_low) * position
    fade = np.minimum(1.0, np.minimum(u, 1.0 - u) / 0.1)
    return freq, gate * fade, (1.0, 0.06)


def _croak(rng: np.random.Generator, sp: Species, sample_rate: int) -> Call:
    """One to three pulsed harmonic croaks (fundamental near ``f_low``)."""
    note = rng.uniform(0.15, 0.3)
    period = note + rng.uniform(0.1, 0.2)
    t, _ = _unit_time(period * int(rng.integers(1, 4)) - (period - note), sample_rate)
    _, gate = _gated_notes(t, period, note)
    f0 = rng.uniform(sp.f_low, sp.f_low * 1.08)
    freq = np.full(t.size, f0)
    pulses = 0.55 + 0.45 * np.cos(2 * np.pi * rng.uniform(50.0, 70.0) * t)
    harmonics = max(int(sp.f_high // f0), 1)
    return freq, gate * pulses, tuple(0.7**k for k in range(harmonics))


def _warble(rng: np.random.Generator, sp: Species, sample_rate: int) -> Call:
    """Whistle with fast vibrato around the middle of the band, in syllables."""
    t, u = _unit_time(rng.uniform(0.8, 1.6), sample_rate)
    centre = 0.5 * (sp.f_low + sp.f_high)
    depth = 0.4 * (sp.f_high - sp.f_low)
    freq = centre + depth * np.sin(2 * np.pi * rng.uniform(6.0, 12.0) * t + rng.uniform(0, 2 * np.pi))
    syllables = 0.5 + 0.5 * np.cos(2 * np.pi * rng.uniform(3.0, 5.0) * t) ** 2
    fade = np.minimum(1.0, np.minimum(u, 1.0 - u) / 0.08)
    return freq, syllables * fade, (1.0, 0.03)


#: Call shapes by name.
CALL_SHAPES: dict[str, CallShape] = {
    "whistle": _whistle,
    "chirp": _chirp,
    "trill": _trill,
    "croak": _croak,
    "warble": _warble,
}


def _render_call(
    freq: np.ndarray, envelope: np.ndarray, harmonics: tuple[float, ...], sample_rate: int
) -> np.ndarray:
    """Sum of the harmonics below Nyquist along the frequency track, shaped by the envelope."""
    phase = 2 * np.pi * np.cumsum(freq) / sample_rate
    top = float(freq.max())
    wave = np.zeros_like(phase)
    for k, weight in enumerate(harmonics, start=1):
        if k * top < 0.475 * sample_rate:
            wave += weight * np.sin(k * phase)
    return envelope * wave / sum(harmonics)


# --------------------------------------------------------------------------- layers


def _db(level_db: float) -> float:
    return 10 ** (level_db / 20)


def _band_shape(freqs: np.ndarray, band: NoiseBand) -> np.ndarray:
    """Magnitude shape of a band (power slope ``band.slope``, 4th-order edges)."""
    f = np.maximum(freqs, 1.0)
    shape = f ** (-band.slope / 2)
    shape /= np.sqrt(1 + (band.f_low / f) ** 8) * np.sqrt(1 + (f / band.f_high) ** 8)
    return shape


@lru_cache(maxsize=16)
def _noise_amplitude(n: int, sample_rate: int, bands: tuple[NoiseBand, ...]) -> np.ndarray:
    """Amplitude per rfft bin that gives each band its RMS level (read-only, cached)."""
    freqs = np.fft.rfftfreq(n, 1.0 / sample_rate)
    power = np.zeros(freqs.size)
    for band in bands:
        shape = _band_shape(freqs, band)
        shape[0] = 0.0
        # irfft of a spectrum with unit-variance complex bins has RMS sqrt(2 * sum|S|^2) / n.
        rms = np.sqrt(2 * np.sum(shape**2)) / n
        power += (shape * _db(band.level_db) / rms) ** 2
    amplitude = np.sqrt(power / 2).astype(np.float32)
    amplitude.flags.writeable = False
    return amplitude


def _coloured_noise(
    rng: np.random.Generator, n: int, sample_rate: int, bands: tuple[NoiseBand, ...]
) -> np.ndarray:
    """Stationary Gaussian noise whose components have the given bands and RMS levels."""
    amplitude = _noise_amplitude(n, sample_rate, bands)
    spectrum = rng.standard_normal(2 * amplitude.size, dtype=np.float32).view(np.complex64)
    spectrum *= amplitude
    return np.fft.irfft(spectrum, n)


def _slow_envelope(
    rng: np.random.Generator, n: int, sample_rate: int, seconds_per_point: float
) -> np.ndarray:
    """Smooth random curve (zero mean, unit-ish spread) sampled at every one of ``n`` samples."""
    points = int(n / sample_rate / seconds_per_point) + 3
    steps = rng.standard_normal(points)
    smooth = np.convolve(steps, np.hanning(5), mode="same")
    smooth /= max(float(np.std(smooth)), 1e-9)
    return np.interp(np.arange(n) / sample_rate, np.arange(points) * seconds_per_point, smooth)


def _calls(rng: np.random.Generator, site: SiteProfile, hour: float, n: int, sample_rate: int) -> np.ndarray:
    """All the site's calls in one recording: Poisson counts, random onsets and distances."""
    chorus = dawn_chorus_activity(hour)
    out = np.zeros(n)
    minutes = n / sample_rate / 60.0
    for species in site.species:
        rate = species.calls_per_minute * (species_activity(species, hour) + _CHORUS_RATE_BOOST * chorus)
        shape = CALL_SHAPES[species.call]
        for _ in range(int(rng.poisson(rate * minutes))):
            freq, envelope, harmonics = shape(rng, species, sample_rate)
            level = species.level_db + _CHORUS_LEVEL_DB * chorus - rng.uniform(0.0, 20.0)
            start = int(rng.integers(n))
            wave = _db(level) * _render_call(freq, envelope, harmonics, sample_rate)[: n - start]
            out[start : start + wave.size] += wave
    return out


def _insects(
    rng: np.random.Generator, insect: Insect, activity: float, n: int, sample_rate: int
) -> np.ndarray:
    """Two or three stridulating individuals: pulsed carriers near the site's frequency."""
    t = np.arange(n) / sample_rate
    out = np.zeros(n, dtype=np.float32)
    for _ in range(int(rng.integers(2, 4))):
        carrier, pulse_hz, chirp_hz, swell_hz = (
            insect.carrier_hz * rng.uniform(0.97, 1.03),
            insect.pulse_hz * rng.uniform(0.92, 1.08),
            insect.chirp_hz * rng.uniform(0.9, 1.1),
            rng.uniform(0.03, 0.1),
        )
        phases = rng.uniform(0.0, 2 * np.pi, size=4)
        # (1 - cos) / 2 raised to the 4th power: sharp pulses at pulse_hz.
        envelope = _cosine(t, pulse_hz, phases[0])
        envelope = 0.5 - 0.5 * envelope
        envelope *= envelope
        envelope *= envelope
        if chirp_hz > 0:
            chirps = 0.5 + 0.5 * _cosine(t, chirp_hz, phases[1])
            envelope *= chirps * chirps * chirps
        envelope *= 1.0 + 0.3 * _cosine(t, swell_hz, phases[2])
        envelope *= np.float32(_db(insect.level_db) * activity * rng.uniform(0.3, 1.0))
        out += envelope * _cosine(t, carrier, phases[3])
    return out


def _cosine(t: np.ndarray, freq: float, phase: float) -> np.ndarray:
    """``cos(2 pi freq t + phase)`` in float32; cycles are counted in float64, then wrapped."""
    cycles = t * freq + phase / (2 * np.pi)
    cycles -= np.floor(cycles)
    return np.cos(cycles.astype(np.float32) * np.float32(2 * np.pi))


def _rain_drops(rng: np.random.Generator, intensity: float, n: int, sample_rate: int) -> np.ndarray:
    """Random drop transients: sparse impulses through short, decaying noise bursts."""
    count = int(rng.poisson((20.0 + 200.0 * intensity) * n / sample_rate))
    k = np.arange(int(0.006 * sample_rate)) / sample_rate
    out = np.zeros(n + k.size - 1)
    # Four burst shapes so that drops differ in colour without one shared resonance.
    for batch in np.array_split(np.arange(count), 4):
        impulses = np.zeros(n)
        signs = rng.choice([-1.0, 1.0], size=batch.size)
        sizes = _db(-36.0 + 14.0 * intensity) * rng.uniform(0.1, 1.0, size=batch.size) * signs
        np.add.at(impulses, rng.integers(n, size=batch.size), sizes)
        burst = np.exp(-k / rng.uniform(0.0006, 0.0015)) * rng.standard_normal(k.size)
        out += np.convolve(impulses, burst / np.sqrt(np.sum(burst**2)), mode="full")
    return out[:n]


def _wind(rng: np.random.Generator, strength: float, n: int, sample_rate: int) -> np.ndarray:
    """Low-frequency noise (below about 500 Hz) under a slow, gusty envelope."""
    rumble = _coloured_noise(rng, n, sample_rate, (NoiseBand(15.0, 450.0, 1.5, 0.0),))
    gusts = np.exp(0.6 * _slow_envelope(rng, n, sample_rate, 2.0))
    return rumble * gusts * (_db(-36.0 + 16.0 * strength) / np.sqrt(np.mean(gusts**2)))


# --------------------------------------------------------------------------- weather


@dataclass(frozen=True)
class Spell:
    """A weather spell: start and end in hours since midnight, and intensity in [0, 1]."""

    start_hour: float
    end_hour: float
    intensity: float


def _spells_starting_on(seed: int, day: date) -> dict[str, list[Spell]]:
    rng = np.random.default_rng([seed, 0x3EA7, day.toordinal()])
    spells: dict[str, list[Spell]] = {}
    for kind, mean_count, (shortest, longest) in (("rain", 0.8, (0.5, 3.0)), ("wind", 1.2, (1.0, 6.0))):
        spells[kind] = []
        for _ in range(int(rng.poisson(mean_count))):
            start = float(rng.uniform(0.0, 24.0))
            end = start + float(rng.uniform(shortest, longest))
            spells[kind].append(Spell(start, end, float(rng.uniform(0.3, 1.0))))
    return spells


def weather_spells(seed: int, day: date) -> dict[str, list[Spell]]:
    """Rain and wind spells over one day, shared by all sites.

    Parameters
    ----------
    seed : int
        Archive seed.
    day : date
        The day.

    Returns
    -------
    dict
        ``{"rain": [Spell, ...], "wind": [Spell, ...]}``: the spells that start on
        ``day`` and those of the day before that run past midnight (their hours
        shifted by -24, so they start before 0).
    """
    spells = _spells_starting_on(seed, day)
    for kind, found in _spells_starting_on(seed, day - timedelta(days=1)).items():
        spells[kind] = [
            Spell(spell.start_hour - 24.0, spell.end_hour - 24.0, spell.intensity)
            for spell in found
            if spell.end_hour > 24.0
        ] + spells[kind]
    return spells


def _intensity(spells: list[Spell], hour: float) -> float:
    covering = [spell.intensity for spell in spells if spell.start_hour <= hour < spell.end_hour]
    return max(covering, default=0.0)


# --------------------------------------------------------------------------- one recording


def _file_seed(seed: int, site: str, start: datetime) -> np.random.SeedSequence:
    return np.random.SeedSequence([seed, zlib.crc32(site.encode()), int(start.strftime("%Y%m%d%H%M%S"))])


def synthesise_recording(
    site: SiteProfile,
    start: datetime,
    seconds: float,
    sample_rate: int,
    seed: int,
    spells: dict[str, list[Spell]],
) -> tuple[np.ndarray, dict]:
    """Synthesise one recording.

    Parameters
    ----------
    site : SiteProfile
        The site.
    start : datetime
        Local start time (naive).
    seconds : float
        Duration.
    sample_rate : int
        Sample rate in Hz.
    seed : int
        Archive seed; the file's generator is seeded from ``(seed, site.name, start)``.
    spells : dict
        The day's weather (:func:`weather_spells`).

    Returns
    -------
    samples : ndarray
        int16 samples.
    layers : dict
        What the file contains: ``dawn_chorus``, ``night_insects``, ``rain``,
        ``wind`` (intensities in [0, 1]) and ``gain`` (1 unless scaled down).
    """
    rng = np.random.default_rng(_file_seed(seed, site.name, start))
    n = int(round(seconds * sample_rate))
    hour = start.hour + start.minute / 60 + start.second / 3600 + seconds / 7200
    layers = {
        "dawn_chorus": dawn_chorus_activity(hour),
        "night_insects": night_insect_activity(hour),
        "rain": _intensity(spells["rain"], hour),
        "wind": _intensity(spells["wind"], hour) * site.wind_exposure,
    }
    floor = site.floor
    if layers["rain"] > 0:
        floor += (NoiseBand(500.0, 8000.0, 0.5, -52.0 + 18.0 * layers["rain"]),)
    mix = _coloured_noise(rng, n, sample_rate, floor)
    mix += _calls(rng, site, hour, n, sample_rate)
    if layers["night_insects"] > 1e-3:
        mix += _insects(rng, site.insect, layers["night_insects"], n, sample_rate)
    if layers["rain"] > 0:
        mix += _rain_drops(rng, layers["rain"], n, sample_rate)
    if layers["wind"] > 0:
        mix += _wind(rng, layers["wind"], n, sample_rate)
    peak = float(np.max(np.abs(mix))) if n else 0.0
    gain = min(1.0, PEAK_LIMIT / peak) if peak > 0 else 1.0
    samples = np.round(mix * (gain * 32767)).astype(np.int16)
    layers = {key: round(value, 4) for key, value in layers.items()}
    layers["gain"] = round(gain, 6)
    return samples, layers


# --------------------------------------------------------------------------- archive


def _replace_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Write through a hidden temporary name beside ``path``, then rename it into place."""
    temporary = path.with_name(f".{path.name}.partial")
    try:
        write(temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _write_atomic_wav(path: Path, samples: np.ndarray, sample_rate: int) -> None:
    _replace_atomically(
        path, lambda target: sf.write(target, samples, sample_rate, format="WAV", subtype="PCM_16")
    )


def _write_atomic_json(path: Path, payload: dict) -> None:
    text = json.dumps(payload, indent=1, sort_keys=True) + "\n"
    _replace_atomically(path, lambda target: target.write_text(text, encoding="utf-8"))


def _validate(
    sites: int, days: int, interval_minutes: int, recording_seconds: float, sample_rate: int, start_date: str
) -> date:
    """Refuse parameters that cannot make an archive; return the first day."""
    if sites < 1 or days < 1:
        raise ValueError(f"sites and days must be at least 1 (got sites={sites}, days={days})")
    if not 1 <= interval_minutes <= 1440:
        raise ValueError(f"interval_minutes must be between 1 and 1440 (got {interval_minutes})")
    if sample_rate < MIN_SAMPLE_RATE:
        raise ValueError(
            f"sample_rate must be at least {MIN_SAMPLE_RATE} Hz: callers reach 7.5 kHz (got {sample_rate})"
        )
    if not 1 / sample_rate <= recording_seconds <= interval_minutes * 60:
        raise ValueError(
            f"recording_seconds must be at least one sample long and at most interval_minutes * 60 = "
            f"{interval_minutes * 60} so recordings do not overlap (got {recording_seconds})"
        )
    try:
        return datetime.strptime(start_date, "%Y-%m-%d").date()
    except ValueError:
        raise ValueError(f"start_date must be YYYY-MM-DD (got {start_date!r})") from None


def generate_demo_archive(
    out_dir: Path,
    sites: int = DemoSettings.sites,
    days: int = DemoSettings.days,
    interval_minutes: int = DemoSettings.interval_minutes,
    recording_seconds: float = DemoSettings.recording_seconds,
    sample_rate: int = DemoSettings.sample_rate,
    seed: int = DemoSettings.seed,
    start_date: str = "2024-05-01",
) -> dict:
    """Write a deterministic synthetic soundscape archive (see the module docstring).

    Parameters
    ----------
    out_dir : Path
        Archive folder; created if missing. Site folders go directly in it.
    sites : int
        Number of sites (``wetland``, ``forest``, ``grassland``, then ``site_04``, ...).
    days : int
        Number of consecutive days from ``start_date``.
    interval_minutes : int
        One recording starts every ``interval_minutes`` from 00:00 local time each day.
    recording_seconds : float
        Length of each recording; at most ``interval_minutes * 60``.
    sample_rate : int
        Sample rate in Hz, at least 16000.
    seed : int
        Seed of every random choice; the same parameters give byte-identical files.
    start_date : str
        First day, ``YYYY-MM-DD``.

    Returns
    -------
    dict
        The manifest also written to ``out_dir / "ecoae-demo.json"``: ``synthetic``
        (True), ``note``, ``parameters``, ``sites`` (profiles), ``weather`` (spells
        per day) and ``files`` (path relative to ``out_dir``, site, local start,
        duration and the layers the file contains).

    Raises
    ------
    ValueError
        On parameters that cannot make an archive (the message names the fix).
    """
    first_day = _validate(sites, days, interval_minutes, recording_seconds, sample_rate, start_date)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = out_dir / MANIFEST_NAME
    # The manifest marks a complete archive: drop a previous one before touching any file.
    manifest_path.unlink(missing_ok=True)
    profiles = site_profiles(sites, seed)
    starts_in_day = range(0, 24 * 60, interval_minutes)
    began = time.perf_counter()
    files = []
    weather = {}
    for day_index in range(days):
        day = first_day + timedelta(days=day_index)
        spells = weather_spells(seed, day)
        weather[day.isoformat()] = {kind: [asdict(s) for s in found] for kind, found in spells.items()}
        for site in profiles:
            (out_dir / site.name).mkdir(exist_ok=True)
            for minute in starts_in_day:
                start = datetime.combine(day, datetime.min.time()) + timedelta(minutes=minute)
                samples, layers = synthesise_recording(
                    site, start, recording_seconds, sample_rate, seed, spells
                )
                relative = f"{site.name}/{start:%Y%m%d_%H%M%S}.WAV"
                _write_atomic_wav(out_dir / relative, samples, sample_rate)
                files.append(
                    {
                        "path": relative,
                        "site": site.name,
                        "local_start": start.isoformat(),
                        "duration_s": samples.size / sample_rate,
                        **layers,
                    }
                )
        logger.info("demo archive: day %s written (%d files so far)", day.isoformat(), len(files))
    manifest = {
        "synthetic": True,
        "note": (
            "Synthetic soundscapes generated by ecoae.archive.demo.generate_demo_archive; not field recordings. "
            "File names are local wall-clock start times (no time zone stated). "
            "The soundscape model is described in the ecoae.archive.demo module docstring."
        ),
        "parameters": {
            "sites": sites,
            "days": days,
            "interval_minutes": interval_minutes,
            "recording_seconds": recording_seconds,
            "sample_rate": sample_rate,
            "seed": seed,
            "start_date": first_day.isoformat(),
        },
        "sites": [asdict(profile) for profile in profiles],
        "weather": weather,
        "files": files,
    }
    _write_atomic_json(manifest_path, manifest)
    logger.info("demo archive: %d files in %s (%.1f s)", len(files), out_dir, time.perf_counter() - began)
    return json.loads(json.dumps(manifest))
