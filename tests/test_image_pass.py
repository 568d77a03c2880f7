"""The spectrogram images are rendered in the audio pass; the image job only reads them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from ecoae.features.spectrogram import (
    ImageRecipe,
    band_weights,
    frame_power,
    read_spectrograms,
    render_segments,
    segment_image,
    squeeze_time,
)
from ecoae.archive.audio import load_audio
from ecoae.layout import Layout
from ecoae.store import write_partition
from shared_data import ARCHIVE, needs_archive
from test_spectrogram import archive_segments

SITE, DATE = "jura", "2020-01-01"


def ecoae(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ecoae", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture
def partition(tmp_path):
    """A one-partition results folder whose segment store holds four real recordings."""
    segments = archive_segments(per_site=2).assign(site=SITE)
    layout = Layout(tmp_path / "results")
    path = write_partition(segments, layout.segments(SITE, DATE))
    return layout, segments, str(path)


@needs_archive
def test_the_audio_pass_writes_the_images_render_segments_makes(partition):
    layout, segments, path = partition
    done = ecoae("audio-features", path, "--archive", str(ARCHIVE), "--sets", json.dumps({"mfcc": {}}),
                 "--spectrograms", json.dumps({"frequency_scale": "mel"}), "--results", layout.results)
    assert done.returncode == 0, done.stderr
    keys, images, recipe = read_spectrograms(layout.spectrograms(SITE, DATE))
    assert recipe == ImageRecipe(frequency_scale="mel")
    np.testing.assert_array_equal(images, render_segments(segments, ARCHIVE, recipe))
    assert list(keys["recording_id"]) == list(segments["recording_id"])
    # The same pass wrote the feature set and both problem tables.
    written = [layout.features("mfcc", SITE, DATE), layout.problems("mfcc", SITE, DATE),
               layout.problems("spectrograms", SITE, DATE)]
    assert all(os.path.exists(path) for path in written)


@needs_archive
def test_the_image_job_names_the_missing_images_and_the_command_that_makes_them(partition):
    layout, _, path = partition
    done = ecoae("images", path, "--models", json.dumps({"pca32": "model.npz"}), "--results", layout.results)
    assert done.returncode == 1
    assert layout.spectrograms(SITE, DATE) in done.stderr and "audio-features --spectrograms" in done.stderr


def test_an_audio_pass_with_nothing_to_do_is_refused(partition):
    _, _, path = partition
    done = ecoae("audio-features", path, "--archive", ".", "--sets", "{}", "--results", "out")
    assert done.returncode == 2 and "nothing to compute" in done.stderr


@needs_archive
@pytest.mark.parametrize("pooling", ["mean", "max"])
def test_pooling_frames_before_bands_gives_the_same_pixels(pooling):
    # segment_image averages frames before applying the band matrix (the two means
    # commute); the pixels equal those of bands first, then time, on real audio.
    recipe = ImageRecipe(time_pooling=pooling)
    weights = band_weights(recipe)
    for relative in archive_segments(per_site=3)["path"]:
        samples = load_audio(ARCHIVE / relative, recipe.sample_rate)
        pooled = squeeze_time(weights @ frame_power(samples, recipe).T, pooling=pooling)
        decibels = 10.0 * np.log10(np.maximum(pooled, 1e-20))
        scaled = (decibels - recipe.db_floor) / (recipe.db_ceiling - recipe.db_floor)
        expected = np.rint(np.clip(scaled, 0.0, 1.0) * 255.0).astype(np.uint8)[::-1]
        np.testing.assert_array_equal(segment_image(samples, recipe), expected)
