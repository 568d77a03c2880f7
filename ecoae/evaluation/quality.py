"""The image models' reconstruction quality (``results/models/*/quality.tsv``) for the report.

Each auto-encoder's table holds its own row (``method == "autoencoder"``) and PCAs of the
same training images; :func:`quality_sentences` says plainly when a network reconstructs
held-out images worse than a PCA with 32 components.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

COLUMNS = ["model", "method", "components", "mse", "explained_variance", "train_images", "validation_images"]
REFERENCE = "pca-32"


def read_quality(models_dir: str | Path | None) -> pd.DataFrame:
    """Every ``<model>/quality.tsv`` under ``models_dir``, with a ``model`` column first."""
    paths = sorted(Path(models_dir).glob("*/quality.tsv")) if models_dir and Path(models_dir).is_dir() else []
    frames = [pd.read_csv(path, sep="\t").assign(model=path.parent.name) for path in paths]
    if not frames:
        return pd.DataFrame(columns=COLUMNS)
    return pd.concat(frames, ignore_index=True)[COLUMNS]


def quality_sentences(quality: pd.DataFrame) -> list[str]:
    """One sentence per auto-encoder: how it reconstructs held-out images against PCA-32."""
    sentences = []
    for model, rows in quality.groupby("model", sort=True):
        own = rows[rows["method"] == "autoencoder"]
        reference = rows[rows["method"].str.fullmatch(r"pca-\d+") & (rows["components"] <= 32)]
        if own.empty or reference.empty:
            continue
        own, reference = own.iloc[0], reference.sort_values("components").iloc[-1]
        figures = (f"validation MSE {own.mse:.5f} (explained variance {own.explained_variance:.2f}) against "
                   f"{reference.mse:.5f} ({reference.explained_variance:.2f}) for a PCA with "
                   f"{int(reference.components)} components of the same training images")
        if own.mse > reference.mse:
            sentences.append(f"Auto-encoder {model} reconstructs held-out spectrograms worse than a plain PCA: "
                             f"{figures}. A linear projection to {int(reference.components)} numbers keeps more of "
                             "the images than its features; compare their scores below before relying on them.")
        else:
            sentences.append(f"Auto-encoder {model} reconstructs held-out spectrograms at least as well as a "
                             f"plain PCA: {figures}.")
    return sentences
