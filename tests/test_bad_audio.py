"""A damaged or vanished recording costs its own segments, never the partition.

Every stage that reads audio (spectrograms, indices, MFCC, the training images)
leaves such segments out of its store, lists them in a problem table with the
reason, and processes the rest.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from ecoae import cli
from ecoae.archive.audio import AudioProblem, load_audio
from ecoae.archive.inventory import build_inventory
from ecoae.archive.segments import segment_recordings
from ecoae.features.spectrogram import ImageRecipe, read_spectrograms, render_segments
from ecoae.features.training_sample import render_training_images
from ecoae.layout import Layout
from ecoae.problems import PROBLEM_COLUMNS, problem_count
from ecoae.run_summary import run_summary
from ecoae.store import SEGMENT_KEY, read_parquet, write_partition

RATE = 16000
SECONDS = 4.0


def _tone(seconds: float = SECONDS, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.2 * np.sin(2 * np.pi * 2000 * t) + rng.normal(0, 0.02, t.size)).astype(np.float32)


@pytest.fixture()
def partition(tmp_path):
    """A one-site archive of four 4 s recordings cut into 2 s segments, then damaged.

    ``..._000000`` stays good, ``..._001000`` holds 37 NaN and 5 infinite samples in its
    second half (a float WAV whose header is fine), ``..._002000`` is deleted and
    ``..._003000`` overwritten with garbage after the inventory ran.
    """
    archive = tmp_path / "archive"
    (archive / "pond").mkdir(parents=True)
    names = [f"20240501_00{minute}000.WAV" for minute in range(4)]
    for index, name in enumerate(names):
        samples = _tone(seed=index)
        if index == 1:
            samples[RATE * 3 : RATE * 3 + 37] = np.nan
            samples[RATE * 3 + 100 : RATE * 3 + 105] = np.inf
        sf.write(archive / "pond" / name, samples, RATE, subtype="FLOAT")
    inventory = build_inventory(archive, threads=1)
    assert len(inventory.recordings) == 4
    segments = segment_recordings(inventory.recordings, segment_seconds=2.0)
    segment_file = write_partition(segments, Layout(str(tmp_path / "results")).segments("pond", "2024-05-01"))
    (archive / "pond" / names[2]).unlink()
    (archive / "pond" / names[3]).write_bytes(b"RIFF\x00\x00garbage" * 10)
    return archive, segment_file, segments


def _expected_good(segments: pd.DataFrame) -> pd.DataFrame:
    """Keys of the segments every stage can compute: recording 0 whole, recording 1's first half."""
    good = segments["path"].str.endswith("000000.WAV") | (
        segments["path"].str.endswith("001000.WAV") & (segments["offset"] < 2.0)
    )
    return segments.loc[good, SEGMENT_KEY].reset_index(drop=True)


def _check_problems(path, stage: str, segments: pd.DataFrame) -> pd.DataFrame:
    problems = read_parquet(path)
    assert list(problems.columns[: len(PROBLEM_COLUMNS)]) == PROBLEM_COLUMNS
    assert set(problems["stage"]) == {stage}
    assert len(problems) == len(segments) - len(_expected_good(segments)) == 5
    by_file = problems.groupby(problems["path"].str[-10:-4])["reason"].first()
    assert "37 NaN" not in by_file["001000"] and "42 of 32000 samples are NaN or infinite" in by_file["001000"]
    assert "cannot be read (no such file)" in by_file["002000"] and "cannot be read" in by_file["003000"]
    return problems


def test_load_audio_names_the_problem(partition):
    archive, _, _ = partition
    with pytest.raises(AudioProblem, match="42 of 32000 samples are NaN or infinite"):
        load_audio(archive / "pond" / "20240501_001000.WAV", RATE, offset=2.0, duration=2.0)
    assert np.isfinite(load_audio(archive / "pond" / "20240501_001000.WAV", RATE, 0.0, 2.0)).all()
    with pytest.raises(AudioProblem, match="cannot be read"):
        load_audio(archive / "pond" / "20240501_002000.WAV", RATE)


@pytest.mark.parametrize("stage", ["indices", "mfcc", "spectrograms"])
def test_each_stage_leaves_out_only_the_bad_segments(partition, tmp_path, stage):
    archive, segment_file, segments = partition
    layout = Layout(str(tmp_path / "results"))
    out = layout.spectrograms("pond", "2024-05-01") if stage == "spectrograms" else layout.features(stage, "pond", "2024-05-01")
    problems = layout.problems(stage, "pond", "2024-05-01")
    audio = '{"sample_rate": 16000}'
    status = cli.main([stage, str(segment_file), "--archive", str(archive), "--audio", audio,
                       "--out", str(out), "--problems", problems, "--threads", "2"])
    assert status == 0
    if stage == "spectrograms":
        keys, images, _ = read_spectrograms(out)
        assert images.shape[0] == len(keys) and images[:, :, :].max() > 0
    else:
        keys = read_parquet(out)
        features = keys.drop(columns=SEGMENT_KEY + ["site", "date"], errors="ignore").filter(regex="^(?!qc_)")
        assert np.isfinite(features.to_numpy(dtype=float)).mean() > 0.9
    pd.testing.assert_frame_equal(keys[SEGMENT_KEY].reset_index(drop=True), _expected_good(segments))
    _check_problems(problems, stage, segments)


def test_strict_rendering_raises_and_training_images_drop(partition):
    archive, _, segments = partition
    with pytest.raises(AudioProblem, match="20240501_001000.WAV"):
        render_segments(segments, archive, ImageRecipe(sample_rate=RATE))
    kept, images = render_training_images(segments, archive, ImageRecipe(sample_rate=RATE))
    pd.testing.assert_frame_equal(kept[SEGMENT_KEY], _expected_good(segments))
    assert images.shape == (3, 128, 128)


def test_run_summary_counts_segments_with_problems(partition, tmp_path):
    archive, segment_file, segments = partition
    layout = Layout(str(tmp_path / "results"))
    from ecoae.archive.inventory import write_inventory

    write_inventory(build_inventory(archive, threads=1), layout.inventory_dir)
    for stage in ("indices", "mfcc"):
        assert cli.main([stage, str(segment_file), "--archive", str(archive), "--audio", '{"sample_rate": 16000}',
                         "--out", layout.features(stage, "pond", "2024-05-01"),
                         "--problems", layout.problems(stage, "pond", "2024-05-01")]) == 0
    # The same five segments failed in both stages: counted once.
    assert problem_count(layout.problems_dir) == 5
    line = run_summary(layout.results)
    assert line == (f"ecoae: 2 recordings used, 1 files quarantined, 5 segments with problems "
                    f"(reasons in {layout.quarantine} and {layout.problems_dir})")
