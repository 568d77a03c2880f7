"""Spectrogram images: band layout, time squeezing, levels, real audio, store round trip."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import soundfile as sf

from ecoae.archive.segments import SEGMENT_COLUMNS
from ecoae.features.spectrogram import (
    IMAGE_SIZE,
    IMAGE_KEY_COLUMNS,
    ImageRecipe,
    band_weights,
    read_spectrograms,
    render_segments,
    segment_image,
    squeeze_time,
    write_spectrograms,
)
from shared_data import ARCHIVE, needs_archive



def archive_segments(per_site: int) -> pd.DataFrame:
    """Segment-store rows (one whole-file segment each) for the first files of each site."""
    rows = []
    for site_dir in sorted(p for p in ARCHIVE.iterdir() if p.is_dir()):
        for path in sorted(site_dir.glob("*.wav"))[:per_site]:
            relative = path.relative_to(ARCHIVE).as_posix()
            start = pd.Timestamp("2020-01-01", tz="UTC") + pd.Timedelta(minutes=len(rows))
            rows.append((relative, 0, start, sf.info(str(path)).duration, site_dir.name,
                         "2020-01-01", start.tz_localize(None), "UTC", relative, 0.0))
    frame = pd.DataFrame(rows, columns=SEGMENT_COLUMNS)
    frame["segment_index"] = frame["segment_index"].astype("int32")
    return frame


@pytest.mark.parametrize("scale", ["linear", "mel"])
@pytest.mark.parametrize("n_fft", [128, 512, 2048])
def test_band_weights_are_means_with_no_empty_band(scale, n_fft):
    settings = ImageRecipe(n_fft=n_fft, hop_length=n_fft // 2, frequency_scale=scale, fmin=100, fmax=9000)
    weights = band_weights(settings)
    assert weights.shape == (IMAGE_SIZE, n_fft // 2 + 1)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-5)
    bin_hz = np.arange(n_fft // 2 + 1) * settings.sample_rate / n_fft
    used = bin_hz[weights.sum(axis=0) > 0]
    assert used.max() <= 9000 + settings.sample_rate / n_fft  # nothing far above fmax
    # Bands run upwards: the weighted centre frequency increases (not decreasing anywhere).
    centres = weights @ bin_hz
    assert np.all(np.diff(centres) >= 0) and centres[-1] > centres[0]


def test_squeeze_time_mean_max_and_short_input():
    ramp = np.tile(np.arange(1000, dtype=float), (3, 1))
    mean = squeeze_time(ramp, 128, "mean")
    peak = squeeze_time(ramp, 128, "max")
    assert mean.shape == peak.shape == (3, 128)
    assert np.all(peak >= mean) and np.all(np.diff(mean[0]) > 0)
    assert mean[0, 0] == pytest.approx(np.arange(7).mean())  # first run: frames 0..6 (1000/128 = 7.8)
    short = squeeze_time(np.arange(10.0)[None, :], 128, "mean")
    assert short.shape == (1, 128) and set(np.unique(short)) == set(range(10))


def test_tone_lands_in_its_band_at_its_level():
    settings = ImageRecipe()
    rate = settings.sample_rate
    frequency = 40 * rate / settings.n_fft  # exactly on STFT bin 40 -> linear band 20
    t = np.arange(rate * 3) / rate
    amplitude = 10 ** (-40 / 20)  # -40 dB re full scale
    image = segment_image((amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32), settings)
    assert image.shape == (IMAGE_SIZE, IMAGE_SIZE) and image.dtype == np.uint8
    row_from_bottom = IMAGE_SIZE - 1 - int(np.argmax(image[:, 64]))
    assert row_from_bottom == 20
    # The band holds the tone's bin and a neighbour at Hann leakage (-6 dB): mean ≈ -42 dB.
    expected = (-42.0 - settings.db_floor) / (settings.db_ceiling - settings.db_floor) * 255
    assert abs(int(image[IMAGE_SIZE - 1 - 20, 64]) - expected) < 8
    assert image[0, 64] == 0  # silent top band is at the floor


def test_settings_reject_bad_values():
    with pytest.raises(ValueError, match="fmax"):
        ImageRecipe(fmax=20000)
    with pytest.raises(ValueError, match="db_floor"):
        ImageRecipe(db_floor=0, db_ceiling=-10)
    with pytest.raises(ValueError, match="time_pooling"):
        ImageRecipe(time_pooling="median")


def test_empty_samples_raise():
    with pytest.raises(ValueError, match="empty"):
        segment_image(np.zeros(0, dtype=np.float32), ImageRecipe())


@needs_archive
def test_real_segments_render_and_round_trip(tmp_path):
    segments = archive_segments(per_site=3)
    settings = ImageRecipe(frequency_scale="mel", time_pooling="max")
    images = render_segments(segments, ARCHIVE, settings, threads=2)
    assert images.shape == (len(segments), IMAGE_SIZE, IMAGE_SIZE)
    assert all(image.std() > 5 for image in images)  # real texture, not a flat image
    # Same rows rendered one at a time give the same images (threads do not mix rows up).
    alone = render_segments(segments.iloc[[4]], ARCHIVE, settings, threads=1)
    np.testing.assert_array_equal(alone[0], images[4])

    path = write_spectrograms(tmp_path / "site=x/date=y/part-0.parquet", segments, images, settings)
    keys, back, back_settings = read_spectrograms(path)
    np.testing.assert_array_equal(back, images)
    assert back_settings == settings
    pd.testing.assert_frame_equal(keys, segments[IMAGE_KEY_COLUMNS].assign(site="x", date="y"))
    assert str(keys["start_time"].dt.tz) == "UTC"
    schema = pq.read_schema(path)
    assert str(schema.field("image").type) == f"fixed_size_binary[{IMAGE_SIZE * IMAGE_SIZE}]"


def test_empty_partition_round_trip(tmp_path):
    segments = pd.DataFrame({c: pd.Series(dtype=t) for c, t in
                             zip(IMAGE_KEY_COLUMNS, ["str", "int32", "datetime64[ns, UTC]", "float64"])})
    images = np.empty((0, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    keys, back, _ = read_spectrograms(write_spectrograms(tmp_path / "p.parquet", segments, images, ImageRecipe()))
    assert len(keys) == 0 and back.shape == (0, IMAGE_SIZE, IMAGE_SIZE)


def test_reading_another_parquet_names_the_file(tmp_path):
    path = tmp_path / "other.parquet"
    pd.DataFrame({"a": [1]}).to_parquet(path)
    with pytest.raises(ValueError, match="other.parquet"):
        read_spectrograms(path)
