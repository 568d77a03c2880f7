"""Shared fixtures: the real recordings (../shared/data or $ECOAE_TEST_DATA) and small generated audio."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from shared_data import SHARED_DATA, missing_reason


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real recordings (see :mod:`shared_data`); tests that need them skip when absent."""
    if not (SHARED_DATA / "archive").is_dir():
        pytest.skip(missing_reason(SHARED_DATA))
    return SHARED_DATA


@pytest.fixture
def write_tone():
    """Write a mono 16-bit WAV tone: ``write_tone(path, seconds, rate=22050, freq=1000)``."""

    def write(path: Path, seconds: float, rate: int = 22050, freq: float = 1000.0) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        t = np.arange(int(seconds * rate)) / rate
        sf.write(path, 0.3 * np.sin(2 * np.pi * freq * t), rate, subtype="PCM_16")
        return path

    return write
