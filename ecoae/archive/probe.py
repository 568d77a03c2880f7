"""Probe one audio file: is it usable, and what does its header say?

Only headers are read: for WAV files, the RIFF chunk headers plus the ``fmt `` and
small metadata chunks; for other files, and WAV encodings other than plain PCM and
float, libsndfile's ``info`` (which does not decode audio). A file that cannot be
used raises :class:`Unusable` with a reason a person can act on.

The plain WAV files that recorders write are described from their chunks alone,
exactly as libsndfile describes them: an archive of a million files is probed
without opening each one a second time through libsndfile.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf

from ecoae.archive import riff
from ecoae.archive.metadata import FileMetadata, from_audiomoth_comment, from_guano, merge


class Unusable(Exception):
    """A file that cannot be used; the message says why and what to do."""


@dataclass
class AudioHeader:
    """What the header of a usable file says.

    Attributes
    ----------
    sample_rate, channels, frames : int
        Stream layout.
    format : str
        Container and sample type, e.g. ``"WAV/PCM_16"``.
    embedded : FileMetadata
        Metadata the file itself carries (AudioMoth comment, GUANO); empty if none.
    truncated : bool
        The data chunk is shorter than its header declares (accepted by config).
    """

    sample_rate: int
    channels: int
    frames: int
    format: str
    embedded: FileMetadata
    truncated: bool = False

    @property
    def duration(self) -> float:
        """Duration in seconds."""
        return self.frames / self.sample_rate


def _embedded_metadata(layout: riff.RiffLayout) -> FileMetadata:
    """What the file says about itself: GUANO first, then the AudioMoth comment and artist."""
    artist = layout.info.get("IART", "")
    moth = FileMetadata()
    if artist.startswith("AudioMoth"):
        moth = FileMetadata(recorder="AudioMoth", serial=artist.split()[-1])
    return merge(from_guano(layout.guano), from_audiomoth_comment(layout.info.get("ICMT")), moth)


#: libsndfile's subtype of each (format tag, bits per sample) the chunks alone describe.
_PLAIN_SUBTYPES = {(1, 8): "PCM_U8", (1, 16): "PCM_16", (1, 24): "PCM_24", (1, 32): "PCM_32",
                   (3, 32): "FLOAT", (3, 64): "DOUBLE"}
#: The most channels libsndfile opens.
_MAX_CHANNELS = 1024


def _plain_wav_stream(layout: riff.RiffLayout) -> tuple[int, int, int, str] | None:
    """``(sample_rate, channels, frames, format)`` of a plain RIFF WAV, as libsndfile reads it.

    Plain: one ``fmt `` chunk of integer PCM or float samples (not the extensible
    layout) before one ``data`` chunk whose size field is neither 0 nor unknown.
    None for anything else, which libsndfile then describes (or refuses).
    """
    ids = [chunk_id for chunk_id, _ in layout.chunks]
    wave = layout.wave_format
    if (wave is None or ids.count(b"fmt ") != 1 or ids.count(b"data") != 1
            or ids.index(b"fmt ") > ids.index(b"data")):
        return None
    subtype = _PLAIN_SUBTYPES.get((wave.tag, wave.bits))
    declared = dict(layout.chunks)[b"data"]
    if (subtype is None or declared in (0, 0xFFFFFFFF) or not 1 <= wave.channels <= _MAX_CHANNELS
            or wave.block_align != wave.channels * wave.bits // 8 or wave.sample_rate < 1):
        return None
    return wave.sample_rate, wave.channels, layout.data_present // wave.block_align, f"WAV/{subtype}"


def _libsndfile_stream(path: str | Path) -> tuple[int, int, int, str]:
    """``(sample_rate, channels, frames, format)`` from libsndfile's ``info``."""
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as error:
        detail = str(error).split(": ", 1)[-1]
        raise Unusable(f"unreadable or unsupported audio ({detail}); expected WAV, FLAC, OGG or MP3") from None
    return int(info.samplerate), int(info.channels), int(info.frames), f"{info.format}/{info.subtype}"


def _riff_layout(path: str | Path) -> riff.RiffLayout:
    """The chunk layout of a WAV file (empty for other files), in one opening of the file."""
    with open(path, "rb", buffering=0) as handle:  # unbuffered: a few small reads
        size = os.fstat(handle.fileno()).st_size
        if size == 0:
            raise Unusable("empty file (0 bytes): the recorder wrote no audio; nothing to recover")
        layout = riff.read_layout(handle, size)
    if layout is None:
        return riff.RiffLayout()
    if layout.data_declared is None:
        raise Unusable("WAV without a data chunk (header only or corrupted); re-copy it from the card")
    return layout


def probe(path: str | Path, accept_truncated: bool = False) -> AudioHeader:
    """Read the header of ``path`` and check that it holds usable audio.

    Parameters
    ----------
    path : str or Path
        Audio file.
    accept_truncated : bool
        Accept a WAV whose data chunk is shorter than declared (the readable part is used).

    Returns
    -------
    AudioHeader

    Raises
    ------
    Unusable
        Empty, truncated, unreadable, unsupported, or without audio frames.
    """
    layout = _riff_layout(path)
    if layout.truncated and not accept_truncated:
        raise Unusable(
            f"truncated: data chunk declares {layout.data_declared} bytes but "
            f"{layout.data_present} are present (copy interrupted or recorder lost power); "
            "re-copy it, or set inventory.accept_truncated: true to use the readable part"
        )
    sample_rate, channels, frames, audio_format = _plain_wav_stream(layout) or _libsndfile_stream(path)
    if frames <= 0 or sample_rate <= 0:
        raise Unusable("no audio frames (the header is valid but the file holds no samples)")
    return AudioHeader(
        sample_rate=sample_rate,
        channels=channels,
        frames=frames,
        format=audio_format,
        embedded=_embedded_metadata(layout),
        truncated=layout.truncated,
    )
