"""Read the chunk layout of a RIFF/WAVE file without decoding its audio.

Only chunk headers are read (8 bytes each, with ``seek`` over the bodies), plus the
bodies of the small metadata chunks that ecoae understands: ``LIST``/``INFO``
(AudioMoth writes its comment there) and ``guan`` (GUANO metadata). This is what
makes the inventory cheap on archives of terabytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

#: Metadata chunks whose bodies are read; anything larger is skipped.
_MAX_METADATA_CHUNK_BYTES = 1 << 20


@dataclass
class RiffLayout:
    """What the chunk headers of a RIFF/WAVE file say.

    Attributes
    ----------
    data_declared : int or None
        Size of the ``data`` chunk as its header declares it.
    data_present : int or None
        Bytes of the ``data`` chunk actually present in the file.
    info : dict
        ``LIST``/``INFO`` entries, e.g. ``{"ICMT": "Recorded at ..."}``.
    guano : str or None
        Text of the ``guan`` chunk, if any.
    """

    data_declared: int | None = None
    data_present: int | None = None
    info: dict[str, str] = field(default_factory=dict)
    guano: str | None = None

    @property
    def truncated(self) -> bool:
        """True when the data chunk declares more bytes than the file holds."""
        return (
            self.data_declared is not None
            and self.data_present is not None
            and self.data_present < self.data_declared
        )


def _decode_text(raw: bytes) -> str:
    text = raw.split(b"\x00", 1)[0]
    try:
        return text.decode("utf-8").strip()
    except UnicodeDecodeError:
        return text.decode("latin-1").strip()


def _parse_info_list(body: bytes) -> dict[str, str]:
    entries: dict[str, str] = {}
    pos = 4  # skip the b"INFO" list type
    while pos + 8 <= len(body):
        key = body[pos : pos + 4].decode("ascii", errors="replace")
        (size,) = struct.unpack("<I", body[pos + 4 : pos + 8])
        entries[key] = _decode_text(body[pos + 8 : pos + 8 + size])
        pos += 8 + size + (size & 1)
    return entries


def is_riff_wave(path: Path) -> bool:
    """Return True if ``path`` starts with a RIFF/WAVE (or RF64/BW64) signature."""
    with open(path, "rb") as handle:
        head = handle.read(12)
    return len(head) == 12 and head[:4] in (b"RIFF", b"RF64", b"BW64") and head[8:12] == b"WAVE"


def read_layout(path: Path) -> RiffLayout:
    """Scan the chunk headers of a RIFF/WAVE file.

    Parameters
    ----------
    path : Path
        A file that :func:`is_riff_wave` accepts.

    Returns
    -------
    RiffLayout
        Declared and present data sizes and the metadata chunks found.
    """
    layout = RiffLayout()
    size = path.stat().st_size
    with open(path, "rb") as handle:
        handle.seek(12)
        pos = 12
        while pos + 8 <= size:
            header = handle.read(8)
            if len(header) < 8:
                break
            chunk_id = header[:4]
            (chunk_size,) = struct.unpack("<I", header[4:])
            body_start = pos + 8
            if chunk_id == b"data":
                layout.data_declared = chunk_size
                layout.data_present = max(0, min(chunk_size, size - body_start))
                if chunk_size == 0xFFFFFFFF:  # RF64 / streaming writers: size unknown
                    layout.data_declared = layout.data_present
            elif chunk_size <= _MAX_METADATA_CHUNK_BYTES and chunk_id in (b"LIST", b"guan"):
                body = handle.read(chunk_size)
                if chunk_id == b"LIST" and body[:4] == b"INFO":
                    layout.info.update(_parse_info_list(body))
                elif chunk_id == b"guan":
                    layout.guano = body.decode("utf-8", errors="replace").strip("\x00 \n")
            pos = body_start + chunk_size + (chunk_size & 1)
            handle.seek(pos)
    return layout
