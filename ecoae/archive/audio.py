"""Audio loading in one place: partial reads, channel handling, resampling.

Every stage that needs samples calls :func:`load_audio`, so the whole workflow
agrees on sample rate, channel mixing and sample format. Reads go through
libsndfile (WAV, FLAC, OGG, MP3, ...) and only the requested window is read.
Resampling uses libsoxr's high-quality filter (the resampler librosa uses by default).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

#: ``channel`` values accepted by :func:`load_audio` besides a channel index.
MIX = "mix"


class AudioProblem(Exception):
    """A segment's audio cannot be used (unreadable file, NaN or infinite samples).

    The message is the reason, written for the problem tables; a stage that meets
    one records the segment as a problem and goes on with the others.
    """


def to_mono(samples: np.ndarray, channel: str | int = MIX) -> np.ndarray:
    """Reduce a ``(frames, channels)`` array to one channel.

    Parameters
    ----------
    samples : ndarray
        1-D mono or 2-D ``(frames, channels)`` samples.
    channel : {"mix"} or int
        ``"mix"`` averages the channels; an integer picks that channel (clipped to
        the last one for files with fewer channels).

    Returns
    -------
    ndarray
        1-D float32 samples.
    """
    if samples.ndim == 1:
        return samples.astype(np.float32, copy=False)
    if samples.shape[1] == 1:  # mono: a view, no averaging copy
        return samples[:, 0].astype(np.float32, copy=False)
    if channel == MIX:
        return samples.mean(axis=1, dtype=np.float32)
    index = min(int(channel), samples.shape[1] - 1)
    return np.ascontiguousarray(samples[:, index], dtype=np.float32)


def resample(samples: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    """Resample 1-D float32 samples with libsoxr (high quality); no-op when rates match."""
    if source_rate == target_rate or samples.size == 0:
        return samples
    return soxr.resample(samples, source_rate, target_rate, quality="HQ").astype(
        np.float32, copy=False
    )


def load_audio(
    path: str | Path,
    sample_rate: int | None = 22050,
    offset: float = 0.0,
    duration: float | None = None,
    channel: str | int = MIX,
) -> np.ndarray:
    """Read a window of a recording as mono float32 at ``sample_rate``.

    Parameters
    ----------
    path : str or Path
        Any file libsndfile reads.
    sample_rate : int or None
        Target rate in Hz; ``None`` keeps the file's own rate.
    offset : float
        Start of the window in seconds from the start of the file.
    duration : float or None
        Window length in seconds; ``None`` reads to the end.
    channel : {"mix"} or int
        Channel handling, see :func:`to_mono`.

    Returns
    -------
    ndarray
        1-D float32 samples in [-1, 1] for integer formats (float files as stored).

    Raises
    ------
    AudioProblem
        The file cannot be opened or read, or the window holds NaN or infinite samples.
    """
    mono, source_rate = read_window(path, offset, duration, channel)
    return resample(mono, source_rate, sample_rate or source_rate)


def read_window(
    path: str | Path, offset: float = 0.0, duration: float | None = None, channel: str | int = MIX
) -> tuple[np.ndarray, int]:
    """Read a window of a recording as mono float32 at the file's own rate.

    Decode once with this, then :func:`resample` to each rate a stage needs.
    Parameters are those of :func:`load_audio`.

    Returns
    -------
    (ndarray, int)
        1-D float32 samples and the file's sample rate.

    Raises
    ------
    AudioProblem
        The file cannot be opened or read, or the window holds NaN or infinite samples.
    """
    try:
        with sf.SoundFile(str(path)) as handle:
            source_rate = handle.samplerate
            start = int(round(offset * source_rate))
            frames = -1 if duration is None else int(round(duration * source_rate))
            if start:
                handle.seek(min(start, handle.frames))
            samples = handle.read(frames=frames, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as error:
        if not Path(path).exists():
            raise AudioProblem("cannot be read (no such file); it was removed or moved after the inventory") from None
        detail = getattr(error, "error_string", None) or getattr(error, "strerror", None) or str(error)
        raise AudioProblem(f"cannot be read ({detail}); the file changed or vanished after the inventory") from None
    finite = np.isfinite(samples)
    if not finite.all():
        bad = int(finite.size - np.count_nonzero(finite))
        raise AudioProblem(f"{bad} of {finite.size} samples are NaN or infinite (a damaged float recording)")
    return to_mono(samples, channel), source_rate
