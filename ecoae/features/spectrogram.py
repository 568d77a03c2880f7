"""128×128 greyscale spectrogram images of segments, and their per-partition store.

Image
-----
Each segment becomes one ``128 × 128`` uint8 image:

1. Power spectrogram of the segment's mono samples (``n_fft``, ``hop_length``,
   Hann window, frames centred with zero padding), scaled so that a full-scale
   sine reads 0 dB.
2. Frequency axis squeezed to 128 rows: each row is the *mean power* of the STFT
   bins in one band, bands equally spaced in Hz (``frequency_scale="linear"``) or
   triangular mel bands normalised to unit sum (``"mel"``), over ``[fmin, fmax]``.
   Because both are weighted means, white noise gives a flat image on either axis.
3. Time axis squeezed to 128 columns: the frames are split into 128 runs of equal
   duration and each run is reduced by ``time_pooling``. ``"mean"`` (default) is the
   average power over 1/128 of the segment — every frame counts, nothing is skipped
   the way decimation or nearest-neighbour resizing skips frames, and the result is
   defined for any segment length (a 60 s segment and a 5 s one both fill 128
   columns). ``"max"`` keeps short loud events visible at the cost of noise peaks.
   Segments with fewer than 128 frames repeat frames (nearest neighbour).
4. Power to dB, clipped to ``[db_floor, db_ceiling]`` and mapped linearly to 0..255.
   Fixed absolute bounds (not per-image normalisation) keep loudness comparable
   between segments, sites and days.

Row 0 of the stored image is the **highest** frequency band (image convention: a
PNG of the array shows low frequencies at the bottom); column 0 is the segment start.

Store
-----
``results/spectrograms/site=<site>/date=<date>/part-0.parquet``: the segment key
columns (:data:`IMAGE_KEY_COLUMNS`, same order as the segment store; a segment
whose audio cannot be used is left out and listed in ``results/problems``) plus ``image``, a ``fixed_size_binary(16384)`` holding the uint8 pixels
row-major. The rendering parameters are in the Parquet schema metadata under
``ecoae.features.spectrogram``.
"""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ecoae.archive.audio import AudioProblem
from ecoae.features.segment_workers import Analysis, SegmentResults, map_segment_audio
from ecoae.settings import AudioSettings, SpectrogramSettings
from ecoae.layout import partition_of
from ecoae.store import SEGMENT_KEY, write_partition


#: Side of the square image (the auto-encoder's input size).
IMAGE_SIZE = 128
#: Bytes of one stored image.
IMAGE_BYTES = IMAGE_SIZE * IMAGE_SIZE
#: Key of the rendering parameters in the Parquet schema metadata.
METADATA_KEY = b"ecoae.spectrogram"
FREQUENCY_SCALES = SpectrogramSettings.FREQUENCY_SCALES
TIME_POOLINGS = SpectrogramSettings.TIME_POOLINGS
#: Columns stored beside each image: the segment key and its time (for figures).
IMAGE_KEY_COLUMNS = SEGMENT_KEY + ["start_time", "duration"]
#: Stage name of rendering: its analysis in a pass over the audio, problem tables and cost.
RENDER_STAGE = "spectrograms"


@dataclass(frozen=True)
class ImageRecipe:
    """How segments are rendered to images (see the module docstring): the config sections
    ``audio`` (its rate) and ``spectrogram`` (without ``threads``) in one record, stored
    with every image file and checkpoint. Defaults are those of :mod:`ecoae.settings`.

    Parameters
    ----------
    sample_rate : int
        Rate the audio is read at, Hz.
    n_fft : int
        STFT frame length in samples.
    hop_length : int
        STFT hop in samples.
    frequency_scale : {"linear", "mel"}
        Band layout of the 128 rows.
    fmin, fmax : float
        Frequency range in Hz; ``fmax=None`` (or 0) means the Nyquist frequency.
    db_floor, db_ceiling : float
        dB values mapped to pixel 0 and 255 (clipped outside).
    time_pooling : {"mean", "max"}
        Reduction of the frames that fall in one column.
    """

    sample_rate: int = AudioSettings.sample_rate
    n_fft: int = SpectrogramSettings.n_fft
    hop_length: int = SpectrogramSettings.hop_length
    frequency_scale: str = SpectrogramSettings.frequency_scale
    fmin: float = SpectrogramSettings.fmin
    fmax: float | None = SpectrogramSettings.fmax
    db_floor: float = SpectrogramSettings.db_floor
    db_ceiling: float = SpectrogramSettings.db_ceiling
    time_pooling: str = SpectrogramSettings.time_pooling

    def __post_init__(self) -> None:
        nyquist = self.sample_rate / 2
        if self.frequency_scale not in FREQUENCY_SCALES:
            raise ValueError(f"frequency_scale must be one of {FREQUENCY_SCALES}, not {self.frequency_scale!r}")
        if self.time_pooling not in TIME_POOLINGS:
            raise ValueError(f"time_pooling must be one of {TIME_POOLINGS}, not {self.time_pooling!r}")
        if not 0 <= self.fmin < self.top_frequency <= nyquist:
            raise ValueError(
                f"need 0 <= fmin < fmax <= {nyquist} Hz (Nyquist of sample_rate {self.sample_rate}), "
                f"got fmin={self.fmin}, fmax={self.fmax}"
            )
        if self.db_floor >= self.db_ceiling:
            raise ValueError(f"db_floor ({self.db_floor}) must be below db_ceiling ({self.db_ceiling})")
        if self.n_fft < 16 or self.hop_length < 1:
            raise ValueError(f"n_fft must be >= 16 and hop_length >= 1 (got {self.n_fft}, {self.hop_length})")

    @property
    def top_frequency(self) -> float:
        """Upper edge of the frequency range in Hz."""
        return float(self.fmax) if self.fmax else self.sample_rate / 2

    def to_json(self) -> str:
        """Canonical JSON of the settings (stored with every image file and checkpoint)."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_mapping(cls, values: dict) -> "ImageRecipe":
        """Build the recipe stored with images or in a checkpoint (its own canonical JSON)."""
        return cls(**values)

    @classmethod
    def from_settings(cls, audio: AudioSettings, spectrogram: SpectrogramSettings) -> "ImageRecipe":
        """The recipe of the config sections ``audio`` (its rate) and ``spectrogram``."""
        return cls(sample_rate=audio.sample_rate, **spectrogram.canonical())


def band_weights(settings: ImageRecipe) -> np.ndarray:
    """Return the ``(128, n_fft // 2 + 1)`` matrix turning an STFT power column into 128 bands.

    Every row sums to one (a weighted mean of bin powers). A band narrower than one
    STFT bin takes the bin nearest its centre, so no row is ever empty.
    Row 0 is the lowest band here; images are flipped when stored.
    """
    n_bins = settings.n_fft // 2 + 1
    bin_hz = np.arange(n_bins) * settings.sample_rate / settings.n_fft
    fmin, fmax = settings.fmin, settings.top_frequency
    if settings.frequency_scale == "mel":
        import warnings

        import librosa

        with warnings.catch_warnings():  # empty mel filters are filled below
            warnings.filterwarnings("ignore", message="Empty filters detected")
            weights = librosa.filters.mel(
                sr=settings.sample_rate, n_fft=settings.n_fft, n_mels=IMAGE_SIZE,
                fmin=fmin, fmax=fmax, norm=None, dtype=np.float64,
            )
        centres = librosa.mel_frequencies(IMAGE_SIZE + 2, fmin=fmin, fmax=fmax)[1:-1]
    else:
        edges = np.linspace(fmin, fmax, IMAGE_SIZE + 1)
        upper = np.where(np.arange(IMAGE_SIZE) == IMAGE_SIZE - 1, np.inf, edges[1:])
        weights = ((bin_hz[None, :] >= edges[:-1, None]) & (bin_hz[None, :] < upper[:, None])).astype(np.float64)
        weights[:, bin_hz > fmax] = 0.0
        centres = (edges[:-1] + edges[1:]) / 2
    empty = weights.sum(axis=1) == 0
    nearest = np.abs(bin_hz[None, :] - centres[empty, None]).argmin(axis=1)
    weights[np.flatnonzero(empty), nearest] = 1.0
    return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)


#: STFT frames transformed at once (the block and its spectrum stay in cache).
_FRAMES_PER_BLOCK = 128


def frame_power(samples: np.ndarray, settings: ImageRecipe) -> np.ndarray:
    """Return the ``(frames, n_fft // 2 + 1)`` power spectrogram, 0 dB = full-scale sine.

    Frames are centred on multiples of the hop and zero-padded at both ends (librosa.stft's
    ``center=True, pad_mode="constant"``, to float32 rounding), without librosa's first-call
    cost (about 2.5 s of lazy imports and compilation in every worker process). They are
    windowed and transformed a block at a time in one reused buffer, and the power is
    written frame by frame (one contiguous row each).
    """
    import scipy.fft

    if samples.size == 0:
        raise ValueError("no samples to render (empty segment)")
    window = np.hanning(settings.n_fft + 1)[:-1].astype(np.float32)  # periodic Hann
    padded = np.pad(samples.astype(np.float32, copy=False), settings.n_fft // 2)
    frames = np.lib.stride_tricks.sliding_window_view(padded, settings.n_fft)[:: settings.hop_length]
    power = np.empty((len(frames), settings.n_fft // 2 + 1), dtype=np.float32)
    buffer = np.empty((min(_FRAMES_PER_BLOCK, len(frames)), settings.n_fft), dtype=np.float32)
    scale = np.float32((2.0 / window.sum()) ** 2)
    for start in range(0, len(frames), _FRAMES_PER_BLOCK):
        stop = min(start + _FRAMES_PER_BLOCK, len(frames))
        windowed = np.multiply(frames[start:stop], window, out=buffer[: stop - start])
        spectrum = scipy.fft.rfft(windowed, axis=1)
        block = power[start:stop]
        np.multiply(spectrum.real, spectrum.real, out=block)
        block += spectrum.imag * spectrum.imag
        block *= scale
    return power


def squeeze_time(power: np.ndarray, columns: int = IMAGE_SIZE, pooling: str = "mean", axis: int = -1) -> np.ndarray:
    """Reduce the time axis of ``power`` (``(bands, frames)`` by default) to ``columns`` runs of equal duration.

    Parameters
    ----------
    power : ndarray
        Non-negative values.
    columns : int
        Number of output columns.
    pooling : {"mean", "max"}
        Reduction within a run; runs shorter than one frame repeat the nearest frame.
    axis : int
        The time axis (0 for :func:`frame_power`'s ``(frames, bins)``).

    Returns
    -------
    ndarray
        ``power`` with ``columns`` entries along ``axis``.
    """
    frames = power.shape[axis]
    starts = np.floor(np.linspace(0, frames, columns + 1)[:-1]).astype(np.intp)
    if pooling == "max":
        return np.maximum.reduceat(power, starts, axis=axis)
    counts = np.maximum(np.diff(np.append(starts, frames)), 1)
    shape = [1] * power.ndim
    shape[axis] = columns
    return np.add.reduceat(power, starts, axis=axis) / counts.reshape(shape)


def sparse_band_weights(settings: ImageRecipe):
    """:func:`band_weights` as a sparse matrix: each band touches a few bins, so the
    product with a spectrogram costs a few hundred multiply-adds per frame, not 33 000."""
    from scipy import sparse

    return sparse.csr_array(band_weights(settings))


def segment_image(samples: np.ndarray, settings: ImageRecipe, weights=None) -> np.ndarray:
    """Render one segment's samples to a ``128 × 128`` uint8 image (row 0 = highest band).

    Parameters
    ----------
    samples : ndarray
        1-D float samples at ``settings.sample_rate``.
    settings : ImageRecipe
        Rendering parameters.
    weights : ndarray or sparse array, optional
        :func:`sparse_band_weights` (or :func:`band_weights`) of ``settings``; pass
        it to avoid recomputing it per segment.

    Returns
    -------
    ndarray
        ``(128, 128)`` uint8.
    """
    if weights is None:
        weights = sparse_band_weights(settings)
    power = frame_power(samples, settings)
    if settings.time_pooling == "mean":
        # Band means and time means commute: averaging the frames first leaves 128
        # columns for the band matrix instead of every frame.
        pooled = weights @ squeeze_time(power, IMAGE_SIZE, "mean", axis=0).T
    else:
        pooled = squeeze_time(weights @ power.T, IMAGE_SIZE, settings.time_pooling)
    decibels = 10.0 * np.log10(np.maximum(pooled, 1e-20))
    scaled = (decibels - settings.db_floor) / (settings.db_ceiling - settings.db_floor)
    pixels = np.rint(np.clip(scaled, 0.0, 1.0) * 255.0).astype(np.uint8)
    return np.ascontiguousarray(pixels[::-1])


#: Audio that justifies one more worker process when rendering alone (about 0.01 s of
#: work per minute of audio, against about 0.1 s to start a worker).
SECONDS_PER_WORKER = 600


@functools.lru_cache(maxsize=8)
def _cached_band_weights(settings: ImageRecipe):
    return sparse_band_weights(settings)


def _segment_image_cached(samples: np.ndarray, sample_rate: int, settings: ImageRecipe) -> np.ndarray:
    """:func:`segment_image` with the band matrix built once per process (a pass's analysis)."""
    return segment_image(samples, settings, _cached_band_weights(settings))


def image_analysis(settings: ImageRecipe) -> Analysis:
    """Rendering as one analysis of a pass over a partition's audio (stage ``spectrograms``)."""
    _cached_band_weights(settings)  # built here once, inherited by forked workers
    return Analysis(RENDER_STAGE, _segment_image_cached, settings, settings.sample_rate, SECONDS_PER_WORKER)


def images_of(results: SegmentResults) -> np.ndarray:
    """The ``(n, 128, 128)`` uint8 images of a pass's rendered segments."""
    if not results.rows:
        return np.empty((0, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    return np.stack(results.rows)


def render_segments(
    segments: pd.DataFrame,
    archive: str | Path,
    settings: ImageRecipe,
    channel: str | int = "mix",
    threads: int = 1,
) -> np.ndarray:
    """Render every segment of a table to an image; any unusable audio is an error.

    Parameters
    ----------
    segments : DataFrame
        Rows of a segment store partition (``path``, ``offset``, ``duration``).
    archive : str or Path
        Folder the ``path`` column is relative to.
    settings : ImageRecipe
        Rendering parameters (its ``sample_rate`` is the rate audio is read at).
    channel : {"mix"} or int
        Channel handling, see :func:`ecoae.archive.audio.load_audio`.
    threads : int
        Most worker processes.

    Returns
    -------
    ndarray
        ``(n_segments, 128, 128)`` uint8, in the row order of ``segments``.

    Raises
    ------
    AudioProblem
        A segment's audio could not be used (see :func:`render_partition` to go on without it).
    """
    rendering = render_partition(segments, archive, settings, channel, threads)
    if len(rendering.problems):
        first = rendering.problems.iloc[0]
        raise AudioProblem(f"{Path(archive) / first['path']}: {first['reason']}")
    return rendering.images


class Rendering(NamedTuple):
    """A partition rendered by :func:`render_partition`.

    Attributes
    ----------
    kept : DataFrame
        The rows of the segments that were rendered, in order (index reset).
    images : ndarray
        ``(len(kept), 128, 128)`` uint8.
    problems : DataFrame
        The segments left out, with reasons (stage ``spectrograms``).
    cpu_s : float
        CPU seconds of reading the audio and rendering it, in whichever process did it.
    """

    kept: pd.DataFrame
    images: np.ndarray
    problems: pd.DataFrame
    cpu_s: float


def render_partition(
    segments: pd.DataFrame,
    archive: str | Path,
    settings: ImageRecipe,
    channel: str | int = "mix",
    threads: int = 1,
) -> Rendering:
    """Render the segments whose audio can be used; list the others as problems.

    Parameters are those of :func:`render_segments`.
    """
    done = map_segment_audio([image_analysis(settings)], segments, archive, channel, threads)
    rendered = done.results[RENDER_STAGE]
    return Rendering(segments[rendered.kept].reset_index(drop=True), images_of(rendered), rendered.problems,
                     sum(done.cpu_s.values()))


def images_to_table(keys: pd.DataFrame, images: np.ndarray, settings: ImageRecipe) -> pa.Table:
    """Build the store table: key columns + ``image`` + parameters in the schema metadata."""
    if len(keys) != len(images) or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE) or images.dtype != np.uint8:
        raise ValueError(f"need one uint8 {IMAGE_SIZE}x{IMAGE_SIZE} image per key row, got {images.shape} {images.dtype}")
    table = pa.Table.from_pandas(keys[IMAGE_KEY_COLUMNS].reset_index(drop=True), preserve_index=False)
    flat = pa.py_buffer(np.ascontiguousarray(images).tobytes())
    column = pa.FixedSizeBinaryArray.from_buffers(pa.binary(IMAGE_BYTES), len(images), [None, flat])
    table = table.append_column("image", column)
    metadata = dict(table.schema.metadata or {})
    metadata[METADATA_KEY] = settings.to_json().encode()
    return table.replace_schema_metadata(metadata)


def write_spectrograms(path: str | Path, keys: pd.DataFrame, images: np.ndarray, settings: ImageRecipe) -> Path:
    """Write a partition's images atomically; see :func:`images_to_table`."""
    return write_partition(images_to_table(keys, images, settings), path)


def read_spectrograms(path: str | Path) -> tuple[pd.DataFrame, np.ndarray, ImageRecipe]:
    """Read a spectrogram store file.

    Returns
    -------
    keys : DataFrame
        :data:`IMAGE_KEY_COLUMNS` in stored order, plus ``site`` and ``date`` when the
        file lies in a store's ``site=…/date=…`` folders.
    images : ndarray
        ``(n, 128, 128)`` uint8, row 0 = highest frequency band.
    settings : ImageRecipe
        The parameters the images were rendered with.
    """
    table = pq.read_table(path, partitioning=None)
    metadata = (table.schema.metadata or {}).get(METADATA_KEY)
    if metadata is None or "image" not in table.column_names:
        raise ValueError(f"{path} is not an ecoae spectrogram store file (no image column or parameters); re-run `ecoae spectrograms`")
    settings = ImageRecipe.from_mapping(json.loads(metadata))
    column = table.column("image").combine_chunks()
    if len(column):
        buffer = column.buffers()[1]
        start = column.offset * IMAGE_BYTES
        images = np.frombuffer(buffer, dtype=np.uint8, count=len(column) * IMAGE_BYTES, offset=start)
        images = images.reshape(len(column), IMAGE_SIZE, IMAGE_SIZE).copy()
    else:
        images = np.empty((0, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    keys = table.drop_columns(["image"]).to_pandas()
    try:
        keys["site"], keys["date"] = partition_of(path)
    except ValueError:
        pass  # a file outside a store: the key columns alone
    return keys, images, settings


def check_images_follow_segments(keys: pd.DataFrame, segments_path: str | Path, spectrogram_path: str | Path) -> None:
    """Check that a spectrogram store holds segments of its segment store, in its order.

    Segments whose audio could not be used are absent from the images (and listed in
    the problem tables), so the images' keys are an ordered subsequence of the segments'.

    Raises
    ------
    ValueError
        An image whose segment is not in the segment store, or images out of order:
        the spectrograms are stale.
    """
    from ecoae.store import read_parquet

    segments = read_parquet(segments_path)[SEGMENT_KEY]
    position = {key: i for i, key in enumerate(zip(segments["recording_id"], segments["segment_index"]))}
    found = [position.get(key, -1) for key in zip(keys["recording_id"], keys["segment_index"])]
    if -1 in found or any(later <= earlier for earlier, later in zip(found, found[1:])):
        raise ValueError(f"{spectrogram_path} holds segments that are not those of {segments_path} in order; "
                         "re-run the spectrogram step for this partition")
