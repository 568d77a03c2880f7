"""Plain WAV files are described from their chunks alone, exactly as libsndfile describes them."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import ecoae.archive.probe as probe_module
from ecoae.archive.probe import Unusable, probe

#: Every WAV encoding libsndfile writes, with the channel counts it writes them in.
SUBTYPES = {subtype: (1, 2) for subtype in ("PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE", "ULAW",
                                             "ALAW", "IMA_ADPCM", "MS_ADPCM")} | {"GSM610": (1,)}


def _outcome(path: Path, accept_truncated: bool):
    """The header a probe gives, or the reason it refuses the file."""
    try:
        return probe(path, accept_truncated)
    except Unusable as reason:
        return str(reason)


def _outcomes(paths: list[Path], monkeypatch, accept_truncated: bool = False) -> tuple[list, list]:
    """Outcomes with the chunk-only description, then with libsndfile only."""
    fast = [_outcome(path, accept_truncated) for path in paths]
    with monkeypatch.context() as patch:
        patch.setattr(probe_module, "_plain_wav_stream", lambda layout: None)
        slow = [_outcome(path, accept_truncated) for path in paths]
    return fast, slow


def _chunk(chunk_id: bytes, body: bytes) -> bytes:
    return chunk_id + struct.pack("<I", len(body)) + body + b"\0" * (len(body) & 1)


def _riff(*chunks: bytes) -> bytes:
    body = b"WAVE" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _fmt(channels: int = 1, rate: int = 8000, bits: int = 16, tag: int = 1, align: int | None = None) -> bytes:
    align = channels * bits // 8 if align is None else align
    return _chunk(b"fmt ", struct.pack("<HHIIHH", tag, channels, rate, rate * align, align, bits))


def _odd_files(folder: Path) -> list[Path]:
    """Every WAV encoding libsndfile writes, and hand-made or damaged variants."""
    folder.mkdir()
    noise = np.random.default_rng(1).uniform(-0.5, 0.5, (8000, 2))
    paths = []
    for subtype, channel_counts in SUBTYPES.items():
        for channels in channel_counts:
            path = folder / f"{subtype}_{channels}.wav"
            sf.write(path, noise[:, :channels], 8000, format="WAV", subtype=subtype)
            paths.append(path)
    with sf.SoundFile(folder / "titled.wav", "w", 8000, 6, "PCM_16", format="WAV") as titled:
        titled.title = "a LIST chunk after the data"
        titled.write(np.zeros((800, 6)))
    paths.append(folder / "titled.wav")
    for name, kwargs in {"flac": dict(format="FLAC"), "ogg": dict(format="OGG"), "rf64": dict(format="RF64"),
                         "wavex": dict(format="WAVEX")}.items():
        sf.write(folder / f"{name}.wav", noise[:, :1], 8000, **kwargs)
        paths.append(folder / f"{name}.wav")
    samples = np.arange(1000, dtype="<i2").tobytes()
    made = {
        "plain": _riff(_fmt(), _chunk(b"data", samples)),
        "odd_length": _riff(_fmt(channels=2), _chunk(b"data", samples[:-3])),
        "data_first": _riff(_chunk(b"data", samples), _fmt()),
        "two_data": _riff(_fmt(), _chunk(b"data", samples), _chunk(b"data", samples[:100])),
        "two_fmt": _riff(_fmt(), _fmt(channels=2), _chunk(b"data", samples)),
        "short_fmt": _riff(_chunk(b"fmt ", b"\1\0\1\0"), _chunk(b"data", samples)),
        "no_channels": _riff(_fmt(channels=0, align=2), _chunk(b"data", samples)),
        "no_rate": _riff(_fmt(rate=0), _chunk(b"data", samples)),
        "wrong_align": _riff(_fmt(align=4), _chunk(b"data", samples)),
        "bits_12": _riff(_fmt(bits=12, align=2), _chunk(b"data", samples)),
        "float_16": _riff(_fmt(tag=3), _chunk(b"data", samples)),
        "zero_size": _riff(_fmt(), b"data\0\0\0\0" + samples),
        "unknown_size": _riff(_fmt(), b"data\xff\xff\xff\xff" + samples),
        "truncated": _riff(_fmt(channels=2), _chunk(b"data", samples))[:-501],
        "info": _riff(_fmt(), _chunk(b"LIST", b"INFO" + _chunk(b"ICMT", b"Recorded at 10:25:00 04/04/2020 (UTC+1)")),
                      _chunk(b"data", samples)),
        "garbage": b"RIFF\0\0\0\0WAVEnot chunks at all",
        "not_audio": b"%PDF-1.4 a document, not a recording",
    }
    for name, content in made.items():
        (folder / f"{name}.wav").write_bytes(content)
        paths.append(folder / f"{name}.wav")
    return paths


@pytest.mark.parametrize("accept_truncated", [False, True])
def test_odd_and_damaged_files_give_what_libsndfile_gives(tmp_path, monkeypatch, accept_truncated):
    paths = _odd_files(tmp_path / "odd")
    fast, slow = _outcomes(paths, monkeypatch, accept_truncated)
    assert dict(zip(map(str, paths), fast)) == dict(zip(map(str, paths), slow))
    assert isinstance(fast[paths.index(tmp_path / "odd" / "truncated.wav")], str) != accept_truncated


def test_real_recordings_give_what_libsndfile_gives_without_it(shared_data, monkeypatch):
    paths = sorted(path for folder in ("archive", "quirky") for path in (shared_data / folder).rglob("*")
                   if path.is_file() and path.suffix.lower() in (".wav", ".mp3", ".flac"))
    assert len(paths) > 100
    fast, slow = _outcomes(paths, monkeypatch)
    assert dict(zip(map(str, paths), fast)) == dict(zip(map(str, paths), slow))
    calls = []
    monkeypatch.setattr(probe_module.sf, "info", lambda *args: calls.append(args) or sf.info(*args))
    for path in (shared_data / "archive").rglob("*.[wW][aA][vV]"):
        _outcome(path, False)
    assert not calls, "the recorders' plain WAV files are read without libsndfile"

