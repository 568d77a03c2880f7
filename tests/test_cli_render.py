"""``ecoae render`` chooses segments by recording id, file path, site with a time range, or local time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ecoae.archive.inventory import build_inventory
from ecoae.archive.segments import segment_recordings
from ecoae.cli import main
from ecoae.features.spectrogram import ImageRecipe, render_segments, write_spectrograms
from ecoae.features.spectrogram_png import png_name
from ecoae.layout import Layout
from ecoae.store import read_partition, write_partition

RATE = 22050
#: Sites and the local start (Europe/Paris, UTC+2 in May) of their 4 s recordings, cut into 2 s segments.
RECORDINGS = {"heath": ["20240501_063000", "20240501_070000"], "wood": ["20240501_063000"]}


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """A results folder with the segment and spectrogram stores of a small generated archive."""
    root = tmp_path_factory.mktemp("render")
    archive = root / "archive"
    for site, stamps in RECORDINGS.items():
        for number, stamp in enumerate(stamps):
            path = archive / site / f"S4A0000{number}_{stamp}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            tone = 0.3 * np.sin(2 * np.pi * (500 + 500 * number) * np.arange(4 * RATE) / RATE)
            sf.write(path, tone, RATE, subtype="PCM_16")
    recordings = build_inventory(archive, {"timezone": "Europe/Paris"}).recordings
    layout = Layout(str(root / "results"))
    for (site, date), part in segment_recordings(recordings, 2.0, 1.0).groupby(["site", "date"]):
        write_partition(part, layout.segments(site, date))
        images = render_segments(part, archive, ImageRecipe())
        write_spectrograms(layout.spectrograms(site, date), part, images, ImageRecipe())
    return root


def _render(results: Path, tmp_path: Path, *choices: str) -> int:
    return main(["render", str(results / "results" / "spectrograms"), "--out-dir", str(tmp_path), *choices])


def _rendered(capsys, results: Path) -> list[tuple[str, int]]:
    """``(file path, segment index)`` of each PNG the command printed."""
    segments = [read_partition(path) for path in (results / "results" / "segments").rglob("part-0.parquet")]
    segment_of = {png_name(row): (row["path"], int(row["segment_index"]))
                  for part in segments for _, row in part.iterrows()}
    return sorted(segment_of[Path(line).name] for line in capsys.readouterr().out.splitlines())


def test_by_path_relative_to_the_archive_or_absolute(results, tmp_path, capsys):
    assert _render(results, tmp_path, "--path", "heath/S4A00001_20240501_070000.wav") == 0
    assert _rendered(capsys, results) == [("heath/S4A00001_20240501_070000.wav", 0),
                                          ("heath/S4A00001_20240501_070000.wav", 1)]
    absolute = results / "archive" / "heath" / "S4A00001_20240501_070000.wav"
    assert _render(results, tmp_path, "--path", str(absolute), "--segment-index", "1") == 0
    assert _rendered(capsys, results) == [("heath/S4A00001_20240501_070000.wav", 1)]


def test_by_site_and_local_time_range(results, tmp_path, capsys):
    assert _render(results, tmp_path, "--site", "heath", "--start", "2024-05-01 06:59", "--end", "2024-05-01 08:00") == 0
    assert _rendered(capsys, results) == [("heath/S4A00001_20240501_070000.wav", 0),
                                          ("heath/S4A00001_20240501_070000.wav", 1)]


def test_a_random_sample_of_the_chosen_segments(results, tmp_path, capsys):
    assert _render(results, tmp_path, "--site", "heath", "--sample", "3", "--seed", "1") == 0
    drawn = _rendered(capsys, results)
    assert len(drawn) == 3 and all(path.startswith("heath/") for path, _ in drawn)


def test_by_local_date_and_time_at_every_site_or_one(results, tmp_path, capsys):
    assert _render(results, tmp_path, "--at", "2024-05-01 06:30:03") == 0
    assert _rendered(capsys, results) == [("heath/S4A00000_20240501_063000.wav", 1),
                                          ("wood/S4A00000_20240501_063000.wav", 1)]
    assert _render(results, tmp_path, "--at", "2024-05-01 06:30:03", "--site", "wood") == 0
    assert _rendered(capsys, results) == [("wood/S4A00000_20240501_063000.wav", 1)]
    # A time with a zone is compared in UTC: 04:30:01Z is 06:30:01 in Paris.
    assert _render(results, tmp_path, "--at", "2024-05-01T04:30:01Z", "--site", "wood") == 0
    assert _rendered(capsys, results) == [("wood/S4A00000_20240501_063000.wav", 0)]


def test_recording_id_still_works_without_the_segment_store(results, tmp_path, capsys):
    store = results / "results" / "segments"
    recording = read_partition(next((store / "site=wood").rglob("part-0.parquet")))["recording_id"].iloc[0]
    store.rename(store.with_name("elsewhere"))
    try:
        assert _render(results, tmp_path, "--recording-id", recording, "--segment-index", "1") == 0
    finally:
        store.with_name("elsewhere").rename(store)
    assert len(capsys.readouterr().out.splitlines()) == 1


def test_what_is_not_found_is_named_with_the_closest_matches(results, tmp_path, caplog):
    assert _render(results, tmp_path, "--path", "heath/S4A00001_20240501_070500.wav") == 1
    assert "no recording file 'heath/S4A00001_20240501_070500.wav'" in caplog.text
    assert "closest files: heath/S4A00001_20240501_070000.wav" in caplog.text
    assert _render(results, tmp_path, "--site", "heth") == 1
    assert "no site 'heth'" in caplog.text and "closest: heath" in caplog.text
    assert _render(results, tmp_path, "--site", "wood", "--at", "2024-05-01 12:00") == 1
    assert ("no segment holds 2024-05-01 12:00:00 local time; nearest before: wood 2024-05-01 06:30:02 local time "
            "(wood/S4A00000_20240501_063000.wav #1)") in caplog.text
    assert _render(results, tmp_path, "--start", "2024-05-02 00:00") == 1
    assert ("no segment between 2024-05-02 00:00:00 local time and the last; nearest before: heath 2024-05-01 "
            "07:00:02 local time") in caplog.text
    assert _render(results, tmp_path, "--at", "2024-05-01T04:29Z") == 1
    assert ("no segment holds 2024-05-01T04:29:00+00:00; nearest after: heath 2024-05-01T04:30:00+00:00"
            in caplog.text)


def test_a_choice_is_required_and_a_bad_time_is_a_usage_error(results, tmp_path, capsys):
    assert _render(results, tmp_path) == 2
    with pytest.raises(SystemExit):
        _render(results, tmp_path, "--at", "half past six")
    assert "not a date and time: 'half past six'" in capsys.readouterr().err
