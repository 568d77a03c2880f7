"""How well an image model reconstructs held-out images, beside PCAs of the same images.

For every model, on the validation images (whole recordings held out), two numbers:

- ``mse``: mean squared pixel error, pixels in ``[0, 1]``;
- ``explained_variance``: ``1 - mse / v``, where ``v`` is the mean squared deviation of
  the validation pixels from the *training* mean image (what predicting the mean
  image for every segment would score: 0; a perfect reconstruction: 1).

The same two numbers for PCAs fitted on the same training images, with as many
components as the model's features (capped by the number of training images) and
with 32, say whether a network beats the simplest linear projection.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ecoae.features.pca import fit_pca, flatten, reconstruction_mse

QUALITY_COLUMNS = ["method", "components", "mse", "explained_variance", "train_images", "validation_images"]
#: The fixed-size PCA every model is compared with (the report says when a model does worse).
REFERENCE_COMPONENTS = 32


def baseline_variance(train_images: np.ndarray, validation_images: np.ndarray) -> float:
    """Mean squared deviation of validation pixels from the training mean image."""
    mean = flatten(train_images).mean(axis=0)
    return float(np.mean((flatten(validation_images) - mean) ** 2))


def quality_row(method: str, components: int, mse: float, variance: float, n_train: int, n_validation: int) -> dict:
    """One row of a quality table."""
    explained = 1.0 - mse / variance if variance > 0 else float("nan")
    return {"method": method, "components": int(components), "mse": float(mse),
            "explained_variance": float(explained), "train_images": int(n_train),
            "validation_images": int(n_validation)}


def pca_rows(train_images: np.ndarray, validation_images: np.ndarray, sizes: list[int], seed: int = 0) -> list[dict]:
    """Quality rows of PCAs with each of ``sizes`` components (capped, duplicates dropped)."""
    variance = baseline_variance(train_images, validation_images)
    rows, done = [], set()
    for size in sizes:
        k = max(1, min(int(size), len(train_images)))
        if k in done:
            continue
        done.add(k)
        pca = fit_pca(train_images, k, seed)
        rows.append(quality_row(f"pca-{k}", k, reconstruction_mse(pca, validation_images), variance,
                                len(train_images), len(validation_images)))
    return rows


def model_quality(reconstructions: np.ndarray, train_images: np.ndarray, validation_images: np.ndarray,
                  method: str, feature_size: int, seed: int = 0) -> pd.DataFrame:
    """The quality table of one model: its own row, then PCA-``feature_size`` and PCA-32.

    Parameters
    ----------
    reconstructions : ndarray
        The model's reconstructions of ``validation_images``, float in ``[0, 1]``, same shape.
    train_images, validation_images : ndarray
        uint8 ``(n, 128, 128)``.
    method : str
        Name of the model's row (e.g. ``"autoencoder"``).
    feature_size : int
        The model's number of features.
    """
    variance = baseline_variance(train_images, validation_images)
    pixels = flatten(validation_images).reshape(reconstructions.shape)
    own = quality_row(method, feature_size, float(np.mean((reconstructions - pixels) ** 2)), variance,
                      len(train_images), len(validation_images))
    rows = [own] + pca_rows(train_images, validation_images, [feature_size, REFERENCE_COMPONENTS], seed)
    return pd.DataFrame(rows, columns=QUALITY_COLUMNS)


def write_quality(table: pd.DataFrame, path: str | Path) -> Path:
    """Write a quality table as TSV."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, sep="\t", index=False, float_format="%.6g")
    return path
