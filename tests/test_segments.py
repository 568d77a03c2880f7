"""Segmentation policy and segment audio, on generated and real recordings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecoae.archive.inventory import build_inventory
from ecoae.archive.audio import load_audio
from ecoae.archive.segments import SEGMENT_COLUMNS, segment_bounds, segment_recordings


def segment_audio(segments: pd.DataFrame, archive) -> list[np.ndarray]:
    """Each segment's samples at 22 050 Hz, read as every stage reads them."""
    return [load_audio(archive / row.path, 22050, row.offset, row.duration) for row in segments.itertuples()]


@pytest.mark.parametrize(
    ("duration", "partial", "expected"),
    [
        (180.0, "keep", [(0, 60), (60, 60), (120, 60)]),
        (150.0, "keep", [(0, 60), (60, 60), (120, 30)]),
        (150.0, "drop", [(0, 60), (60, 60)]),
        (120.5, "keep", [(0, 60), (60, 60)]),  # 0.5 s left over < min 1 s
        (10.0, "keep", [(0, 10)]),  # shorter than one window: one short segment
        (10.0, "drop", []),
        (0.5, "keep", []),
    ],
)
def test_segment_bounds_policy(duration, partial, expected):
    assert segment_bounds(duration, 60, 1.0, partial) == [(float(a), float(b)) for a, b in expected]


def test_segment_bounds_rejects_unknown_policy():
    with pytest.raises(ValueError, match="partial"):
        segment_bounds(60, 60, 1, "pad")


def test_segments_of_generated_recording(tmp_path, write_tone):
    write_tone(tmp_path / "s" / "20210101_053000.wav", 130.0, rate=8000)
    recordings = build_inventory(tmp_path).recordings
    segments = segment_recordings(recordings, 60, 1, "keep")
    assert list(segments.columns) == SEGMENT_COLUMNS
    assert segments["segment_index"].tolist() == [0, 1, 2]
    assert segments["duration"].tolist() == [60.0, 60.0, 10.0]
    assert segments["start_time"].tolist() == [pd.Timestamp("2021-01-01 05:30", tz="UTC") + pd.Timedelta(minutes=m)
                                               for m in (0, 1, 2)]
    audio = segment_audio(segments, tmp_path)
    assert [len(audio[i]) for i in range(3)] == [60 * 22050, 60 * 22050, 10 * 22050]
    # The third window really starts 120 s in: a sine continues with the right phase.
    t = (120 * 22050 + np.arange(100)) / 22050
    np.testing.assert_allclose(audio[2][1000:1100], 0.3 * np.sin(2 * np.pi * 1000 * t[:100] + 2 * np.pi * 1000 * 1000 / 22050),
                               atol=2e-3)


def test_real_short_recordings_are_one_segment_each(shared_data):
    recordings = build_inventory(shared_data / "archive").recordings
    segments = segment_recordings(recordings)
    assert len(segments) == 120
    assert set(segments.groupby("site")["duration"].unique().map(tuple)) == {(5.0,), (10.0,)}
    assert segments[SEGMENT_COLUMNS].notna().all().all()
    first = segments[segments["site"] == "jura"].iloc[:1]
    samples, = segment_audio(first, shared_data / "archive")
    assert samples.dtype == np.float32 and len(samples) == 10 * 22050
