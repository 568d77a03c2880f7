"""Read the chunk layout of a RIFF/WAVE file without decoding its audio.

Only chunk headers are read (8 bytes each, with ``seek`` over the bodies), plus the
bodies of the ``fmt `` chunk (the stream layout) and of the small metadata chunks that
ecoae understands: ``LIST``/``INFO`` (AudioMoth writes its comment there) and ``guan``
(GUANO metadata). The file's first block is read once and the chunks found in it are
parsed from memory. This is what makes the inventory cheap on archives of terabytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import BinaryIO, NamedTuple

#: Metadata chunks whose bodies are read; anything larger is skipped.
_MAX_METADATA_CHUNK_BYTES = 1 << 20
#: Bytes read at once from the start of a file: the header chunks of most recorders.
_FIRST_BLOCK_BYTES = 4096
_FORMAT = struct.Struct("<HHIIHH")


class WaveFormat(NamedTuple):
    """The fields of a ``fmt `` chunk that describe the stream.

    Attributes
    ----------
    tag : int
        Format tag: 1 integer PCM, 3 IEEE float, 0xFFFE extensible, others compressed.
    channels, sample_rate, block_align, bits : int
        Channels, frames per second, bytes per frame, bits per sample.
    """

    tag: int
    channels: int
    sample_rate: int
    block_align: int
    bits: int


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
    wave_format : WaveFormat or None
        The first ``fmt `` chunk, when it is complete.
    chunks : list of (bytes, int)
        Identifier and declared size of every chunk, in file order.
    """

    data_declared: int | None = None
    data_present: int | None = None
    info: dict[str, str] = field(default_factory=dict)
    guano: str | None = None
    wave_format: WaveFormat | None = None
    chunks: list[tuple[bytes, int]] = field(default_factory=list)

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


def is_riff_wave(head: bytes) -> bool:
    """Return True if ``head`` (a file's first 12 bytes or more) is a RIFF/WAVE (or RF64/BW64) signature."""
    return len(head) >= 12 and head[:4] in (b"RIFF", b"RF64", b"BW64") and head[8:12] == b"WAVE"


def _bytes_at(handle: BinaryIO, block: bytes, position: int, length: int) -> bytes:
    """``length`` bytes at ``position``: from the first block when it holds them, else read."""
    if position + length <= len(block):
        return block[position:position + length]
    handle.seek(position)
    return handle.read(length)


def read_layout(handle: BinaryIO, size: int) -> RiffLayout | None:
    """Scan the chunk headers of a RIFF/WAVE file.

    Parameters
    ----------
    handle : binary file
        The file, open for reading at its start.
    size : int
        Its size in bytes.

    Returns
    -------
    RiffLayout or None
        Declared and present data sizes, stream format and metadata chunks found;
        None when the file is not a RIFF/WAVE file (see :func:`is_riff_wave`).
    """
    block = handle.read(_FIRST_BLOCK_BYTES)
    if not is_riff_wave(block):
        return None
    layout = RiffLayout()
    pos = 12
    while pos + 8 <= size:
        header = _bytes_at(handle, block, pos, 8)
        if len(header) < 8:
            break
        chunk_id = header[:4]
        (chunk_size,) = struct.unpack("<I", header[4:])
        layout.chunks.append((chunk_id, chunk_size))
        body_start = pos + 8
        if chunk_id == b"data":
            layout.data_declared = chunk_size
            layout.data_present = max(0, min(chunk_size, size - body_start))
            if chunk_size == 0xFFFFFFFF:  # RF64 / streaming writers: size unknown
                layout.data_declared = layout.data_present
        elif chunk_id == b"fmt " and chunk_size >= _FORMAT.size and layout.wave_format is None:
            body = _bytes_at(handle, block, body_start, _FORMAT.size)
            if len(body) == _FORMAT.size:
                tag, channels, rate, _, align, bits = _FORMAT.unpack(body)
                layout.wave_format = WaveFormat(tag, channels, rate, align, bits)
        elif chunk_size <= _MAX_METADATA_CHUNK_BYTES and chunk_id in (b"LIST", b"guan"):
            body = _bytes_at(handle, block, body_start, chunk_size)
            if chunk_id == b"LIST" and body[:4] == b"INFO":
                layout.info.update(_parse_info_list(body))
            elif chunk_id == b"guan":
                layout.guano = body.decode("utf-8", errors="replace").strip("\x00 \n")
        pos = body_start + chunk_size + (chunk_size & 1)
    return layout
