"""Where the real recordings are, and a skip marker for tests that need them.

The shared data folder sits beside the repository (``../shared/data``); the
environment variable :data:`ENVIRONMENT_VARIABLE` points elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

import pytest

#: Names the shared data folder (holding ``archive/``, ``quirky/``, ``reference/``) when set.
ENVIRONMENT_VARIABLE = "ECOAE_TEST_DATA"
BESIDE_THE_REPOSITORY = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_data_folder(environment: Mapping[str, str] = os.environ) -> Path:
    """The shared data folder: ``$ECOAE_TEST_DATA`` when set, else ``../shared/data`` beside the repository."""
    value = environment.get(ENVIRONMENT_VARIABLE, "")
    return Path(value).expanduser().resolve() if value else BESIDE_THE_REPOSITORY


def missing_reason(folder: Path) -> str:
    """Skip reason of a test whose recordings are not in ``folder``: the path tried and how to point elsewhere."""
    return (f"real recordings not found at {folder / 'archive'}; set {ENVIRONMENT_VARIABLE} to the shared data "
            f"folder (default: {BESIDE_THE_REPOSITORY})")


SHARED_DATA = shared_data_folder()
ARCHIVE = SHARED_DATA / "archive"

#: Skips a test when the real recordings are not found.
needs_archive = pytest.mark.skipif(not ARCHIVE.is_dir(), reason=missing_reason(SHARED_DATA))
