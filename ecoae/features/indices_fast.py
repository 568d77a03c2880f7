"""Vectorised versions of the slow parts of scikit-maad's alpha indices.

scikit-maad's ``all_spectral_alpha_indices`` spends most of its time in work
that does not reach the scalar indices (per-frequency-bin moments, a spectral
SNR whose result is discarded inside the ROI index), in repeated per-bin medians,
and in Python loops (one pass per event row, one object per connected region).
The functions here return the same numbers as the scikit-maad functions named in
each docstring; ``tests/test_indices.py`` checks each against scikit-maad on
real recordings. Everything else is computed by calling scikit-maad itself.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import find_objects, uniform_filter1d
from skimage.measure import label


def waveform_moments(s: np.ndarray) -> tuple[float, float, float, float]:
    """Mean, variance, skewness and kurtosis as ``maad.features.temporal_moments``.

    scikit-maad raises the centred signal to the powers 3 and 4 with ``**``, which
    numpy evaluates through ``pow``; repeated multiplication gives the same sums to
    within a few units in the last place and is about ten times faster.

    Parameters
    ----------
    s : ndarray
        1-D waveform.

    Returns
    -------
    tuple of float
        ``(MEANt, VARt, SKEWt, KURTt)``.
    """
    mean = np.mean(s)
    var = np.var(s)
    std = np.sqrt(var)
    z = s - mean
    z2 = z * z
    n_minus_1 = s.size - 1
    skew = (np.sum(z2 * z) / n_minus_1) / std**3
    kurt = (np.sum(z2 * z2) / n_minus_1) / std**4
    return float(mean), float(var), float(skew), float(kurt)


def running_mean(x: np.ndarray, n: int) -> np.ndarray:
    """``maad.util.running_mean``: moving average with edge values repeated."""
    return uniform_filter1d(x, size=n, mode="nearest")


def median_rows(x: np.ndarray, method: str = "partition") -> np.ndarray:
    """``np.median(x, axis=1)`` of a 2-D array, bit for bit, several times faster.

    ``np.median`` partitions strided rows around the two middle ranks at once.
    Here the rows are made contiguous first (partitioning strided rows is about
    ten times slower) and the same two middle values are read off either a
    partition around the upper middle rank (plus the maximum of the lower half)
    or, with ``method="sort"``, fully sorted rows: numpy's partition slows down
    several-fold on rows with many ties (e.g. the zeros of a clipped dB
    spectrogram), where its vectorised sort stays fast. NaN-containing input
    falls back to ``np.median``.
    """
    n = x.shape[1]
    if n == 0 or not np.isfinite(x).all():
        return np.median(x, axis=1)
    k = n // 2
    rows = np.ascontiguousarray(x)
    if method == "sort":
        ordered = np.sort(rows, axis=1)
        upper = ordered[:, k]
        return upper if n % 2 else (ordered[:, k - 1] + upper) / 2
    if method != "partition":
        raise ValueError(f"median_rows: method must be 'partition' or 'sort', not {method!r}")
    part = np.partition(rows, k, axis=1)
    upper = part[:, k]
    if n % 2:
        return upper
    return (part[:, :k].max(axis=1) + upper) / 2


def acoustic_gradient_index(amplitude: np.ndarray, dt: float) -> float:
    """``AGI`` (mean) of ``maad.features.acoustic_gradient_index(order=1, norm="per_bin")``."""
    import sys

    gradient = np.abs(np.diff(amplitude, 1, axis=1)) / dt
    m = median_rows(gradient)
    m[m == 0] = sys.float_info.min
    return float(np.mean(np.mean(gradient / m[:, None], axis=1)))


def spectral_snr_from_median(
    sxx_power: np.ndarray, median_per_bin: np.ndarray
) -> tuple[float, float, float]:
    """``ENRf, BGNf, SNRf`` of ``maad.sound.spectral_snr`` from a precomputed median.

    Parameters
    ----------
    sxx_power : ndarray
        Power spectrogram (frequency x time).
    median_per_bin : ndarray
        ``np.median(sxx_power, axis=1)``, shared with :func:`median_equalizer`.

    Returns
    -------
    tuple of float
    """
    from maad.util import power2dB

    enrf = power2dB(np.sum(np.mean(sxx_power, axis=1)))
    # remove_background_along_axis smooths the median profile over 25 bins,
    # then spectral_snr smooths it again over 5.
    noise_profile = running_mean(running_mean(median_per_bin, 25), 5)
    bgnf = power2dB(np.sum(noise_profile))
    return float(enrf), float(bgnf), float(enrf - bgnf)


def median_equalizer(sxx: np.ndarray, median_per_bin: np.ndarray) -> np.ndarray:
    """``maad.sound.median_equalizer`` with the per-bin median computed once, not twice."""
    out = sxx - median_per_bin[:, np.newaxis]
    norm = median_per_bin - np.min(sxx, axis=1)
    norm[norm <= 0] = sxx.max()
    out = out / norm[:, np.newaxis]
    out[out < 1] = 1
    return out


def spectral_events(
    sxx_db: np.ndarray, dt: float, db_threshold: float, reject_duration: float | None
) -> tuple[float, float, float]:
    """Frame-averaged ``EVNspFract, EVNspMean, EVNspCount`` of ``maad.features.spectral_events``.

    scikit-maad filters short events with a binary erosion and dilation, then
    run-length encodes each frequency row in a Python loop; here the runs of all
    rows are found at once and short ones dropped by length.
    """
    n_frames = sxx_db.shape[1]
    duration = (n_frames - 1) * dt
    events = sxx_db >= db_threshold
    # Runs of consecutive active frames in each row: +1 where a run starts, -1 after it ends.
    padded = np.zeros((events.shape[0], n_frames + 2), dtype=np.int8)
    padded[:, 1:-1] = events
    edges = np.diff(padded, axis=1)
    start_rows, start_cols = np.nonzero(edges == 1)
    _, end_cols = np.nonzero(edges == -1)  # same row-major order as the starts
    lengths = end_cols - start_cols
    if reject_duration is not None:
        # Erosion then dilation by a 1 x (L + 1) line (scipy.ndimage, as scikit-maad
        # does) is a morphological opening: it keeps exactly the runs of >= L + 1 frames.
        keep = lengths >= int(round(reject_duration / dt)) + 1
        start_rows, lengths = start_rows[keep], lengths[keep]
    active = np.bincount(start_rows, weights=lengths, minlength=events.shape[0])
    starts = np.bincount(start_rows, minlength=events.shape[0])
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_length = np.where(starts > 0, active / np.maximum(starts, 1) * dt, 0.0)
    fraction = active * dt / (dt * n_frames)
    count = starts / duration
    return float(np.mean(fraction)), float(np.mean(mean_length)), float(np.mean(count))


def region_of_interest_index(
    sxx_power: np.ndarray,
    tn: np.ndarray,
    fn: np.ndarray,
    seed_level: float = 13,
    low_level: float = 6,
    fusion_rois=None,
    remove_rois_flim_min=50,
    remove_rois_flim_max=None,
    remove_rain: bool = True,
    min_event_duration: float | None = 0.025,
    max_event_duration: float | None = None,
    min_freq_bw: float | None = 50,
    max_freq_bw: float | None = None,
    max_ratio_xy: float | None = 10,
) -> tuple[float, float]:
    """``nROI, aROI`` exactly as ``maad.features.region_of_interest_index``.

    Same steps and the same selection rules, including scikit-maad's quirks
    (a minimum area of ``min_event_duration * min_freq_bw`` pixels; ROIs removed
    for their duration, bandwidth or shape still count in ``aROI`` unless also
    removed for their frequency), but per-region properties come from
    ``bincount`` and ``find_objects`` instead of one Python object per region,
    the unused spectral SNR is skipped and the per-bin median is :func:`median_rows`.
    """
    from maad.util import power2dB

    sxx_db = power2dB(sxx_power, db_range=96) + 96
    # maad.sound.remove_background_along_axis with N=1 (no smoothing of the profile):
    # subtract the profile, clip negatives to 0.
    if remove_rain:
        sxx_db = sxx_db - np.mean(sxx_db, axis=0)[np.newaxis, :]
        sxx_db[sxx_db < 0] = 0
    # Most values are clipped to 0 here: sorting beats partitioning (same values).
    clean = sxx_db - median_rows(sxx_db, method="sort")[:, np.newaxis]
    clean[clean <= 0] = 0
    delta_t = tn[1] - tn[0]
    delta_f = fn[1] - fn[0]

    # Double threshold (maad.rois.create_mask, mode "absolute"): keep the connected
    # regions above low_level whose mean of (value where above seed_level) is > 0.
    components = label(clean > low_level)
    seeded = clean * (clean > seed_level)
    seed_sum = np.bincount(components.ravel(), weights=seeded.ravel())
    keep_component = seed_sum > 0
    keep_component[0] = False
    mask = keep_component[components]

    if isinstance(fusion_rois, (tuple, list, np.ndarray)):
        from skimage.morphology import closing

        n_y = round(fusion_rois[0] / delta_t)
        n_x = round(fusion_rois[1] / delta_f)
        mask = closing(mask, footprint=np.ones([n_x, n_y]))

    # select_rois: label the mask, keep regions by area.
    labels = label(mask)
    n_labels = int(labels.max())
    area = np.bincount(labels.ravel(), minlength=n_labels + 1)[1:]
    min_area = (
        min_event_duration * min_freq_bw
        if min_event_duration is not None and min_freq_bw is not None
        else 1
    )
    max_area = (
        max_event_duration * max_freq_bw
        if max_event_duration is not None and max_freq_bw is not None
        else labels.size
    )
    in_image = (area >= min_area) & (area <= max_area)
    boxes = find_objects(labels)
    min_y = np.array([b[0].start for b in boxes], dtype=np.int64)
    max_y = np.array([b[0].stop - 1 for b in boxes], dtype=np.int64)
    min_x = np.array([b[1].start for b in boxes], dtype=np.int64)
    max_x = np.array([b[1].stop - 1 for b in boxes], dtype=np.int64)

    listed = in_image.copy()
    duration = (max_x - min_x) * delta_t
    if min_event_duration is not None:
        listed &= duration >= min_event_duration
    if max_event_duration is not None:
        listed &= duration <= max_event_duration
    bandwidth = (max_y - min_y) * delta_f
    if min_freq_bw is not None:
        listed &= bandwidth >= min_freq_bw
    if max_freq_bw is not None:
        listed &= bandwidth <= max_freq_bw

    if listed.any():
        n_rows = labels.shape[1] - 1
        if remove_rois_flim_min is not None:
            low_px = high_px = None
            if isinstance(remove_rois_flim_min, (float, int)):
                low_px = max(1, round(remove_rois_flim_min / delta_f))
            else:
                low_px = max(1, round(remove_rois_flim_min[0] / delta_f))
                high_px = min(n_rows, round(remove_rois_flim_min[1] / delta_f))
            drop = listed & (min_y <= low_px)
            in_image &= ~drop
            listed &= ~drop
            if high_px is not None:
                drop = listed & (min_y >= high_px)
                in_image &= ~drop
                listed &= ~drop
        if remove_rois_flim_max is not None:
            high_px = None
            if isinstance(remove_rois_flim_max, (float, int)):
                low_px = min(n_rows, round(remove_rois_flim_max / delta_f))
            else:
                low_px = min(n_rows, round(remove_rois_flim_max[0] / delta_f))
                high_px = round(remove_rois_flim_max[1] / delta_f) + 1
            drop = listed & (max_y <= low_px)
            in_image &= ~drop
            listed &= ~drop
            if high_px is not None:
                drop = listed & (max_y >= high_px)
                in_image &= ~drop
                listed &= ~drop
        if max_ratio_xy is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = (max_y - min_y) / (max_x - min_x)
            listed &= ratio < max_ratio_xy

    n_roi = np.count_nonzero(listed) / (tn[-1] / 60)
    a_roi = area[in_image].sum() / labels.size * 100
    return float(n_roi), float(a_roi)
