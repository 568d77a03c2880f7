"""Auto-encoder features of every segment: batched inference into the feature store.

Output: ``results/features/ae-<model>/site=<site>/date=<date>/part-0.parquet`` with the
segment key columns (same rows and order as the segment store) followed by
``ae_0000 … ae_<feature_size - 1>`` float32 columns.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ecoae.features.autoencoder import ConvAutoEncoder, images_to_tensor
from ecoae.features.spectrogram import ImageRecipe, check_images_follow_segments, read_spectrograms
from ecoae.store import SEGMENT_KEY, write_partition

log = logging.getLogger(__name__)


def feature_columns(feature_size: int) -> list[str]:
    """Names of the feature columns, ``ae_0000`` … in order."""
    return [f"ae_{index:04d}" for index in range(feature_size)]


def encode_images(
    model: ConvAutoEncoder, images: np.ndarray, batch_size: int = 16, device: str | torch.device = "cpu"
) -> np.ndarray:
    """Bottleneck features of uint8 ``(n, 128, 128)`` images as float32 ``(n, feature_size)``."""
    model.eval()
    out = np.empty((len(images), model.architecture.feature_size), dtype=np.float32)
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            batch = images_to_tensor(images[start : start + batch_size]).to(device)
            out[start : start + len(batch)] = model.encode(batch).cpu().numpy()
    return out


def check_spectrogram_settings(stored: ImageRecipe, trained: dict, path: str | Path) -> None:
    """Refuse to encode images rendered differently from the model's training images."""
    expected = ImageRecipe.from_mapping(trained)
    if stored != expected:
        raise ValueError(
            f"{path} was rendered with spectrogram settings {stored.to_json()}, but the model was "
            f"trained on {expected.to_json()}; set the config's spectrogram (and audio.sample_rate) "
            "section to the model's values and re-run, or train a model on these settings"
        )


def features_frame(keys: pd.DataFrame, features: np.ndarray) -> pd.DataFrame:
    """Key columns followed by the feature columns."""
    frame = pd.DataFrame(features, columns=feature_columns(features.shape[1]))
    return pd.concat([keys[SEGMENT_KEY].reset_index(drop=True), frame], axis=1)


def encode_frame(
    keys: pd.DataFrame,
    images: np.ndarray,
    recipe: ImageRecipe,
    model: ConvAutoEncoder,
    checkpoint: dict,
    source: str | Path,
    batch_size: int = 16,
    device: str | torch.device = "cpu",
) -> pd.DataFrame:
    """Feature table of one partition's images: key columns, then ``ae_0000`` ….

    Parameters
    ----------
    keys, images, recipe
        A partition's images (see :func:`ecoae.features.spectrogram.read_spectrograms`).
    model, checkpoint
        From :func:`ecoae.features.training.load_checkpoint`.
    source : str or Path
        Where the images come from, for error messages.
    batch_size : int
        Images per forward pass.
    device : str or torch.device
        Where to run the network.

    Raises
    ------
    ValueError
        Images rendered otherwise than the model's training images, or non-finite features.
    """
    check_spectrogram_settings(recipe, checkpoint["spectrogram"], source)
    features = encode_images(model, images, batch_size, device)
    if not np.isfinite(features).all():
        raise ValueError(f"non-finite features from {source}; the checkpoint may be corrupt")
    return features_frame(keys, features)


def encode_partition(
    spectrogram_path: str | Path,
    model: ConvAutoEncoder,
    checkpoint: dict,
    out: str | Path,
    segments_path: str | Path | None = None,
    batch_size: int = 16,
    device: str | torch.device = "cpu",
) -> Path:
    """Encode one partition's spectrogram store file and write its feature store file.

    Parameters
    ----------
    spectrogram_path : str or Path
        The partition's spectrogram store file.
    model, checkpoint
        From :func:`ecoae.features.training.load_checkpoint`.
    out : str or Path
        Feature store file to write (atomically).
    segments_path : str or Path, optional
        The partition's segment store file; when given, the keys must match it row for row.
    batch_size : int
        Images per forward pass.
    device : str or torch.device
        Where to run the network.

    Returns
    -------
    Path
    """
    keys, images, recipe = read_spectrograms(spectrogram_path)
    if segments_path is not None:
        check_images_follow_segments(keys, segments_path, spectrogram_path)
    frame = encode_frame(keys, images, recipe, model, checkpoint, spectrogram_path, batch_size, device)
    log.info("encoded %d segments of %s", len(keys), spectrogram_path)
    return write_partition(frame, out)
