"""Spectrogram images as labelled PNG figures, for a person to look at."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ecoae.features.spectrogram import ImageRecipe


def png_name(key: pd.Series) -> str:
    """File name of a segment's figure: recording id (made file-safe) and segment index."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", str(key["recording_id"])).strip("_")
    return f"{safe}__{int(key['segment_index']):04d}.png"


def save_spectrogram_png(image: np.ndarray, key: pd.Series, settings: ImageRecipe, out_dir: str | Path) -> Path:
    """Save one stored image with time and frequency axes and the segment's key as title.

    Parameters
    ----------
    image : ndarray
        ``(128, 128)`` uint8, row 0 = highest band (as stored).
    key : Series
        The segment's key columns.
    settings : ImageRecipe
        How the image was rendered (for the axes).
    out_dir : str or Path
        Folder to write into.

    Returns
    -------
    Path
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    low, high = settings.fmin / 1000, settings.top_frequency / 1000
    figure, axis = plt.subplots(figsize=(5, 4), dpi=100)
    shown = axis.imshow(image, cmap="magma", vmin=0, vmax=255, aspect="auto", interpolation="nearest",
                        extent=(0, float(key["duration"]), 0, 128))
    rows = np.linspace(0, 128, 5)
    if settings.frequency_scale == "linear":
        labels = [f"{low + (high - low) * r / 128:.1f}" for r in rows]
    else:
        import librosa

        edges = librosa.mel_frequencies(129, fmin=settings.fmin, fmax=settings.top_frequency) / 1000
        labels = [f"{edges[int(r)]:.1f}" for r in rows]
    axis.set_yticks(rows, labels)
    axis.set_ylabel(f"frequency (kHz, {settings.frequency_scale})")
    axis.set_xlabel("time in segment (s)")
    start = pd.Timestamp(key["start_time"]).isoformat()
    axis.set_title(f"{key['site']} · {key['recording_id']} #{int(key['segment_index'])}\n{start}", fontsize=8)
    bar = figure.colorbar(shown, ax=axis)
    ticks = np.linspace(0, 255, 5)
    bar.set_ticks(ticks, labels=[f"{settings.db_floor + (settings.db_ceiling - settings.db_floor) * t / 255:.0f}" for t in ticks])
    bar.set_label("dB re full-scale sine")
    figure.tight_layout()
    out = Path(out_dir) / png_name(key)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out)
    plt.close(figure)
    return out
