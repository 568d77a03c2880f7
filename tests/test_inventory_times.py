"""Start times the file itself gets wrong never stop the inventory: the next source is used and the reason kept."""

from __future__ import annotations

import logging
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecoae.archive.inventory import build_inventory

SERIAL = "24F319055FDF2F5B"


def _chunk(chunk_id: bytes, body: bytes) -> bytes:
    return chunk_id + struct.pack("<I", len(body)) + body + (b"\x00" if len(body) % 2 else b"")


def write_wav(path: Path, comment: str | None = None, guano: str | None = None, seconds: float = 2.0,
              rate: int = 8000) -> Path:
    """A mono 16-bit WAV with an optional AudioMoth ``ICMT`` comment and GUANO chunk."""
    samples = (np.sin(np.arange(int(seconds * rate)) * 0.1) * 8000).astype("<i2").tobytes()
    body = b"WAVE" + _chunk(b"fmt ", struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16))
    if comment is not None:
        body += _chunk(b"LIST", b"INFO" + _chunk(b"ICMT", comment.encode() + b"\x00"))
    if guano is not None:
        body += _chunk(b"guan", guano.encode())
    body += _chunk(b"data", samples)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def _moth(time: str, date: str, zone: str = "UTC") -> str:
    return f"Recorded at {time} {date} ({zone}) by AudioMoth {SERIAL} at medium gain."


def _rows(archive: Path, **settings) -> pd.DataFrame:
    return build_inventory(archive, settings).recordings.set_index("path")


def test_impossible_comment_date_falls_back_to_the_name_and_is_noted(tmp_path, caplog):
    write_wav(tmp_path / "moth" / "20240301_120000.WAV", _moth("12:00:00", "31/02/2024"))
    write_wav(tmp_path / "moth" / "20240301_121000.WAV", _moth("12:10:00", "01/03/2024"))
    with caplog.at_level(logging.WARNING, logger="ecoae"):
        rows = _rows(tmp_path)
    bad, good = rows.loc["moth/20240301_120000.WAV"], rows.loc["moth/20240301_121000.WAV"]
    assert bad["time_source"] == "filename:audiomoth"
    assert bad["local_start"] == pd.Timestamp("2024-03-01 12:00:00")
    assert "31/02/2024" in bad["time_note"] and "day is out of range" in bad["time_note"]
    assert bad["serial"] == SERIAL and bad["recorder"] == "AudioMoth"
    assert good["time_source"] == "audiomoth_comment" and good["time_note"] == ""
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [f"moth/20240301_120000.WAV: {bad['time_note']}; start time from filename:audiomoth"]


def test_without_a_usable_name_the_modification_time_is_used_or_the_file_quarantined(tmp_path):
    write_wav(tmp_path / "moth" / "card.WAV", _moth("12:00:00", "31/02/2024"))
    row = _rows(tmp_path).loc["moth/card.WAV"]
    assert row["time_source"] == "file_mtime" and "day is out of range" in row["time_note"]
    strict = build_inventory(tmp_path, {"missing_time": "quarantine"})
    assert strict.recordings.empty
    reason = strict.quarantine.set_index("path").loc["moth/card.WAV", "reason"]
    assert reason.startswith("no start time") and "31/02/2024" in reason


@pytest.mark.parametrize("zone", ["UTC+25", "UTC+ab", "UTC+5:75"])
def test_malformed_offset_falls_back_to_the_name(tmp_path, zone):
    write_wav(tmp_path / "moth" / "20240301_120000.WAV", _moth("12:00:00", "01/03/2024", zone))
    row = _rows(tmp_path, timezone="Europe/Paris").loc["moth/20240301_120000.WAV"]
    assert row["time_source"] == "filename:audiomoth" and row["timezone"] == "Europe/Paris"
    assert "UTC offset" in row["time_note"] and zone in row["time_note"]


def test_bad_guano_timestamp_falls_back_to_the_name(tmp_path):
    guano = "GUANO|Version: 1.0\nTimestamp: 2019-02-30T23:07:49\nMake: Wildlife Acoustics\nSerial: X1"
    write_wav(tmp_path / "bats" / "X1_20190301_230749.wav", guano=guano)
    row = _rows(tmp_path).loc["bats/X1_20190301_230749.wav"]
    assert row["time_source"] == "filename:songmeter" and row["serial"] == "X1"
    assert row["time_note"].startswith("GUANO Timestamp: '2019-02-30T23:07:49'")


def test_impossible_date_in_the_name_is_noted(tmp_path):
    write_wav(tmp_path / "moth" / "20240231_120000.WAV")
    row = _rows(tmp_path).loc["moth/20240231_120000.WAV"]
    assert row["time_source"] == "file_mtime" and "20240231 120000" in row["time_note"]
