"""scikit-maad acoustic indices per segment, fast, into the ``indices`` feature store.

The values are those of scikit-maad's ``all_temporal_alpha_indices`` (16 indices
on the waveform) and ``all_spectral_alpha_indices`` (44 indices on the power
spectrogram of ``maad.sound.spectrogram``), named as scikit-maad names them.
:func:`maad_recipe_indices` is scikit-maad's own recipe, called as its
documentation shows; :func:`segment_indices` computes the same numbers faster:
the spectrogram and its derived arrays are computed once and shared, work whose
result never reaches a scalar index is skipped, and the slow functions are
replaced by the vectorised ones of :mod:`ecoae.features.indices_fast`. Both read the same
float64 copy of the segment's samples at the workflow's sample rate.

Quality flags (not features): ``qc_short`` (too short for the spectrogram or the
envelope: every index NaN), ``qc_silent`` (peak below
``silence_level``, default -60 dBFS; decoded "digital silence" is rarely all zeros), ``qc_clipped``
(a sample at or above ``clip_level``), ``qc_undefined`` (how many indices of the
row are NaN, e.g. entropies and dB values of digital silence).
"""

from __future__ import annotations

import importlib
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ecoae.features import indices_fast
from ecoae.features.segment_workers import Analysis, FeatureTable, SegmentResults, map_segment_audio
from ecoae.settings import AudioSettings, IndicesSettings, SettingsError

log = logging.getLogger(__name__)

#: Columns of ``maad.features.all_temporal_alpha_indices``, in its order.
TEMPORAL_INDICES = [
    "ZCR", "MEANt", "VARt", "SKEWt", "KURTt", "LEQt", "BGNt", "SNRt", "MED", "Ht",
    "ACTtFraction", "ACTtCount", "ACTtMean", "EVNtFraction", "EVNtMean", "EVNtCount",
]
#: Columns of ``maad.features.all_spectral_alpha_indices``, in its order.
SPECTRAL_INDICES = [
    "MEANf", "VARf", "SKEWf", "KURTf", "NBPEAKS", "LEQf", "ENRf", "BGNf", "SNRf", "Hf",
    "EAS", "ECU", "ECV", "EPS", "EPS_KURT", "EPS_SKEW", "ACI", "NDSI", "rBA",
    "AnthroEnergy", "BioEnergy", "BI", "ROU", "ADI", "AEI", "LFC", "MFC", "HFC",
    "ACTspFract", "ACTspCount", "ACTspMean", "EVNspFract", "EVNspMean", "EVNspCount",
    "TFSD", "H_Havrda", "H_Renyi", "H_pairedShannon", "H_gamma", "H_GiniSimpson",
    "RAOQ", "AGI", "nROI", "aROI",
]
ALL_INDICES = TEMPORAL_INDICES + SPECTRAL_INDICES
QC_COLUMNS = ["qc_short", "qc_silent", "qc_clipped", "qc_undefined"]
#: Audio (s) per extra worker process: below it, starting a process costs more than it saves.
SECONDS_PER_WORKER = 60

def resolve_settings(settings: IndicesSettings | dict | None = None) -> dict:
    """Return the index settings as a plain mapping, missing keys from :class:`IndicesSettings`.

    Raises
    ------
    ValueError
        On an unknown key or index name, naming it and the valid ones.
    """
    if not isinstance(settings, IndicesSettings):
        settings = IndicesSettings.from_mapping(settings, "indices")
    resolved = settings.canonical()
    if resolved["spectrogram"]["noverlap"] is None:
        resolved["spectrogram"]["noverlap"] = resolved["spectrogram"]["nperseg"] // 2
    selected = selected_indices(resolved)
    unknown = [name for name in selected if name not in ALL_INDICES]
    if unknown:
        raise SettingsError(f"unknown index name(s) {unknown} in indices.select; valid: {ALL_INDICES}")
    return resolved


def selected_indices(settings: dict) -> list[str]:
    """Index names chosen by ``settings["select"]`` (``"all"`` or a list), in scikit-maad's order."""
    select = settings["select"]
    if select == "all":
        return list(ALL_INDICES)
    chosen = set(select)
    return [name for name in ALL_INDICES if name in chosen] + sorted(chosen - set(ALL_INDICES))


def min_samples(settings: dict) -> int:
    """Fewest samples a segment needs: 4 spectrogram frames and 4 envelope frames."""
    hop = settings["spectrogram"]["nperseg"] - settings["spectrogram"]["noverlap"]
    return max(settings["spectrogram"]["nperseg"] + 4 * hop, 4 * settings["temporal"]["Nt"])


def remove_dc(s: np.ndarray, settings: dict) -> np.ndarray:
    """Subtract the segment mean when ``settings["detrend"]``, as ``maad.sound.load`` does.

    Recorders such as the Song Meter SM4 add a DC offset; without this step the
    zero-crossing rate and the envelope-based temporal indices measure the offset.
    """
    return s - np.mean(s) if settings["detrend"] and s.size else s


def _spectrogram(s: np.ndarray, fs: int, settings: dict):
    from maad.sound import spectrogram

    spec = settings["spectrogram"]
    sxx, tn, fn, _ = spectrogram(
        s, fs, window=spec["window"], nperseg=spec["nperseg"], noverlap=spec["noverlap"]
    )
    return sxx, tn, fn


def maad_recipe_indices(s: np.ndarray, fs: int, settings: dict | None = None) -> dict[str, float]:
    """All indices by scikit-maad's own recipe (the reference and the naive baseline).

    ``all_temporal_alpha_indices`` on the waveform, ``maad.sound.spectrogram``,
    then ``all_spectral_alpha_indices``, with the settings passed as keyword
    arguments.

    Parameters
    ----------
    s : ndarray
        Segment samples (float64 recommended; :func:`segment_indices` uses float64).
    fs : int
        Sample rate in Hz.
    settings : dict, optional
        See :func:`resolve_settings`.

    Returns
    -------
    dict
        Index name -> value, for all 60 indices.
    """
    from maad.features import all_spectral_alpha_indices, all_temporal_alpha_indices

    settings = resolve_settings(settings)
    s = remove_dc(s, settings)
    temporal = all_temporal_alpha_indices(s, fs, **settings["temporal"])
    sxx, tn, fn = _spectrogram(s, fs, settings)
    spectral, _ = all_spectral_alpha_indices(
        sxx, tn, fn, **settings["bands"], **settings["spectral"]
    )
    return {**temporal.iloc[0].to_dict(), **spectral.iloc[0].to_dict()}


def _temporal(s: np.ndarray, fs: int, opts: dict, wanted: set[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    if "ZCR" in wanted:
        out["ZCR"] = indices_fast.zero_crossing_rate(s, fs)
    if wanted & {"MEANt", "VARt", "SKEWt", "KURTt"}:
        out["MEANt"], out["VARt"], out["SKEWt"], out["KURTt"] = indices_fast.waveform_moments(s)
    if "LEQt" in wanted:
        out["LEQt"] = indices_fast.temporal_leq(
            s, fs, opts["gain"], opts["Vadc"], opts["sensitivity"], opts["dBref"], opts["dt"]
        )
    if wanted.intersection(TEMPORAL_INDICES[6:]):  # BGNt onwards: envelope indices
        env = indices_fast.envelope(s, opts["mode"], opts["Nt"])
        out.update(indices_fast.envelope_indices(env, fs, opts, wanted))
    return out


def _spectral(sxx, tn, fn, bands: dict, opts: dict, wanted: set[str]) -> dict[str, float]:
    from maad.features import alpha_indices as alpha
    from maad.features import spectral_moments
    from maad.util import entropy

    flim_low, flim_mid, flim_hi = (np.asarray(bands[k]) for k in ("flim_low", "flim_mid", "flim_hi"))
    sum_power = np.sum(sxx, axis=1)
    mean_power = sum_power / sxx.shape[1]
    dt = tn[1] - tn[0]
    out: dict[str, float] = {}

    def want(*names: str) -> bool:
        return bool(wanted.intersection(names))

    if want("MEANf", "VARf", "SKEWf", "KURTf", "NBPEAKS"):
        # maad.sound.avg_amplitude_spectro: sqrt(mean(amplitude**2)), i.e. sqrt of the mean power.
        mean_amplitude = np.sqrt(mean_power)
        out["MEANf"], out["VARf"], out["SKEWf"], out["KURTf"] = spectral_moments(mean_amplitude)
        out["NBPEAKS"] = alpha.number_of_peaks(mean_amplitude, fn)
    if want("LEQf"):
        out["LEQf"], _ = alpha.spectral_leq(
            mean_power, opts["gain"], opts["Vadc"], opts["sensitivity"], opts["dBref"], opts["pRef"]
        )
    if want("Hf"):  # maad.features.frequency_entropy(compatibility="QUT"), without the per-bin part
        out["Hf"] = entropy(mean_power)
    # One spectrogram-sized work array serves the equalised spectrogram, then the
    # amplitude, then the logarithm (fresh large arrays cost page faults).
    work = np.empty(sxx.shape)
    out.update(_equalized(sxx, fn, mean_power, dt, (flim_low, flim_mid, flim_hi), opts, wanted, work))
    if want("NDSI", "rBA", "AnthroEnergy", "BioEnergy"):
        out["NDSI"], out["rBA"], out["AnthroEnergy"], out["BioEnergy"] = indices_fast.soundscape_index(
            sum_power, fn, flim_mid, flim_low, opts["R_compatible"]
        )
    if want("H_Havrda", "H_Renyi", "H_pairedShannon", "H_gamma", "H_GiniSimpson"):
        (out["H_Havrda"], out["H_Renyi"], out["H_pairedShannon"], out["H_gamma"],
         out["H_GiniSimpson"]) = alpha.more_entropy(mean_power, order=3)
    if want("RAOQ"):
        out["RAOQ"] = alpha.frequency_raoq(mean_power, fn, bin_step=opts["bin_step"])
    if want("ACI", "ROU", "AGI", "BI", "ADI", "AEI"):
        out.update(_amplitude(np.sqrt(sxx, out=work), fn, dt, flim_low, flim_mid, opts, wanted))
    ln_power = np.log(sxx, out=work) if want("TFSD", "nROI", "aROI") else None
    if want("TFSD"):
        out["TFSD"] = indices_fast.tfsd(ln_power, fn, flim_mid)
    if want("nROI", "aROI"):  # overwrites ln_power
        out["nROI"], out["aROI"] = indices_fast.region_of_interest_index(
            sxx, tn, fn, ln_power=ln_power,
            **{key: opts[key] for key in (
                "seed_level", "low_level", "fusion_rois", "remove_rois_flim_min",
                "remove_rois_flim_max", "remove_rain", "min_event_duration",
                "max_event_duration", "min_freq_bw", "max_freq_bw", "max_ratio_xy")},
        )
    return out


def _equalized(
    sxx, fn, mean_power, dt: float, flims: tuple, opts: dict, wanted: set[str], work: np.ndarray
) -> dict[str, float]:
    """Spectral SNR and the indices of the median-equalised spectrogram (made in ``work``)."""
    equalized_names = {"EAS", "ECU", "ECV", "EPS", "EPS_KURT", "EPS_SKEW", "LFC", "MFC", "HFC",
                       "ACTspFract", "ACTspCount", "ACTspMean", "EVNspFract", "EVNspMean",
                       "EVNspCount"}
    out: dict[str, float] = {}
    if not wanted & (equalized_names | {"ENRf", "BGNf", "SNRf"}):
        return out
    # One per-bin median serves the spectral SNR and the median equaliser.
    median_per_bin = indices_fast.median_rows(sxx)
    if wanted & {"ENRf", "BGNf", "SNRf"}:
        out["ENRf"], out["BGNf"], out["SNRf"] = indices_fast.spectral_snr_from_median(
            mean_power, median_per_bin
        )
    if not wanted & equalized_names:
        return out
    equalized = indices_fast.median_equalizer(sxx, median_per_bin, out=work)
    if wanted & {"EAS", "ECU", "ECV", "EPS", "EPS_KURT", "EPS_SKEW"}:
        (out["EAS"], out["ECU"], out["ECV"], out["EPS"], out["EPS_KURT"],
         out["EPS_SKEW"]) = indices_fast.spectral_entropy(
            equalized, fn, (flims[1][0], flims[2][1])
        )
    if wanted & (equalized_names - {"EAS", "ECU", "ECV", "EPS", "EPS_KURT", "EPS_SKEW"}):
        reject = opts["rejectDuration"] if opts["rejectDuration"] is not None else dt * 3
        out.update(indices_fast.equalized_activity(equalized, fn, dt, opts["dB_threshold"], reject, flims))
    return out


def _amplitude(
    amplitude, fn, dt: float, flim_low, flim_mid, opts: dict, wanted: set[str]
) -> dict[str, float]:
    """Indices of the amplitude spectrogram: ACI, ROU, AGI, BI, ADI, AEI."""
    from maad.features import alpha_indices as alpha

    out: dict[str, float] = {}
    if wanted & {"ACI", "ROU", "AGI"}:
        out["ACI"], out["ROU"], out["AGI"] = indices_fast.gradient_indices(amplitude, dt)
    peak = np.max(amplitude)
    if "BI" in wanted:
        if opts["R_compatible"] == "soundecology":
            out["BI"] = indices_fast.bioacoustics_index(
                np.mean(amplitude, axis=1), peak, fn, flim_mid
            )
        else:
            out["BI"] = alpha.bioacoustics_index(
                amplitude, fn, flim=flim_mid, R_compatible=opts["R_compatible"]
            )
    scores: dict[float, np.ndarray] = {}
    for name, key in (("ADI", "ADI_dB_threshold"), ("AEI", "AEI_dB_threshold")):
        if name not in wanted:
            continue
        threshold = opts[key]
        if threshold not in scores:  # ADI and AEI share it by default
            active = indices_fast.db_at_least(amplitude, threshold, factor=20, scale=peak)
            scores[threshold] = indices_fast.band_scores(
                active, fn, flim_low[0], flim_mid[1], opts["bin_step"]
            )
        # maad.features.acoustic_diversity_index(index="shannon") / acoustic_eveness_index
        score = scores[threshold].copy()  # _gini sorts in place
        out[name] = alpha._shannonEntropy(score) if name == "ADI" else alpha._gini(score)
    return out


def quality_flags(s: np.ndarray, settings: dict) -> dict[str, bool]:
    """``qc_short``, ``qc_silent`` and ``qc_clipped`` of one segment's samples."""
    peak = float(max(s.max(), -s.min())) if s.size else 0.0
    return {
        "qc_short": bool(s.size < min_samples(settings)),
        "qc_silent": bool(s.size == 0 or peak < settings["silence_level"]),
        "qc_clipped": bool(s.size and peak >= settings["clip_level"]),
    }


def segment_indices(s: np.ndarray, fs: int, settings: dict | None = None) -> dict[str, Any]:
    """Selected indices and quality flags of one segment (the fast path).

    Parameters
    ----------
    s : ndarray
        Segment samples; converted to float64 (as :func:`maad_recipe_indices` is
        compared with in the tests).
    fs : int
        Sample rate in Hz.
    settings : dict, optional
        See :func:`resolve_settings`.

    Returns
    -------
    dict
        Index name -> float (NaN where undefined: segment too short, or a
        division by zero / log of zero as on digital silence), plus the
        ``qc_*`` flags.
    """
    settings = resolve_settings(settings)
    names = selected_indices(settings)
    wanted = set(names)
    s = np.asarray(s, dtype=np.float64)
    flags = quality_flags(s, settings)
    s = remove_dc(s, settings)
    values: dict[str, float] = {}
    if not flags["qc_short"]:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if wanted & set(TEMPORAL_INDICES):
                values.update(_temporal(s, fs, settings["temporal"], wanted))
            if wanted & set(SPECTRAL_INDICES):
                # Row-major (per-bin rows contiguous): every per-bin reduction and median
                # below runs on contiguous rows (sums agree with maad's to the last few ulps).
                spec = settings["spectrogram"]
                sxx, tn, fn = indices_fast.power_spectrogram(
                    s, fs, spec["window"], spec["nperseg"], spec["noverlap"]
                )
                values.update(
                    _spectral(sxx, tn, fn, settings["bands"], settings["spectral"], wanted)
                )
    row: dict[str, Any] = {}
    for name in names:
        value = float(values.get(name, np.nan))
        row[name] = value if np.isfinite(value) else np.nan
    row.update(flags)
    row["qc_undefined"] = int(sum(np.isnan(row[name]) for name in names))
    return row


def indices_analysis(audio: AudioSettings, settings: IndicesSettings | dict | None = None) -> Analysis:
    """The indices as one analysis of a pass over a partition's audio (at ``audio.sample_rate``)."""
    for module in ("maad.features", "maad.sound"):  # imported once here, inherited by forked workers
        importlib.import_module(module)
    return Analysis("indices", segment_indices, resolve_settings(settings), audio.sample_rate, SECONDS_PER_WORKER)


def indices_table(results: SegmentResults, settings: dict) -> FeatureTable:
    """The store table of a pass's index rows: float64 indices, then the ``qc_*`` columns."""
    names = selected_indices(settings)
    features = pd.DataFrame(results.rows, columns=names + QC_COLUMNS)
    features[names] = features[names].astype("float64")
    features[QC_COLUMNS[:3]] = features[QC_COLUMNS[:3]].astype(bool)
    features["qc_undefined"] = features["qc_undefined"].astype("int16")
    return results.table(features)


def partition_indices(
    segments: pd.DataFrame,
    archive: str | Path,
    audio: AudioSettings,
    settings: IndicesSettings | dict | None = None,
    threads: int = 1,
) -> FeatureTable:
    """Indices of every segment of a segment-store partition.

    Parameters
    ----------
    segments : DataFrame
        A segment store partition (``SEGMENT_KEY`` + ``path``, ``offset``).
    archive : str or Path
        Folder the ``path`` column is relative to.
    audio : AudioSettings
        Rate and channel the audio is read at.
    settings : IndicesSettings or dict, optional
        See :func:`resolve_settings`.
    threads : int
        Worker processes; segments are spread over them.

    Returns
    -------
    FeatureTable
        ``features``: ``SEGMENT_KEY`` (order of ``segments``), one float64 column per
        selected index, then the ``qc_*`` columns, for every segment whose audio could
        be read; ``problems``: the others, with reasons.
    """
    analysis = indices_analysis(audio, settings)
    done = map_segment_audio([analysis], segments, archive, audio.channel, threads)
    return indices_table(done.results["indices"], analysis.settings)
