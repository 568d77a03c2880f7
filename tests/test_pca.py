"""The PCA baseline and the reconstruction-quality table, on real spectrogram images."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from ecoae.archive.segments import SEGMENT_COLUMNS
from ecoae.cli import main
from ecoae.features.pca import feature_columns, fit_pca, flatten, load_pca, reconstruction_mse
from ecoae.evaluation.quality import read_quality
from ecoae.features.quality import baseline_variance, model_quality
from ecoae.features.spectrogram import ImageRecipe, render_segments, write_spectrograms
from ecoae.store import SEGMENT_KEY, read_parquet, write_partition
from shared_data import ARCHIVE, needs_archive

pytestmark = needs_archive


@pytest.fixture(scope="module")
def partition(tmp_path_factory):
    """A real partition of 30 Jura and Dagua recordings with its spectrogram store file."""
    root = tmp_path_factory.mktemp("pca")
    rows = []
    for path in sorted(ARCHIVE.rglob("*.wav"))[::4]:
        relative = path.relative_to(ARCHIVE).as_posix()
        start = pd.Timestamp("2020-01-01", tz="UTC") + pd.Timedelta(minutes=len(rows))
        rows.append((relative, 0, start, sf.info(str(path)).duration, "mixed", "2020-01-01",
                     start.tz_localize(None), "UTC", relative, 0.0))
    segments = pd.DataFrame(rows, columns=SEGMENT_COLUMNS)
    segments["segment_index"] = segments["segment_index"].astype("int32")
    images = render_segments(segments, ARCHIVE, ImageRecipe(), threads=2)
    part = "site=mixed/date=2020-01-01/part-0.parquet"
    segment_file = write_partition(segments, root / "segments" / part)
    spectrogram_file = write_spectrograms(root / "spectrograms" / part, segments, images, ImageRecipe())
    training_file = write_spectrograms(root / "models" / "training_images.parquet", segments, images, ImageRecipe())
    return {"root": root, "segments": segment_file, "spectrograms": spectrogram_file,
            "training": training_file, "images": images}


def test_more_components_reconstruct_better_and_all_reconstruct_exactly(partition):
    images = partition["images"]
    errors = [reconstruction_mse(fit_pca(images, k), images) for k in (2, 8, 24)]
    assert errors[0] > errors[1] > errors[2] > 0
    assert reconstruction_mse(fit_pca(images, len(images)), images) < 1e-9
    assert fit_pca(images, 10_000).n_components_ == len(images)  # capped by the images


def test_quality_table_scores_the_mean_image_zero_and_a_copy_one(partition):
    images = partition["images"]
    train, held = images[:20], images[20:]
    mean = np.broadcast_to(flatten(train).mean(axis=0).reshape(128, 128), held.shape)
    table = model_quality(mean, train, held, "mean image", feature_size=384)
    assert list(table["method"]) == ["mean image", "pca-20"]  # 384 and 32 both capped to 20 training images
    assert table["explained_variance"].iloc[0] == pytest.approx(0.0, abs=1e-6)
    assert table["mse"].iloc[0] == pytest.approx(baseline_variance(train, held), rel=1e-6)
    copy = model_quality(held / 255.0, train, held, "copy", feature_size=8)
    assert copy["explained_variance"].iloc[0] == pytest.approx(1.0)
    assert list(copy["components"]) == [8, 8, 20]


def test_cli_fit_and_encode_pca(partition, tmp_path):
    model_dir = tmp_path / "models" / "pca16"
    assert main(["fit-pca", str(partition["training"]), "--out-dir", str(model_dir), "--components", "16",
                 "--validation-fraction", "0.25", "--seed", "1"]) == 0
    mean, components, record = load_pca(model_dir / "model.npz")
    assert components.shape == (16, 128 * 128) and mean.shape == (128 * 128,)
    assert record["spectrogram"] == json.loads(ImageRecipe().to_json())
    quality = read_quality(tmp_path / "models")
    n_train = int(quality["train_images"].iloc[0])
    assert 0 < n_train < len(partition["images"])  # whole recordings held out for validation
    assert list(quality["model"]) == ["pca16", "pca16"]
    assert list(quality["method"]) == ["pca-16", f"pca-{min(32, n_train)}"]
    assert (quality["explained_variance"] > 0).all() and quality["mse"].is_monotonic_decreasing

    out = tmp_path / "features" / "pca16" / "site=mixed" / "date=2020-01-01" / "part-0.parquet"
    assert main(["encode-pca", str(partition["spectrograms"]), "--model", str(model_dir / "model.npz"),
                 "--out", str(out), "--segments", str(partition["segments"])]) == 0
    features = read_parquet(out)
    assert list(features.columns) == SEGMENT_KEY + feature_columns(16)
    expected = (flatten(partition["images"]) - mean) @ components.T
    np.testing.assert_allclose(features[feature_columns(16)].to_numpy(), expected, rtol=1e-5, atol=1e-5)


def test_encode_pca_refuses_images_rendered_otherwise(partition, tmp_path):
    images = partition["images"]
    other = write_spectrograms(tmp_path / "other" / "site=mixed" / "date=2020-01-01" / "part-0.parquet",
                               read_parquet(partition["segments"]).assign(site="mixed", date="2020-01-01"),
                               images, ImageRecipe(n_fft=1024))
    main(["fit-pca", str(partition["training"]), "--out-dir", str(tmp_path / "m"), "--components", "4"])
    with pytest.raises(ValueError, match="spectrogram settings"):
        main(["encode-pca", str(other), "--model", str(tmp_path / "m" / "model.npz"), "--out", str(tmp_path / "x.parquet")])
