"""MFCC summary statistics per segment into the ``mfcc`` feature store.

For each segment: librosa's MFCCs (``librosa.feature.mfcc`` with the settings
below), summarised over frames as the mean and the standard deviation of each
coefficient, and of its delta when ``deltas`` is on. :func:`segment_mfcc`
computes librosa's pipeline (power STFT -> mel filter bank -> dB -> DCT-II)
with the STFT transformed and projected on the mel filter bank in
cache-sized blocks of frames, the filter bank built once per settings and
applied in dense bands of neighbouring filters, and the DCT as a small matrix
product (equal to librosa's values to float32 rounding), and
:func:`partition_mfcc` spreads segments over worker processes.

Columns: ``mfcc00_mean`` ... ``mfcc{n-1}_mean``, ``mfcc00_std`` ..., then with
deltas ``mfcc00_delta_mean`` ... and ``mfcc00_delta_std`` ...; flags
``qc_short`` (fewer samples than ``n_fft``, or fewer frames than
``delta_width`` when deltas are on: those values are NaN), ``qc_silent`` (peak below ``silence_level``).
"""

from __future__ import annotations

import functools
import importlib
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

from ecoae.features.segment_workers import Analysis, FeatureTable, SegmentResults, map_segment_audio
from ecoae.settings import AudioSettings, MfccSettings

QC_COLUMNS = ["qc_short", "qc_silent"]
#: Audio (s) per extra worker process: below it, starting a process costs more than it saves.
SECONDS_PER_WORKER = 600


def resolve_settings(settings: MfccSettings | dict | None = None) -> dict:
    """Return MFCC settings as a plain mapping, missing keys from :class:`MfccSettings`.

    Raises
    ------
    ValueError
        On an unknown key.
    """
    if not isinstance(settings, MfccSettings):
        settings = MfccSettings.from_mapping(settings, "mfcc")
    return settings.canonical()


def feature_columns(settings: dict) -> list[str]:
    """Feature column names for ``settings``, in store order."""
    coefficients = [f"mfcc{i:02d}" for i in range(settings["n_mfcc"])]
    stats = ["mean", "std"] + (["delta_mean", "delta_std"] if settings["deltas"] else [])
    return [f"{c}_{stat}" for stat in stats for c in coefficients]


def librosa_mfcc(s: np.ndarray, sr: int, settings: dict) -> np.ndarray:
    """``librosa.feature.mfcc`` called with ``settings`` (the reference)."""
    import librosa

    return librosa.feature.mfcc(
        y=s, sr=sr, n_mfcc=settings["n_mfcc"], n_fft=settings["n_fft"],
        hop_length=settings["hop_length"], n_mels=settings["n_mels"],
        fmin=settings["fmin"], fmax=settings["fmax"],
    )


@functools.lru_cache(maxsize=8)
def _mel_basis(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float | None) -> np.ndarray:
    import librosa

    return librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)


@functools.lru_cache(maxsize=8)
def _window(n_fft: int) -> np.ndarray:
    import librosa

    return librosa.filters.get_window("hann", n_fft, fftbins=True).astype(np.float32)


def _power_blocks(
    s: np.ndarray, n_fft: int, hop_length: int, block: int = 64
) -> Iterator[tuple[int, int, np.ndarray]]:
    """Yield ``(first frame, end frame, power)`` of librosa's power STFT, ``block`` frames at a time.

    Same framing as librosa (centred, ``n_fft // 2`` zeros each side, periodic
    Hann window). ``power`` has shape (frames, bins) and is a buffer reused for
    the next block, so use it before asking for the next one. Small blocks keep
    every temporary (windowed frames, spectrum) in cache and below the size
    at which the allocator maps fresh zeroed pages for each block: with
    blocks of 128 frames a 10 s segment costs about 350 page faults, with 64
    about 8 (measured on the real archive).
    """
    import scipy.fft

    padded = np.pad(np.asarray(s, dtype=np.float32), n_fft // 2)
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop_length]
    window = _window(n_fft)
    rows = min(block, frames.shape[0])
    windowed = np.empty((rows, n_fft), dtype=np.float32)
    power = np.empty((rows, n_fft // 2 + 1), dtype=np.float32)
    for start in range(0, frames.shape[0], block):
        stop = min(start + block, frames.shape[0])
        chunk, chunk_power = windowed[: stop - start], power[: stop - start]
        np.multiply(frames[start:stop], window, out=chunk)
        parts = scipy.fft.rfft(chunk, axis=1, overwrite_x=True).view(np.float32)
        np.multiply(parts, parts, out=parts)
        np.add(parts[:, 0::2], parts[:, 1::2], out=chunk_power)
        yield start, stop, chunk_power


def power_spectrogram(s: np.ndarray, n_fft: int, hop_length: int) -> np.ndarray:
    """``abs(librosa.stft(s, n_fft, hop_length)) ** 2``, transposed to (frames, bins).

    Equal to librosa's values to float32 rounding (see :func:`_power_blocks`).
    """
    n_frames = 1 + (np.asarray(s).size + 2 * (n_fft // 2) - n_fft) // hop_length
    power = np.empty((n_frames, n_fft // 2 + 1), dtype=np.float32)
    for start, stop, block in _power_blocks(s, n_fft, hop_length):
        power[start:stop] = block
    return power


@functools.lru_cache(maxsize=8)
def _banded_mel_basis(
    sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float | None, group: int = 8
) -> tuple[tuple[int, int, int, int, np.ndarray], ...]:
    """librosa's mel filter bank cut into bands of ``group`` filters.

    Each band is ``(first filter, end filter, first bin, end bin, weights)``
    with ``weights`` the band's non-zero bin range, shape (bins, filters). A
    triangular filter covers a few neighbouring FFT bins, so the bands together
    hold about ``group`` times fewer weights than the dense matrix, and each
    band is still a dense product for BLAS.
    """
    basis = _mel_basis(sr, n_fft, n_mels, fmin, fmax)
    bands = []
    for first in range(0, n_mels, group):
        end = min(first + group, n_mels)
        used = np.flatnonzero(basis[first:end].any(axis=0))
        low, high = (int(used[0]), int(used[-1]) + 1) if used.size else (0, 0)
        bands.append((first, end, low, high, np.ascontiguousarray(basis[first:end, low:high].T)))
    return tuple(bands)


@functools.lru_cache(maxsize=8)
def _dct_matrix(n_mels: int, n_mfcc: int) -> np.ndarray:
    """First ``n_mfcc`` rows of the orthonormal DCT-II matrix (``scipy.fft.dct``'s), float32."""
    import scipy.fft

    return scipy.fft.dct(np.eye(n_mels), type=2, norm="ortho", axis=0)[:n_mfcc].astype(np.float32)


def fast_mfcc(s: np.ndarray, sr: int, settings: dict) -> np.ndarray:
    """The MFCC matrix of :func:`librosa_mfcc`, to float32 rounding.

    Same steps as librosa 0.11: centred Hann STFT (constant padding), power,
    mel projection, ``power_to_db`` (ref 1, amin 1e-10, top_db 80 below the
    segment's maximum), orthonormal DCT-II, first ``n_mfcc`` rows. Each block
    of power frames from :func:`_power_blocks` is projected on the mel filter
    bank (in dense bands of neighbouring filters) while it is in cache, so the
    full power spectrogram is never stored; dB is computed in place and the
    DCT is a product with the first ``n_mfcc`` rows of the DCT matrix (all float32).

    Returns
    -------
    ndarray
        Shape (n_mfcc, frames), C-contiguous float32.
    """
    n_fft, hop_length, n_mels = settings["n_fft"], settings["hop_length"], settings["n_mels"]
    bands = _banded_mel_basis(sr, n_fft, n_mels, settings["fmin"], settings["fmax"])
    n_frames = 1 + (s.size + 2 * (n_fft // 2) - n_fft) // hop_length
    mel_db = np.empty((n_frames, n_mels), dtype=np.float32)
    for start, stop, power in _power_blocks(s, n_fft, hop_length):
        for first, end, low, high, weights in bands:
            np.matmul(power[:, low:high], weights, out=mel_db[start:stop, first:end])
    np.maximum(mel_db, 1e-10, out=mel_db)
    np.log10(mel_db, out=mel_db)
    mel_db *= 10.0
    np.maximum(mel_db, mel_db.max() - 80.0, out=mel_db)
    return _dct_matrix(n_mels, settings["n_mfcc"]) @ mel_db.T


def summarise(mfcc: np.ndarray, settings: dict) -> dict[str, float]:
    """Mean and standard deviation over frames of each coefficient (and delta)."""
    import librosa

    names = [f"mfcc{i:02d}" for i in range(settings["n_mfcc"])]
    row = {f"{n}_mean": float(v) for n, v in zip(names, mfcc.mean(axis=1))}
    row.update({f"{n}_std": float(v) for n, v in zip(names, mfcc.std(axis=1))})
    if settings["deltas"]:
        if mfcc.shape[1] >= settings["delta_width"]:
            delta = librosa.feature.delta(mfcc, width=settings["delta_width"])
            row.update({f"{n}_delta_mean": float(v) for n, v in zip(names, delta.mean(axis=1))})
            row.update({f"{n}_delta_std": float(v) for n, v in zip(names, delta.std(axis=1))})
        else:
            row.update({f"{n}_delta_{stat}": np.nan for n in names for stat in ("mean", "std")})
    return row


def segment_mfcc(s: np.ndarray, sr: int, settings: dict | None = None) -> dict[str, Any]:
    """MFCC summary features and flags of one segment.

    Parameters
    ----------
    s : ndarray
        Mono float32 samples at ``sr``.
    sr : int
        Sample rate in Hz.
    settings : dict, optional
        See :func:`resolve_settings`.

    Returns
    -------
    dict
        Column name -> value (NaN where undefined), plus ``qc_short`` and ``qc_silent`` (peak below ``silence_level``).
    """
    settings = resolve_settings(settings)
    columns = feature_columns(settings)
    short = s.size < settings["n_fft"]
    row: dict[str, Any] = dict.fromkeys(columns, np.nan)
    if not short:
        mfcc = fast_mfcc(np.asarray(s, dtype=np.float32), sr, settings)
        row.update(summarise(mfcc, settings))
        if settings["deltas"] and mfcc.shape[1] < settings["delta_width"]:
            short = True
    row["qc_short"] = bool(short)
    row["qc_silent"] = bool(s.size == 0 or max(s.max(), -s.min()) < settings["silence_level"])
    return row


def mfcc_analysis(audio: AudioSettings, settings: MfccSettings | dict | None = None) -> Analysis:
    """MFCC as one analysis of a pass over a partition's audio (at ``audio.sample_rate``)."""
    importlib.import_module("librosa")  # imported once here, inherited by forked workers

    settings = resolve_settings(settings)
    # Build the mel filter bank once here, so forked workers inherit it.
    _banded_mel_basis(
        audio.sample_rate, settings["n_fft"], settings["n_mels"], settings["fmin"], settings["fmax"]
    )
    _dct_matrix(settings["n_mels"], settings["n_mfcc"])
    _window(settings["n_fft"])
    return Analysis("mfcc", segment_mfcc, settings, audio.sample_rate, SECONDS_PER_WORKER)


def mfcc_table(results: SegmentResults, settings: dict) -> FeatureTable:
    """The store table of a pass's MFCC rows: float32 features, then the ``qc_*`` columns."""
    columns = feature_columns(settings)
    features = pd.DataFrame(results.rows, columns=columns + QC_COLUMNS)
    features[columns] = features[columns].astype("float32")
    features[QC_COLUMNS] = features[QC_COLUMNS].astype(bool)
    return results.table(features)


def partition_mfcc(
    segments: pd.DataFrame,
    archive: str | Path,
    audio: AudioSettings,
    settings: MfccSettings | dict | None = None,
    threads: int = 1,
) -> FeatureTable:
    """MFCC summary features of every segment of a segment-store partition.

    Parameters
    ----------
    segments : DataFrame
        A segment store partition (``SEGMENT_KEY`` + ``path``, ``offset``).
    archive : str or Path
        Folder the ``path`` column is relative to.
    audio : AudioSettings
        Rate and channel the audio is read at.
    settings : MfccSettings or dict, optional
        See :func:`resolve_settings`.
    threads : int
        Worker processes.

    Returns
    -------
    FeatureTable
        ``features``: ``SEGMENT_KEY`` (order of ``segments``), float32 feature columns,
        ``qc_*``, for every segment whose audio could be read; ``problems``: the others.
    """
    analysis = mfcc_analysis(audio, settings)
    done = map_segment_audio([analysis], segments, archive, audio.channel, threads)
    return mfcc_table(done.results["mfcc"], analysis.settings)
