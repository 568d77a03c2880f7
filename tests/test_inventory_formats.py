"""WAV variants whose data chunk does not state its size: RF64 and streaming writers."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from ecoae.archive.inventory import build_inventory


def _with_data_size(wav: bytes, field: bytes) -> bytes:
    """The same WAV with the data chunk's size field replaced."""
    at = wav.find(b"data") + 4
    return wav[:at] + field + wav[at + 4:]


@pytest.fixture
def site(tmp_path):
    folder = tmp_path / "site"
    folder.mkdir()
    return folder


def test_rf64_and_unknown_data_size_use_the_file_length(site):
    sf.write(site / "20240101_000000.wav", np.zeros(16000), 8000, format="RF64", subtype="PCM_16")
    assert (site / "20240101_000000.wav").read_bytes()[:4] == b"RF64"
    sf.write(site / "20240101_010000.wav", np.zeros(16000), 8000, subtype="PCM_16")
    plain = (site / "20240101_010000.wav").read_bytes()
    (site / "20240101_020000.wav").write_bytes(_with_data_size(plain, b"\xff\xff\xff\xff"))
    rows = build_inventory(site.parent).recordings.set_index("path")
    assert rows["duration"].to_dict() == {
        "site/20240101_000000.wav": 2.0, "site/20240101_010000.wav": 2.0, "site/20240101_020000.wav": 2.0}
    assert rows.loc["site/20240101_000000.wav", "format"] == "RF64/PCM_16"


def test_a_data_size_of_zero_is_quarantined(site):
    sf.write(site / "20240101_000000.wav", np.zeros(16000), 8000, subtype="PCM_16")
    unfinished = _with_data_size((site / "20240101_000000.wav").read_bytes(), b"\x00\x00\x00\x00")
    (site / "20240101_000000.wav").write_bytes(unfinished)
    inventory = build_inventory(site.parent)
    assert inventory.recordings.empty
    assert inventory.quarantine["reason"].iloc[0].startswith("no audio frames")
