"""Encode one partition's images with every image model in one process.

The workflow's per-partition image job reads the partition's stored images (rendered in
the audio pass, :mod:`ecoae.commands.audio_features`) and hands them to
:func:`encode_all`, which writes one feature store file per model: ``ae-<model>`` sets
through their auto-encoder checkpoint, ``pca<k>`` sets through their PCA. torch is
imported only when an auto-encoder is among the models.
"""

from __future__ import annotations

import importlib
import logging
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ecoae.features.pca import project_frame
from ecoae.features.spectrogram import ImageRecipe
from ecoae.store import write_partition

log = logging.getLogger(__name__)


def is_pca_set(name: str) -> bool:
    """Whether a feature set name is a PCA baseline (``pca<k>``)."""
    return re.fullmatch(r"pca\d+", name) is not None


def encode_all(
    keys: pd.DataFrame,
    images: np.ndarray,
    recipe: ImageRecipe,
    models: dict[str, str],
    outputs: dict[str, str | Path],
    batch_size: int = 16,
    device: str = "auto",
    threads: int = 1,
    source: str | Path = "",
) -> dict[str, float]:
    """Encode the images with each model and write each feature store file.

    Parameters
    ----------
    keys, images, recipe
        The partition's rendered segments (key columns in order), their uint8 images
        and how they were rendered.
    models : dict
        Feature set name (``ae-<model>`` or ``pca<k>``) -> model file (``model.pt``
        or ``model.npz``).
    outputs : dict
        Feature set name -> feature store file to write.
    batch_size : int
        Images per forward pass of an auto-encoder.
    device : str
        ``auto``, ``cpu``, ``cuda``, … for the auto-encoders.
    threads : int
        CPU threads of torch.
    source : str or Path
        What the images come from, for error messages.

    Returns
    -------
    dict
        Feature set name -> CPU seconds its encoding took (loading the model included,
        importing torch not: that is the job's start-up, shared by every model).

    Raises
    ------
    ValueError
        A model trained on images rendered otherwise, or non-finite features.
    """
    if not all(is_pca_set(name) for name in models):
        importlib.import_module("torch")  # before the clock: no one model is charged the import
    costs = {}
    for name, model_path in models.items():
        started = time.process_time()
        if is_pca_set(name):
            frame = project_frame(keys, images, recipe, model_path, source)
        else:
            frame = _encode_autoencoder(keys, images, recipe, model_path, batch_size, device, threads, source)
        write_partition(frame, outputs[name])
        costs[name] = time.process_time() - started
        log.info("%s: %d segments -> %s", name, len(frame), outputs[name])
    return costs


def _encode_autoencoder(keys: pd.DataFrame, images: np.ndarray, recipe: ImageRecipe, model_path: str,
                        batch_size: int, device: str, threads: int, source: str | Path) -> pd.DataFrame:
    import torch

    from ecoae.features.autoencoder import select_device
    from ecoae.features.encoding import encode_frame
    from ecoae.features.training import load_checkpoint

    torch.set_num_threads(max(1, threads))
    chosen = select_device(device)
    model, checkpoint = load_checkpoint(model_path, chosen)
    return encode_frame(keys, images, recipe, model, checkpoint, source, batch_size, chosen)
