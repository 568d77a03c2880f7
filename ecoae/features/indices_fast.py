"""Vectorised versions of the slow parts of scikit-maad's alpha indices.

scikit-maad's ``all_spectral_alpha_indices`` spends most of its time in work
that does not reach the scalar indices (per-frequency-bin moments, a spectral
SNR whose result is discarded inside the ROI index), in repeated per-bin medians,
and in Python loops (one pass per event row, one object per connected region).
The functions here return the same numbers as the scikit-maad functions named in
each docstring; ``tests/test_indices.py`` and ``tests/test_indices_fast.py`` check
each against scikit-maad on real recordings and generated edge cases. Everything
else is computed by calling scikit-maad itself.

Every array that a threshold or a median reads (the spectrogram, the equalised
spectrogram, the time gradient) is computed with scikit-maad's operations in its
order, so it is bit for bit scikit-maad's and every thresholded decision (activity,
events, ADI/AEI scores) is the same; the ROI dB image is made from the natural
logarithm and made again exactly where a value comes near a threshold
(:func:`region_of_interest_index`), so the ROIs are the same too. Elsewhere
sums are taken in another order (per row of a row-major array rather than down a
column-major one) or before a division rather than after, and a logarithm or a
power mean is shared where scikit-maad recomputes it; this moves results by a few
units in the last place.
"""

from __future__ import annotations

import sys

import numpy as np
from scipy.ndimage import uniform_filter1d
from scipy.ndimage import label as ndimage_label
from skimage.measure import label

#: scikit-maad's stand-in for zero before taking a logarithm.
_MIN = sys.float_info.min
#: Relative margin around a dB threshold inside which the logarithm is taken exactly.
_DB_MARGIN = 1e-9
#: Margin (dB) around the ROI thresholds inside which the dB image is made exactly.
#: The image from ``ln`` is within about 1e-11 dB of scikit-maad's (a few units in the
#: last place of values up to 96 dB, through a mean of 512 values and a median).
_ROI_DB_MARGIN = 1e-9
#: Spectrogram frames transformed at once (their buffers stay in cache).
_FRAMES_PER_BLOCK = 64
#: Elements per block of rows processed at once (a float64 block stays in the L2 cache).
_BLOCK_ELEMENTS = 1 << 15


def _row_blocks(n_rows: int, n_cols: int) -> list[slice]:
    """Slices of consecutive rows, each about ``_BLOCK_ELEMENTS`` elements.

    Per-row work done block by block keeps its temporaries in cache and never
    allocates (and page-faults in) an array the size of the spectrogram.
    """
    step = max(1, _BLOCK_ELEMENTS // max(n_cols, 1))
    return [slice(start, min(start + step, n_rows)) for start in range(0, n_rows, step)]


def power_spectrogram(
    s: np.ndarray, fs: float, window: str = "hann", nperseg: int = 1024, noverlap: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``maad.sound.spectrogram(s, fs, window, nperseg, noverlap)`` (mode ``"psd"``), row-major.

    The same steps as scipy's ``spectrogram(mode="complex")`` and scikit-maad's
    scaling, value for value: frames minus their mean, times the window, real FFT,
    times the two scale factors, squared modulus; the frames scikit-maad crops and
    the Nyquist bin are dropped. The frames are transformed in blocks, in buffers
    reused from block to block (they stay in cache), by numpy's real FFT (scipy's
    pocketfft, value for value, but writing into a buffer), and each block is
    written straight into a frequency-major array (contiguous per-bin rows, as
    every per-bin reduction and median wants).

    Parameters
    ----------
    s : ndarray
        1-D float64 waveform.
    fs : float
        Sample rate in Hz.
    window, nperseg, noverlap
        As ``maad.sound.spectrogram`` (``noverlap=None`` is ``nperseg // 2``).

    Returns
    -------
    sxx : ndarray
        Power spectrogram, ``(nperseg // 2, n_frames)``, C-contiguous.
    tn, fn : ndarray
        Frame times (s) and bin frequencies (Hz).
    """
    from scipy.signal import get_window

    noverlap = nperseg // 2 if noverlap is None else noverlap
    hop = nperseg - noverlap
    frames = np.lib.stride_tricks.sliding_window_view(s, nperseg)[::hop]
    n_frames = min(frames.shape[0], s.size // hop - 1)
    win = get_window(window, nperseg)
    scipy_scale = np.sqrt(1.0 / (fs * (win * win).sum()))
    maad_scale = np.sqrt(2 * (fs / nperseg))
    n_bins = nperseg // 2
    sxx = np.empty((n_bins, n_frames))
    # One set of block buffers, reused (fresh large arrays cost page faults).
    n_block = max(1, min(_FRAMES_PER_BLOCK, n_frames))
    centred = np.empty((n_block, nperseg))
    spectrum = np.empty((n_block, nperseg // 2 + 1), dtype=complex)
    magnitude = np.empty(spectrum.shape)
    for start in range(0, n_frames, _FRAMES_PER_BLOCK):
        block = frames[start:min(start + _FRAMES_PER_BLOCK, n_frames)]
        n = block.shape[0]
        np.subtract(block, np.mean(block, axis=1, keepdims=True), out=centred[:n])
        centred[:n] *= win
        np.fft.rfft(centred[:n], n=nperseg, axis=-1, out=spectrum[:n])
        # A complex times a real scalar scales both parts exactly as here.
        parts = spectrum[:n].view(np.float64)
        parts *= scipy_scale
        parts *= maad_scale
        np.abs(spectrum[:n], out=magnitude[:n])
        magnitude[:n] *= magnitude[:n]
        sxx[:, start:start + n] = magnitude[:n, :n_bins].T
    tn = np.arange(nperseg / 2, s.size - nperseg / 2 + 1, hop)[:n_frames] / float(fs)
    fn = np.fft.rfftfreq(nperseg, 1 / fs)[:n_bins]
    return sxx, tn, fn


def envelope(s: np.ndarray, mode: str = "fast", nt: int = 512) -> np.ndarray:
    """``maad.sound.envelope(s, mode, nt)``: the peak of ``|s|`` per frame of ``nt`` samples."""
    if mode != "fast":
        from maad.sound import envelope as maad_envelope

        return maad_envelope(s, mode=mode, Nt=nt)
    frames = s[: s.size // nt * nt].reshape(-1, nt)
    return np.maximum(frames.max(axis=1), -frames.min(axis=1))


def zero_crossing_rate(s: np.ndarray, fs: float) -> float:
    """``maad.features.zero_crossing_rate``: sign changes of ``s > 0`` per second."""
    positive = s > 0
    crossings = np.count_nonzero(positive[1:] != positive[:-1])
    return 1 / (s.size / fs) * crossings


def temporal_leq(
    s: np.ndarray, fs: float, gain: float, vadc: float, sensitivity: float, db_ref: float, dt: float
) -> float:
    """``maad.features.temporal_leq``: energy mean of the per-``dt`` equivalent levels.

    The mean square per period is one dot product per row instead of a squared copy.
    """
    from maad.util import mean_dB

    volt = s if vadc == 2 else s * vadc / 2  # s * 2 / 2 is s, bit for bit
    n_per = int(np.floor(dt * fs))
    periods = volt[: volt.size // n_per * n_per].reshape(-1, n_per)
    rms = np.sqrt(np.einsum("ij,ij->i", periods, periods) / n_per)
    rms[rms == 0] = _MIN
    # scikit-maad's reference-pressure term, 20 log10(pRef / 20 uPa), is 0 here.
    leq = 20 * np.log10(rms) - sensitivity - gain + db_ref
    return mean_dB(leq, axis=1)


def envelope_indices(env: np.ndarray, fs: float, opts: dict, wanted: set[str]) -> dict[str, float]:
    """Envelope indices of ``maad.features.all_temporal_alpha_indices`` from one envelope.

    scikit-maad recomputes the envelope (and its background level) in each of
    ``temporal_snr``, ``temporal_median``, ``temporal_entropy``,
    ``temporal_activity`` and ``temporal_events``; here it is computed once and the
    same formulas are applied to it.

    Parameters
    ----------
    env : ndarray
        :func:`envelope` of the waveform.
    fs : float
        Sample rate in Hz.
    opts : dict
        Temporal settings (``mode``, ``Nt``, ``compatibility``, ``dB_threshold``,
        ``rejectDuration``).
    wanted : set of str
        Index names to compute.

    Returns
    -------
    dict
        Of ``BGNt, SNRt, MED, Ht, ACTtFraction, ACTtCount, ACTtMean, EVNtFraction,
        EVNtMean, EVNtCount``, those wanted.
    """
    from maad.features import alpha_indices as alpha
    from maad.util import amplitude2dB, entropy, mean_dB, power2dB

    out: dict[str, float] = {}
    env_db = power2dB(env**2)
    background = np.median(env_db)
    if wanted & {"BGNt", "SNRt"}:
        out["BGNt"], out["SNRt"] = background, mean_dB(env_db, axis=1) - background
    if "MED" in wanted:
        out["MED"] = np.median(env)
    if "Ht" in wanted:
        if opts["compatibility"] not in ("QUT", "seewave"):
            raise TypeError("compatibility must be selected in {QUT, seewave}")
        out["Ht"] = entropy(env**2 if opts["compatibility"] == "QUT" else env)
    threshold = opts["dB_threshold"]
    if wanted & {"ACTtFraction", "ACTtCount", "ACTtMean"}:
        out["ACTtFraction"], out["ACTtCount"], out["ACTtMean"] = alpha._acoustic_activity(
            amplitude2dB(env) - background, threshold, axis=0
        )
    if wanted & {"EVNtFraction", "EVNtMean", "EVNtCount"}:
        dt = 1 / fs * opts["Nt"] if opts["mode"] == "fast" else 1 / fs
        total, out["EVNtMean"], out["EVNtCount"], _ = alpha._acoustic_events(
            10 * np.log10(env**2) - background, dt, threshold, rejectDuration=opts["rejectDuration"]
        )
        out["EVNtFraction"] = total / (dt * env.size)
    return out


def waveform_moments(s: np.ndarray) -> tuple[float, float, float, float]:
    """Mean, variance, skewness and kurtosis as ``maad.features.temporal_moments``.

    scikit-maad raises the centred signal to the powers 3 and 4 with ``**``, which
    numpy evaluates through ``pow``; repeated multiplication gives the same sums to
    within a few units in the last place and is about ten times faster. The powers
    are summed chunk by chunk of ``_BLOCK_ELEMENTS`` samples (in cache), so the sums
    are taken in another order than ``np.var``'s.

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
    sum2 = sum3 = sum4 = 0.0
    for start in range(0, s.size, _BLOCK_ELEMENTS):
        z = s[start:start + _BLOCK_ELEMENTS] - mean
        z2 = z * z
        sum2 += np.sum(z2)
        # z is reused for the products: no further temporaries.
        sum3 += np.sum(np.multiply(z2, z, out=z))
        sum4 += np.sum(np.multiply(z2, z2, out=z))
    var = sum2 / s.size  # np.var(s)
    std = np.sqrt(var)
    n_minus_1 = s.size - 1
    skew = (sum3 / n_minus_1) / std**3
    kurt = (sum4 / n_minus_1) / std**4
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
    if method not in ("partition", "sort"):
        raise ValueError(f"median_rows: method must be 'partition' or 'sort', not {method!r}")
    if n == 0:
        return np.median(x, axis=1)
    k = n // 2
    median = np.empty(x.shape[0])
    for rows in _row_blocks(x.shape[0], n):
        block = np.ascontiguousarray(x[rows])
        if not np.isfinite(block).all():
            return np.median(x, axis=1)
        block = np.sort(block, axis=1) if method == "sort" else np.partition(block, k, axis=1)
        upper = block[:, k]
        if n % 2:
            median[rows] = upper
        else:
            lower = block[:, k - 1] if method == "sort" else block[:, :k].max(axis=1)
            median[rows] = (lower + upper) / 2
    return median


def median_rows_nonnegative(x: np.ndarray) -> np.ndarray:
    """``np.median(x, axis=1)`` of a non-negative 2-D array that is mostly zeros.

    A row with more zeros than half its length has median 0; only the other rows
    are sorted (:func:`median_rows`). Other input falls back to :func:`median_rows`.
    """
    n = x.shape[1]
    if n == 0 or not (np.isfinite(x).all() and x.min() >= 0):
        return median_rows(x, method="sort")
    zeros = n - np.count_nonzero(x, axis=1)
    median = np.zeros(x.shape[0])
    # Zeros fill the sorted row up to rank zeros - 1, both middle ranks included
    # when zeros > n // 2.
    dense = np.flatnonzero(zeros <= n // 2)
    if dense.size:
        median[dense] = median_rows(x[dense], method="sort")
    return median


def db_at_least(
    x: np.ndarray, threshold_db: float, factor: float = 10, scale: float | None = None
) -> np.ndarray:
    """``factor * log10(|x / scale|) >= threshold_db`` element-wise, as scikit-maad decides it.

    ``maad.util.power2dB`` (``factor=10``) or ``amplitude2dB`` (``factor=20``) of the
    whole array followed by a comparison costs a logarithm per element. Here ``x``
    is compared with the threshold's linear level, and only the elements within a
    relative ``1e-9`` of it, where rounding could matter, get scikit-maad's exact
    ``factor * log10(x / scale)``; the mask is the same.

    Parameters
    ----------
    x : ndarray
        Non-negative values (power or amplitude).
    threshold_db : float
        Threshold in dB.
    factor : float
        10 for power, 20 for amplitude.
    scale : float, optional
        Divisor applied before the logarithm (e.g. the maximum, as ADI and AEI do).

    Returns
    -------
    ndarray of bool
    """
    level = 10.0 ** (threshold_db / factor) * (1.0 if scale is None else scale)
    if not (np.isfinite(level) and level > 1e-290 and (scale is None or scale > 0)):
        return _db(x if scale is None else x / scale, factor) >= threshold_db
    surely = x > level * (1 + _DB_MARGIN)
    candidates = x >= level * (1 - _DB_MARGIN)
    near = np.flatnonzero(candidates != surely)
    if near.size:
        values = x.ravel()[near]
        surely.ravel()[near] = _db(values if scale is None else values / scale, factor) >= threshold_db
    return surely


def _db(x: np.ndarray, factor: float) -> np.ndarray:
    """``maad.util.power2dB`` / ``amplitude2dB`` without a range: ``factor * log10(|x|)``."""
    magnitude = np.abs(x)
    magnitude[magnitude == 0] = _MIN
    return factor * np.log10(magnitude)


def gradient_indices(amplitude: np.ndarray, dt: float) -> tuple[float, float, float]:
    """``ACI``, ``ROU`` and ``AGI`` of ``maad.features`` from one time difference.

    ``acoustic_complexity_index`` (sum over bins of ``sum |d| / sum a``),
    ``roughness(norm=None, axis=1)`` summed over bins (``sum diff(d)**2``) and
    ``acoustic_gradient_index(order=1, norm="per_bin")`` (mean over bins of
    ``mean(|d| / dt) / median(|d| / dt)``) all start from ``d = diff(a, axis=1)``;
    it is computed once, per-bin sums are taken before dividing, and the median is
    :func:`median_rows`.

    Parameters
    ----------
    amplitude : ndarray
        Amplitude spectrogram (frequency x time), row-major.
    dt : float
        Frame step in s.

    Returns
    -------
    tuple of float
        ``(ACI, ROU, AGI)``.
    """
    n_rows, n_cols = amplitude.shape
    rough, abs_sum, row_sum, m = (np.empty(n_rows) for _ in range(4))
    flat_mean = np.empty(n_rows)
    for rows in _row_blocks(n_rows, n_cols):
        block = amplitude[rows]
        d1 = np.diff(block, axis=1)
        d2 = np.diff(d1, axis=1)
        d2 *= d2
        rough[rows] = np.sum(d2, axis=1)
        np.abs(d1, out=d1)
        abs_sum[rows] = np.sum(d1, axis=1)
        row_sum[rows] = np.sum(block, axis=1)
        d1 /= dt
        m[rows] = median_rows(d1)
        flat = np.flatnonzero(m[rows] == 0)
        # Divided element by element, as scikit-maad does, where the tiny divisor could overflow.
        flat_mean[rows.start + flat] = np.mean(d1[flat] / _MIN, axis=1)
    rou = np.sum(rough)
    aci = np.sum(abs_sum / row_sum)
    flat = m == 0
    m[flat] = _MIN
    per_bin = abs_sum / dt / (n_cols - 1) / m
    per_bin[flat] = flat_mean[flat]
    return float(aci), float(rou), float(np.mean(per_bin))


def spectral_snr_from_median(
    mean_power: np.ndarray, median_per_bin: np.ndarray
) -> tuple[float, float, float]:
    """``ENRf, BGNf, SNRf`` of ``maad.sound.spectral_snr`` from precomputed per-bin statistics.

    Parameters
    ----------
    mean_power : ndarray
        Mean power per frequency bin.
    median_per_bin : ndarray
        Median power per frequency bin, shared with :func:`median_equalizer`.

    Returns
    -------
    tuple of float
    """
    from maad.util import power2dB

    enrf = power2dB(np.sum(mean_power))
    # remove_background_along_axis smooths the median profile over 25 bins,
    # then spectral_snr smooths it again over 5.
    noise_profile = running_mean(running_mean(median_per_bin, 25), 5)
    bgnf = power2dB(np.sum(noise_profile))
    return float(enrf), float(bgnf), float(enrf - bgnf)


def median_equalizer(
    sxx: np.ndarray, median_per_bin: np.ndarray, out: np.ndarray | None = None
) -> np.ndarray:
    """``maad.sound.median_equalizer`` with the per-bin median computed once, not twice.

    The element-wise steps run block by block of rows (:func:`_row_blocks`), into
    ``out`` when given (an array shaped as ``sxx``).
    """
    norm = median_per_bin - np.min(sxx, axis=1)
    norm[norm <= 0] = sxx.max()
    out = np.empty(sxx.shape) if out is None else out
    for rows in _row_blocks(*sxx.shape):
        block = np.subtract(sxx[rows], median_per_bin[rows, np.newaxis], out=out[rows])
        block /= norm[rows, np.newaxis]
        np.maximum(block, 1, out=block)  # block[block < 1] = 1 (NaN stays NaN in both)
    return out


def spectral_entropy(sxx: np.ndarray, fn: np.ndarray, flim: tuple[float, float]) -> tuple[float, ...]:
    """``maad.features.spectral_entropy(sxx, fn, flim)``: ``EAS, ECU, ECV, EPS, EPS_KURT, EPS_SKEW``.

    The band is a row slice (no copies), read block by block of rows
    (:func:`_row_blocks`); its per-bin mean is computed once, for the variance too.
    The peak bin of each frame (``argmax`` down the columns, slow on row-major
    data) is the first row holding the column maximum, found row after row.
    """
    from maad.util import entropy, index_bw, kurtosis, skewness

    rows = np.flatnonzero(index_bw(fn, flim))
    band = sxx[rows[0]:rows[-1] + 1]
    n_rows, n_cols = band.shape
    mean, var = np.empty(n_rows), np.empty(n_rows)
    peak = np.full(n_cols, -np.inf)
    peak_row = np.zeros(n_cols, dtype=np.intp)
    higher = np.empty(n_cols, dtype=bool)
    for block_rows in _row_blocks(n_rows, n_cols):
        block = band[block_rows]
        mean[block_rows] = np.mean(block, axis=1)
        squares = block - mean[block_rows, np.newaxis]  # np.var(band, axis=1), operation for operation
        squares *= squares
        var[block_rows] = np.sum(squares, axis=1) / n_cols
        for i, row in enumerate(block, block_rows.start):
            np.greater(row, peak, out=higher)  # strictly: an earlier row keeps a tie, as argmax does
            np.maximum(peak, row, out=peak)
            peak_row[higher] = i
    if np.isnan(peak).any():  # argmax stops at the first NaN
        peak_row = np.argmax(band, axis=0)
    eas, ecu, ecv = 1 - entropy(mean), 1 - entropy(var), 1 - entropy(var / mean)
    peak_freq = fn[peak_row + rows[0]]
    counts, _ = np.histogram(peak_freq, bins=rows.size, range=flim)
    if np.sum(counts) == 0:
        return eas, ecu, ecv, np.nan, np.nan, np.nan
    share = counts / np.sum(counts)
    return eas, ecu, ecv, 1 - entropy(share), kurtosis(share), skewness(share)


def equalized_activity(
    equalized: np.ndarray, fn: np.ndarray, dt: float, db_threshold: float,
    reject_duration: float | None, bands: tuple,
) -> dict[str, float]:
    """Cover, activity and event indices of the median-equalised spectrogram.

    ``maad.features.spectral_cover`` (``LFC, MFC, HFC`` for ``bands``),
    ``spectral_activity`` (``ACTspFract, ACTspCount, ACTspMean``, frame-averaged as
    ``all_spectral_alpha_indices`` does) and ``spectral_events`` (:func:`spectral_events`)
    all threshold ``power2dB(equalized)``. One :func:`db_at_least` mask, made block
    by block of rows (:func:`_row_blocks`), serves them all, and ``ACTspMean`` is the
    power mean of the values above the threshold (summed per block).

    Parameters
    ----------
    equalized : ndarray
        :func:`median_equalizer` output (values >= 1).
    fn : ndarray
        Bin frequencies (Hz).
    dt : float
        Frame step (s).
    db_threshold : float
        Activity threshold (dB).
    reject_duration : float or None
        Events shorter than this (s) are dropped.
    bands : tuple
        ``(flim_LF, flim_MF, flim_HF)``.

    Returns
    -------
    dict
        Index name -> value for the 9 indices.
    """
    from maad.util import index_bw, power2dB

    active = np.empty(equalized.shape, dtype=bool)
    level = 10.0 ** (db_threshold / 10) * (1 + _DB_MARGIN)
    above_sum, above_count = 0.0, 0
    for rows in _row_blocks(*equalized.shape):
        block_active = active[rows]
        block_active[...] = db_at_least(equalized[rows], db_threshold)
        # mean_dB(xdB[xdB > threshold]) is the power mean of the active values, but for
        # any exactly at the threshold, in dB (10**(xdB / 10) is the value to the last bit).
        above = equalized[rows][block_active]
        near = np.flatnonzero(above <= level)
        if near.size:
            above = np.delete(above, near[10 * np.log10(above[near]) <= db_threshold])
        above_sum += np.sum(above)
        above_count += above.size
    count = np.count_nonzero(active, axis=1)
    fraction = count / active.shape[1]
    out = {name: np.mean(fraction[index_bw(fn, flim)]) for name, flim in zip(("LFC", "MFC", "HFC"), bands)}
    out["ACTspFract"], out["ACTspCount"] = np.mean(fraction), np.mean(count)
    mean = power2dB(above_sum / above_count) if above_count else np.nan
    out["ACTspMean"] = 0 if np.isnan(mean) else mean
    out["EVNspFract"], out["EVNspMean"], out["EVNspCount"] = spectral_events(active, dt, reject_duration)
    return out


def spectral_events(
    events: np.ndarray, dt: float, reject_duration: float | None
) -> tuple[float, float, float]:
    """Frame-averaged ``EVNspFract, EVNspMean, EVNspCount`` of ``maad.features.spectral_events``.

    ``events`` is scikit-maad's ``sxx_db >= dB_threshold`` (boolean, frequency x time).

    scikit-maad filters short events with a binary erosion and dilation, then
    run-length encodes each frequency row in a Python loop; here the runs long
    enough to be kept are counted and measured for a block of rows at once, with
    boolean operations on the block.
    """
    n_frames = events.shape[1]
    duration = (n_frames - 1) * dt
    # scikit-maad's erosion then dilation by a 1 x (L + 1) line is a morphological
    # opening: it keeps exactly the runs of >= L + 1 frames. Each kept run of m frames
    # holds m - L "cores", frames starting L + 1 active ones.
    extra = 0 if reject_duration is None else int(round(reject_duration / dt))
    starts = np.empty(events.shape[0], dtype=np.intp)
    active = np.empty(events.shape[0], dtype=np.intp)
    for rows in _row_blocks(*events.shape):
        cores = _all_in_windows(events[rows], extra + 1)
        starts[rows] = (np.count_nonzero(cores[:, 1:] & ~cores[:, :-1], axis=1)
                        + np.count_nonzero(cores[:, :1], axis=1))
        active[rows] = np.count_nonzero(cores, axis=1) + extra * starts[rows]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_length = np.where(starts > 0, active / np.maximum(starts, 1) * dt, 0.0)
    fraction = active * dt / (dt * n_frames)
    count = starts / duration
    return float(np.mean(fraction)), float(np.mean(mean_length)), float(np.mean(count))


def _all_in_windows(x: np.ndarray, width: int) -> np.ndarray:
    """``[:, i]`` is True where ``x[:, i:i + width]`` is all True (``n - width + 1`` columns)."""
    out, span = x, 1
    while 2 * span <= width:
        out = out[:, :-span] & out[:, span:]
        span *= 2
    if span < width:  # two overlapping windows of span cover width
        shift = width - span
        out = out[:, :-shift] & out[:, shift:]
    return out


def band_scores(
    active: np.ndarray, fn: np.ndarray, fmin: float, fmax: float, bin_step: float
) -> np.ndarray:
    """Per-band activity scores of ``maad.features.acoustic_diversity_index`` / ``acoustic_eveness_index``.

    For each ``bin_step`` band from ``fmin`` to ``fmax``: the mean over frames of the
    fraction of the band's bins where ``active`` (``amplitude2dB(a / max(a)) >= threshold``,
    see :func:`db_at_least`).
    """
    from maad.util import index_bw

    scores = []
    for step in np.arange(0, np.floor((fmax - fmin) / bin_step)):
        f0 = int(fmin + bin_step * step)
        rows = index_bw(fn, (f0, int(f0 + bin_step)))
        scores.append(np.mean(np.count_nonzero(active[rows], axis=0) / np.count_nonzero(rows)))
    return np.asarray(scores)


def soundscape_index(
    sum_power: np.ndarray, fn: np.ndarray, flim_bio: np.ndarray, flim_anthro: np.ndarray,
    r_compatible: str = "soundecology",
) -> tuple[float, float, float, float]:
    """``maad.features.soundscape_index``: ``NDSI, rBA, AnthroEnergy, BioEnergy``.

    scikit-maad averages the power over the bins of each band frame by frame
    (``maad.util.into_bins``), scales by the mean bin count, and sums the selected
    bands over all frames; the same total is taken here from the per-bin sums over
    frames.

    Parameters
    ----------
    sum_power : ndarray
        Power summed over frames, per frequency bin.
    fn : ndarray
        Bin frequencies (Hz).
    flim_bio, flim_anthro : ndarray
        Biophony and anthropophony bands (Hz).
    r_compatible : str
        ``"soundecology"`` (bands as wide as the anthropophony band) or else 1 kHz
        bands from 1 kHz.
    """
    from maad.util import index_bw

    bin_step = flim_anthro[1] - flim_anthro[0] if r_compatible == "soundecology" else 1000
    bins = np.arange(fn[0], fn[-1] + bin_step, bin_step)
    totals, sizes = [], []
    for low, high in zip(bins[:-1], bins[1:]):
        inside = (fn >= low) * (fn < high)
        sizes.append(np.sum(inside))
        totals.append(np.sum(sum_power[inside]) / sizes[-1])
    totals = np.asarray(totals) * np.mean(sizes)
    bins = bins[:-1]
    if r_compatible != "soundecology":
        totals, bins = totals[bins >= 1000], bins[bins >= 1000]
    bio = np.sum(totals[index_bw(bins, flim_bio)])
    anthro = np.sum(totals[index_bw(bins, flim_anthro)])
    return (bio - anthro) / (bio + anthro), bio / anthro, anthro, bio


def bioacoustics_index(mean_amplitude: np.ndarray, peak: float, fn: np.ndarray, flim: np.ndarray) -> float:
    """``maad.features.bioacoustics_index(R_compatible="soundecology")`` from per-bin means.

    Parameters
    ----------
    mean_amplitude : ndarray
        Amplitude averaged over frames, per bin (scikit-maad averages ``a / max(a)``).
    peak : float
        ``max(a)``.
    fn : ndarray
        Bin frequencies (Hz).
    flim : ndarray
        Band (Hz).
    """
    from maad.util import amplitude2dB, index_bw

    level = amplitude2dB(mean_amplitude / peak)
    band = level[index_bw(fn, flim)]
    return float(np.sum(band - np.min(band)) / (fn[1] - fn[0]))


def tfsd(log_power: np.ndarray, fn: np.ndarray, flim: np.ndarray) -> float:
    """``maad.features.tfsd(a, fn, tn, flim, mode="thirdOctave", log=True)`` from ``log(power)``.

    scikit-maad takes ``log10`` of the amplitude, ``log(power)`` times a constant
    (``1 / (2 ln 10)`` for the natural logarithm); the constant cancels in the
    ratio, so the logarithm, in any base, is shared with the ROI index. The
    third-octave bands are row slices, not boolean-indexed copies.

    Parameters
    ----------
    log_power : ndarray
        Logarithm (any base) of the power spectrogram (frequency x time).
    fn : ndarray
        Bin frequencies (Hz).
    flim : ndarray
        Band whose share of the time-frequency gradient is returned (Hz).
    """
    from maad.util import index_bw

    centres = np.array([16, 20, 25, 31.5, 40, 50, 63, 80, 100, 125, 160, 200, 250, 315, 400,
                        500, 630, 800, 1000, 1250, 1600, 2000, 2500, 3150, 4000, 5000, 6300,
                        8000, 10000, 12500, 16000, 20000])
    centres = centres[(centres >= np.min(fn)) & (centres <= np.max(fn))]
    low, high = centres / (2**0.1666666), centres * (2**0.1666666)
    octave = np.empty((centres.size, log_power.shape[1]))
    for i in range(centres.size):
        rows = np.flatnonzero((fn >= low[i]) & (fn <= high[i]))
        octave[i] = np.sum(log_power[rows[0]:rows[-1] + 1], axis=0) if rows.size else 0.0
    gradient = np.abs(np.diff(np.diff(octave, axis=1), axis=0))
    value = np.sum(gradient[index_bw(centres[:-1], bw=flim)]) / np.sum(gradient)
    return 0.0 if np.isnan(value) else float(value)


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
    ln_power: np.ndarray | None = None,
) -> tuple[float, float]:
    """``nROI, aROI`` exactly as ``maad.features.region_of_interest_index``.

    Same steps and the same selection rules, including scikit-maad's quirks
    (a minimum area of ``min_event_duration * min_freq_bw`` pixels; ROIs removed
    for their duration, bandwidth or shape still count in ``aROI`` unless also
    removed for their frequency), but per-region areas and boxes come from the
    regions' pixels (:func:`_region_extents`) instead of one Python object per
    region, the unused spectral SNR is skipped and the per-bin median is
    :func:`median_rows_nonnegative`. The regions of the mask are the kept components
    of the double threshold, so they are not labelled a second time (unless
    ``fusion_rois`` merges them).

    The dB image is made from the natural logarithm of the power (twice as fast
    as ``log10`` here): ``ln_power``, ``np.log(sxx_power)``, when already computed
    (:func:`tfsd` shares it; it is overwritten). Its values differ from scikit-maad's
    by far less than ``_ROI_DB_MARGIN`` dB, so the masks are scikit-maad's unless a
    value lies within that margin of a threshold; then the image is made again with
    scikit-maad's ``10 * log10``.
    """
    work = np.log(sxx_power) if ln_power is None else ln_power
    masks = _roi_masks(work, 10 / np.log(10), _ROI_DB_MARGIN, low_level, seed_level, remove_rain)
    if masks is None:
        masks = _roi_masks(np.log10(sxx_power, out=work), 10, 0, low_level, seed_level, remove_rain)
    above_low, above_seed = masks
    delta_t = tn[1] - tn[0]
    delta_f = fn[1] - fn[0]

    # skimage.measure.label of a boolean image is scipy's, with full connectivity.
    components, n_components = ndimage_label(above_low, structure=np.ones((3, 3), dtype=bool))
    pixels = np.flatnonzero(above_low)
    ids = components.ravel()[pixels]
    keep = np.zeros(n_components + 1, dtype=bool)
    keep[ids[above_seed.ravel()[pixels]]] = True
    if isinstance(fusion_rois, (tuple, list, np.ndarray)):
        from skimage.morphology import closing

        n_y = round(fusion_rois[0] / delta_t)
        n_x = round(fusion_rois[1] / delta_f)
        labels = label(closing(keep[components], footprint=np.ones([n_x, n_y])))
        pixels = np.flatnonzero(labels)
        ids = labels.ravel()[pixels]
    else:
        # The regions of the mask are its kept components (the order of the regions
        # reaches no index).
        kept = keep[ids]
        pixels, ids = pixels[kept], ids[kept]
    # select_rois: label the mask, keep regions by area.
    area, (min_y, max_y, min_x, max_x) = _region_extents(pixels, ids, above_low.shape[1])
    n_rows, image_size = above_low.shape[1] - 1, above_low.size
    min_area = (
        min_event_duration * min_freq_bw
        if min_event_duration is not None and min_freq_bw is not None
        else 1
    )
    max_area = (
        max_event_duration * max_freq_bw
        if max_event_duration is not None and max_freq_bw is not None
        else image_size
    )
    in_image = (area >= min_area) & (area <= max_area)

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
    a_roi = area[in_image].sum() / image_size * 100
    return float(n_roi), float(a_roi)


def _roi_masks(
    log_power: np.ndarray, factor: float, margin: float, low_level: float, seed_level: float,
    remove_rain: bool,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Double-threshold masks of the ROI index's dB image, made in ``log_power``.

    The image is ``power2dB(power, db_range=96) + 96`` (``factor * log_power``
    clipped to [-96, 0], plus 96) less the mean over frequency (``remove_rain``),
    clipped at 0, less the per-bin median, clipped at 0: scikit-maad's steps in its
    order, block by block of rows (:func:`_row_blocks`).

    Parameters
    ----------
    log_power : ndarray
        Logarithm of the power spectrogram (overwritten with the image).
    factor : float
        Turns ``log_power`` into dB (10 for ``log10``).
    margin : float
        dB: a value of the image within it of a threshold returns None.
    low_level, seed_level : float
        Thresholds (dB).
    remove_rain : bool
        Whether the mean over frequency is removed.

    Returns
    -------
    tuple of ndarray or None
        ``(image > low_level, image > max(seed_level, 0))``, or None.
    """
    blocks = _row_blocks(*log_power.shape)
    for rows in blocks:  # power2dB; log(0) = -inf is clipped like log(tiny)
        block = log_power[rows]
        block *= factor
        np.clip(block, -96, 0, out=block)
        block += 96
    # maad.sound.remove_background_along_axis with N=1 (no smoothing of the profile):
    # subtract the profile, clip negatives to 0; then the same with the per-bin median.
    # (np.maximum(x, 0) is x[x < 0] = 0 but for the sign of zeros, which no threshold sees.)
    # np.sum(axis=0) of a row-major array adds the rows one after the other, as np.mean.
    column_mean = np.sum(log_power, axis=0) / log_power.shape[0] if remove_rain else None
    # Double threshold (maad.rois.create_mask, mode "absolute"): keep the connected
    # regions above low_level whose mean of (value where above seed_level) is > 0,
    # i.e. that hold a pixel above both seed_level and 0.
    masks = [(low_level, np.empty(log_power.shape, dtype=bool)),
             (max(seed_level, 0), np.empty(log_power.shape, dtype=bool))]
    for rows in blocks:
        block = log_power[rows]
        if remove_rain:
            block -= column_mean
            np.maximum(block, 0, out=block)
        block -= median_rows_nonnegative(block)[:, np.newaxis]
        np.maximum(block, 0, out=block)
        for threshold, mask in masks:
            above = np.greater(block, threshold + margin, out=mask[rows])
            # above implies the looser test: equal counts, no value within the margin
            if margin and np.count_nonzero(block > threshold - margin) != np.count_nonzero(above):
                return None
    return masks[0][1], masks[1][1]


def _region_extents(
    pixels: np.ndarray, ids: np.ndarray, n_cols: int
) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """Area and bounding box of each labelled region, from its pixels.

    Parameters
    ----------
    pixels : ndarray
        Flat (row-major) indices of the labelled pixels of an image ``n_cols`` wide.
    ids : ndarray
        Their labels (> 0).
    n_cols : int
        Image width.

    Returns
    -------
    area : ndarray
        Pixel count of each region present, in label order.
    extents : tuple of ndarray
        ``(min_y, max_y, min_x, max_x)`` of the same regions: the first and last row
        and column of ``scipy.ndimage.find_objects``' slices.
    """
    rows, cols = np.divmod(pixels, n_cols)
    count = np.bincount(ids)
    size = count.size
    extents = []
    for coords in (rows, cols):
        low, high = np.full(size, np.iinfo(np.int64).max), np.full(size, -1, dtype=np.int64)
        np.minimum.at(low, ids, coords)
        np.maximum.at(high, ids, coords)
        extents += [low, high]
    present = np.flatnonzero(count)
    min_y, max_y, min_x, max_x = (extent[present] for extent in extents)
    return count[present], (min_y, max_y, min_x, max_x)
