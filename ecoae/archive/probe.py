"""Probe one audio file: is it usable, and what does its header say?

Only headers are read: libsndfile's ``info`` (which does not decode audio) and,
for WAV files, the RIFF chunk headers plus the small metadata chunks. A file that
cannot be used raises :class:`Unusable` with a reason a person can act on.
"""

from __future__ import annotations

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


def probe(path: Path, accept_truncated: bool = False) -> AudioHeader:
    """Read the header of ``path`` and check that it holds usable audio.

    Parameters
    ----------
    path : Path
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
    size = path.stat().st_size
    if size == 0:
        raise Unusable("empty file (0 bytes): the recorder wrote no audio; nothing to recover")
    layout = riff.RiffLayout()
    if riff.is_riff_wave(path):
        layout = riff.read_layout(path)
        if layout.data_declared is None:
            raise Unusable("WAV without a data chunk (header only or corrupted); re-copy it from the card")
        if layout.truncated and not accept_truncated:
            raise Unusable(
                f"truncated: data chunk declares {layout.data_declared} bytes but "
                f"{layout.data_present} are present (copy interrupted or recorder lost power); "
                "re-copy it, or set inventory.accept_truncated: true to use the readable part"
            )
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as error:
        detail = str(error).split(": ", 1)[-1]
        raise Unusable(f"unreadable or unsupported audio ({detail}); expected WAV, FLAC, OGG or MP3") from None
    if info.frames <= 0 or info.samplerate <= 0:
        raise Unusable("no audio frames (the header is valid but the file holds no samples)")
    return AudioHeader(
        sample_rate=int(info.samplerate),
        channels=int(info.channels),
        frames=int(info.frames),
        format=f"{info.format}/{info.subtype}",
        embedded=_embedded_metadata(layout),
        truncated=layout.truncated,
    )
