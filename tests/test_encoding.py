"""Encoding into the feature store, and the stage's command line on real recordings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from ecoae.features.autoencoder import Architecture, ConvAutoEncoder
from ecoae.cli import main
from ecoae.features.encoding import encode_partition, feature_columns
from ecoae.archive.segments import SEGMENT_COLUMNS
from ecoae.features.spectrogram import ImageRecipe, read_spectrograms
from ecoae.store import SEGMENT_KEY, read_parquet, write_parquet_atomic, write_partition
from ecoae.features.training import TrainingSettings, load_checkpoint, save_checkpoint
from shared_data import ARCHIVE, needs_archive

pytestmark = needs_archive


@pytest.fixture(scope="module")
def partition(tmp_path_factory):
    """A real partition: 6 Jura recordings cut into 4 s segments (plus the 2 s rest), rendered by the CLI."""
    root = tmp_path_factory.mktemp("store")
    rows = []
    for path in sorted((ARCHIVE / "jura").glob("*.wav"))[:6]:
        relative = path.relative_to(ARCHIVE).as_posix()
        duration = sf.info(str(path)).duration
        for index, offset in enumerate(np.arange(0, duration, 4.0)):
            start = pd.Timestamp("2019-05-22T00:00", tz="UTC") + pd.Timedelta(minutes=30 * len(rows), seconds=offset)
            rows.append((relative, index, start, min(4.0, duration - offset), "jura", "2019-05-22",
                         start.tz_localize(None), "UTC", relative, float(offset)))
    segments = pd.DataFrame(rows, columns=SEGMENT_COLUMNS)
    segments["segment_index"] = segments["segment_index"].astype("int32")
    partition = "site=jura/date=2019-05-22/part-0.parquet"
    segment_file = write_partition(segments, root / "segments" / partition)
    spectrogram_file = root / "spectrograms" / partition
    status = main(["spectrograms", str(segment_file), "--archive", str(ARCHIVE), "--out", str(spectrogram_file),
                   "--problems", str(root / "problems" / partition),
                   "--settings", '{"n_fft": 1024, "hop_length": 512, "frequency_scale": "mel"}', "--threads", "2"])
    assert status == 0
    return segment_file, spectrogram_file


def make_checkpoint(path: Path, architecture: Architecture, spectrogram: ImageRecipe) -> Path:
    torch.manual_seed(0)
    model = ConvAutoEncoder(architecture)
    return save_checkpoint(path, model, TrainingSettings(), spectrogram, "0" * 64, [], "cpu")


@pytest.mark.parametrize("variant,size", [("explicit", 384), ("implicit", 96)])
def test_cli_encode_writes_keys_and_features(partition, tmp_path, variant, size):
    segment_file, spectrogram_file = partition
    _, _, settings = read_spectrograms(spectrogram_file)
    assert settings.n_fft == 1024 and settings.frequency_scale == "mel"
    checkpoint = make_checkpoint(tmp_path / "model.pt", Architecture(variant, size, (4, 8, 8, 8)), settings)
    out = tmp_path / f"ae-{variant}" / "part-0.parquet"
    status = main(["encode", str(spectrogram_file), "--checkpoint", str(checkpoint), "--out", str(out),
                   "--segments", str(segment_file), "--threads", "2", "--batch-size", "5", "--device", "cpu"])
    assert status == 0
    features = read_parquet(out)
    segments = read_parquet(segment_file)
    assert list(features.columns) == SEGMENT_KEY + feature_columns(size)
    pd.testing.assert_frame_equal(features[SEGMENT_KEY], segments[SEGMENT_KEY])
    values = features[feature_columns(size)].to_numpy()
    assert values.dtype == np.float32 and np.isfinite(values).all()
    assert len(np.unique(values.round(5), axis=0)) == len(values)  # every segment gets its own vector
    # Batch size does not change the result.
    model, record = load_checkpoint(checkpoint)
    again = encode_partition(spectrogram_file, model, record, tmp_path / "again.parquet", batch_size=64)
    np.testing.assert_allclose(read_parquet(again)[feature_columns(size)].to_numpy(), values, rtol=1e-5, atol=1e-6)


def test_encode_refuses_other_spectrogram_settings(partition, tmp_path):
    _, spectrogram_file = partition
    checkpoint = make_checkpoint(tmp_path / "model.pt", Architecture("implicit", 16, (4, 4, 4, 4)), ImageRecipe())
    model, record = load_checkpoint(checkpoint)
    with pytest.raises(ValueError, match="spectrogram settings"):
        encode_partition(spectrogram_file, model, record, tmp_path / "out.parquet")
    assert not (tmp_path / "out.parquet").exists()


def test_encode_refuses_keys_of_another_partition(partition, tmp_path):
    segment_file, spectrogram_file = partition
    _, _, settings = read_spectrograms(spectrogram_file)
    model, record = load_checkpoint(make_checkpoint(tmp_path / "m.pt", Architecture("implicit", 16, (4, 4, 4, 4)), settings))
    shuffled = write_parquet_atomic(read_parquet(segment_file).iloc[::-1], tmp_path / "segments.parquet")
    with pytest.raises(ValueError, match="in order"):
        encode_partition(spectrogram_file, model, record, tmp_path / "out.parquet", segments_path=shuffled)


def test_cli_render_pngs(partition, tmp_path):
    _, spectrogram_file = partition
    keys, _, _ = read_spectrograms(spectrogram_file)
    assert main(["render", str(spectrogram_file.parent), "--out-dir", str(tmp_path), "--sample", "2"]) == 0
    assert len(list(tmp_path.glob("*.png"))) == 2
    chosen = tmp_path / "chosen"
    recording = keys["recording_id"].iloc[0]
    assert main(["render", str(spectrogram_file), "--out-dir", str(chosen),
                 "--recording-id", recording, "--segment-index", "1"]) == 0
    (png,) = chosen.glob("*.png")
    assert png.name.endswith("__0001.png") and png.read_bytes()[:4] == b"\x89PNG"
    assert main(["render", str(spectrogram_file), "--out-dir", str(chosen), "--recording-id", "nope"]) == 1
