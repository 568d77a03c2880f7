"""Figures of a training run: the loss curve and inputs beside their reconstructions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def plot_loss_curve(history: list[dict], path: str | Path, title: str = "") -> Path:
    """Save the training and validation loss per epoch as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frame = pd.DataFrame(history)
    figure, axis = plt.subplots(figsize=(5, 3.2), dpi=100)
    axis.plot(frame["epoch"], frame["train_loss"], label="training")
    if frame["validation_loss"].notna().any():
        axis.plot(frame["epoch"], frame["validation_loss"], label="validation")
    axis.set_yscale("log")
    axis.set_xlabel("epoch")
    axis.set_ylabel("reconstruction loss")
    axis.set_title(title, fontsize=9)
    axis.legend()
    figure.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return Path(path)


def plot_reconstructions(images: np.ndarray, outputs: np.ndarray, path: str | Path, title: str = "") -> Path:
    """Save uint8 inputs (top row) beside their reconstructions in ``[0, 1]`` (bottom row) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    count = len(images)
    figure, axes = plt.subplots(2, count, figsize=(1.4 * count, 3.2), dpi=100, squeeze=False)
    for column in range(count):
        for row, picture in enumerate((images[column] / 255.0, outputs[column])):
            axis = axes[row, column]
            axis.imshow(picture, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            axis.set_xticks([])
            axis.set_yticks([])
        axes[0, 0].set_ylabel("input")
        axes[1, 0].set_ylabel("output")
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return Path(path)
