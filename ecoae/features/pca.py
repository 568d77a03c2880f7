"""The linear baseline of the learned features: a PCA of the same spectrogram images.

A PCA is the best linear auto-encoder: with ``k`` components it reconstructs the
training images with the least squared error any linear projection to ``k`` numbers
can reach. Fitted (scikit-learn) on the same frozen training images as the
auto-encoders, and encoded per partition like them, it answers whether the
non-linear network earns its cost.

Model file ``results/models/pca<k>/model.npz``: the mean image, the components, their
explained variance, the image recipe and the training sample's hash. Feature store
``results/features/pca<k>/…``: the segment key and ``pca_0000 … pca_<k-1>`` (float32).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ecoae.features.spectrogram import ImageRecipe, check_images_follow_segments, read_spectrograms
from ecoae.store import SEGMENT_KEY, write_partition

log = logging.getLogger(__name__)

MODEL_FORMAT = "ecoae-pca/1"


def flatten(images: np.ndarray) -> np.ndarray:
    """uint8 ``(n, 128, 128)`` images -> float32 ``(n, 16384)`` pixels in ``[0, 1]``."""
    return images.reshape(len(images), -1).astype(np.float32) / 255.0


def fit_pca(images: np.ndarray, components: int, seed: int = 0):
    """Fit a PCA with at most ``components`` components (capped by the number of images).

    Returns
    -------
    sklearn.decomposition.PCA
    """
    from sklearn.decomposition import PCA

    k = max(1, min(int(components), len(images)))
    return PCA(n_components=k, svd_solver="auto", random_state=seed).fit(flatten(images))


def reconstruction_mse(pca, images: np.ndarray) -> float:
    """Mean squared pixel error of reconstructing ``images`` from their projection."""
    pixels = flatten(images)
    return float(np.mean((pca.inverse_transform(pca.transform(pixels)) - pixels) ** 2))


def save_pca(path: str | Path, pca, recipe: ImageRecipe, sample_hash: str, requested: int) -> Path:
    """Write the model file (plain arrays and JSON: no pickle)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"format": MODEL_FORMAT, "requested_components": int(requested),
              "spectrogram": json.loads(recipe.to_json()), "training_sample_sha256": sample_hash}
    temporary = path.with_name(f".{path.stem}.tmp.npz")
    np.savez(temporary, mean=pca.mean_.astype(np.float32), components=pca.components_.astype(np.float32),
             explained_variance=pca.explained_variance_.astype(np.float32), record=json.dumps(record))
    temporary.replace(path)
    return path


def load_pca(path: str | Path) -> tuple[np.ndarray, np.ndarray, dict]:
    """Return ``(mean, components, record)`` of a model file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no PCA model at {path}; run the workflow's fit_pca step")
    with np.load(path) as data:
        record = json.loads(str(data["record"]))
        if record.get("format") != MODEL_FORMAT:
            raise ValueError(f"{path} is not an ecoae PCA model")
        return data["mean"], data["components"], record


def feature_columns(components: int) -> list[str]:
    """Names of the feature columns, ``pca_0000`` … in order."""
    return [f"pca_{index:04d}" for index in range(components)]


def project_frame(keys: pd.DataFrame, images: np.ndarray, recipe: ImageRecipe, model_path: str | Path,
                  source: str | Path) -> pd.DataFrame:
    """Feature table of one partition's images projected on the PCA: key columns, then ``pca_0000`` ….

    Raises
    ------
    ValueError
        When the images were rendered differently from the PCA's training images.
    """
    mean, components, record = load_pca(model_path)
    trained = ImageRecipe.from_mapping(record["spectrogram"])
    if recipe != trained:
        raise ValueError(f"{source} was rendered with spectrogram settings {recipe.to_json()}, but "
                         f"{model_path} was fitted on {trained.to_json()}; re-run the workflow to refit it")
    features = (flatten(images) - mean) @ components.T
    return pd.concat([keys[SEGMENT_KEY].reset_index(drop=True),
                      pd.DataFrame(features.astype(np.float32), columns=feature_columns(len(components)))], axis=1)


def encode_partition_pca(spectrogram_path: str | Path, model_path: str | Path, out: str | Path,
                         segments_path: str | Path | None = None) -> Path:
    """Project one partition's spectrogram store file on the PCA and write its feature store file.

    Raises
    ------
    ValueError
        When the images were rendered differently from the PCA's training images, or
        do not hold the partition's segments in order.
    """
    keys, images, recipe = read_spectrograms(spectrogram_path)
    if segments_path is not None:
        check_images_follow_segments(keys, segments_path, spectrogram_path)
    frame = project_frame(keys, images, recipe, model_path, spectrogram_path)
    log.info("projected %d segments of %s", len(frame), spectrogram_path)
    return write_partition(frame, out)
