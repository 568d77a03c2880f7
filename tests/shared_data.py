"""Where the real recordings are (../shared/data beside the repository) and a skip marker."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ARCHIVE = SHARED_DATA / "archive"

#: Skips a test when the real recordings are not beside the repository.
needs_archive = pytest.mark.skipif(
    not ARCHIVE.is_dir(),
    reason=f"real recordings not found at {ARCHIVE} (the shared data folder sits beside the repo)",
)
