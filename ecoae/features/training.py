"""Training the auto-encoder: train loop and checkpoint (sample: training_sample; figures: training_figures).

Defaults (config ``autoencoder.training``; see ``the README, "Auto-encoder features"``): MSE loss on
pixel values scaled to ``[0, 1]``, Adam with learning rate 1e-3, batch size 32, up to
60 epochs with early stopping after 8 epochs without a validation improvement, a
validation split of 20 % of the sampled *recordings* (so near-identical neighbouring
segments never sit on both sides), and the best-validation weights kept.
"""

from __future__ import annotations

import json
import logging
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ecoae.features.autoencoder import Architecture, ConvAutoEncoder, images_to_tensor
from ecoae.features.training_figures import plot_loss_curve, plot_reconstructions
from ecoae.features.spectrogram import ImageRecipe, read_spectrograms
from ecoae.features.quality import model_quality, write_quality
from ecoae.features.training_sample import sample_sha256, split_validation
from ecoae.settings import TrainingSettings

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "ecoae-autoencoder/1"


# --------------------------------------------------------------------------- training


def seed_everything(seed: int) -> None:
    """Seed torch and ask for deterministic kernels (warn where none exists).

    torch flags max-unpooling as lacking a deterministic kernel. On CPU the tests check
    that two runs with one seed give the same features, so that one warning is
    silenced; on CUDA, results agree within float tolerance rather than bit for bit.
    """
    import warnings

    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    warnings.filterwarnings("ignore", message="max_unpooling2d_forward_out does not have a deterministic")


def _loss_function(name: str):
    return torch.nn.MSELoss() if name == "mse" else torch.nn.L1Loss()


def _optimiser(model: torch.nn.Module, settings: TrainingSettings) -> torch.optim.Optimizer:
    kind = torch.optim.Adam if settings.optimiser == "adam" else torch.optim.AdamW
    return kind(model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)


def evaluate_loss(model: ConvAutoEncoder, images: np.ndarray, loss: str = "mse", batch_size: int = 64, device: str | torch.device = "cpu") -> float:
    """Mean reconstruction loss of ``model`` over uint8 images (no gradient)."""
    criterion = _loss_function(loss)
    model.eval()
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            batch = images_to_tensor(images[start : start + batch_size]).to(device)
            total += criterion(model(batch), batch).item() * len(batch)
    return total / max(len(images), 1)


def train_autoencoder(
    images: np.ndarray,
    validation: np.ndarray,
    architecture: Architecture,
    settings: TrainingSettings,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> tuple[ConvAutoEncoder, list[dict]]:
    """Train a fresh network on uint8 images with early stopping on the validation loss.

    Parameters
    ----------
    images : ndarray
        ``(n, 128, 128)`` uint8 spectrograms.
    validation : ndarray
        Boolean mask of the validation rows (see :func:`split_validation`); with no
        validation rows, early stopping watches the training loss.
    architecture, settings
        Network and hyper-parameters.
    device : str or torch.device
        Where to train.
    progress : bool
        Show a progress bar (one step per epoch) on stderr.

    Returns
    -------
    model : ConvAutoEncoder
        In eval mode, holding the weights of the best epoch.
    history : list of dict
        Per epoch: ``epoch``, ``train_loss``, ``validation_loss`` (NaN without a
        validation set), ``seconds``.
    """
    from tqdm import tqdm

    seed_everything(settings.seed)
    device = torch.device(device)
    model = ConvAutoEncoder(architecture).to(device)
    optimiser = _optimiser(model, settings)
    criterion = _loss_function(settings.loss)
    train_images = torch.from_numpy(np.ascontiguousarray(images[~validation]))
    validation_images = images[validation]
    if len(train_images) == 0:
        raise ValueError("no training images left after the validation split")
    generator = torch.Generator().manual_seed(settings.seed)
    history: list[dict] = []
    best_loss, best_state, stale = np.inf, None, 0
    bar = tqdm(range(1, settings.epochs + 1), desc=f"train {architecture.variant}", unit="epoch", disable=not progress)
    for epoch in bar:
        started = time.perf_counter()
        model.train()
        order = torch.randperm(len(train_images), generator=generator)
        total = 0.0
        for start in range(0, len(order), settings.batch_size):
            batch = images_to_tensor(train_images[order[start : start + settings.batch_size]].numpy()).to(device)
            optimiser.zero_grad(set_to_none=True)
            loss = criterion(model(batch), batch)
            loss.backward()
            optimiser.step()
            total += loss.item() * len(batch)
        train_loss = total / len(train_images)
        validation_loss = (
            evaluate_loss(model, validation_images, settings.loss, settings.batch_size, device)
            if len(validation_images) else float("nan")
        )
        history.append({"epoch": epoch, "train_loss": train_loss, "validation_loss": validation_loss,
                        "seconds": time.perf_counter() - started})
        bar.set_postfix(train=f"{train_loss:.5f}", val=f"{validation_loss:.5f}")
        watched = validation_loss if len(validation_images) else train_loss
        if watched < best_loss - settings.min_delta:
            best_loss, stale = watched, 0
            best_state = {name: value.detach().clone() for name, value in model.state_dict().items()}
        else:
            stale += 1
            if stale >= settings.patience:
                log.info("early stop at epoch %d (best loss %.6f)", epoch, best_loss)
                break
    model.load_state_dict(best_state)
    model.eval()
    return model, history


# --------------------------------------------------------------------------- checkpoint


def library_versions() -> dict[str, str]:
    """Versions of what shaped the weights (stored in the checkpoint)."""
    import librosa

    from ecoae import __version__

    return {"ecoae": __version__, "torch": str(torch.__version__), "numpy": str(np.__version__),
            "librosa": str(librosa.__version__), "python": platform.python_version()}


def save_checkpoint(
    path: str | Path,
    model: ConvAutoEncoder,
    training: TrainingSettings,
    spectrogram: ImageRecipe,
    sample_hash: str,
    history: list[dict],
    device: str,
    quality: list[dict] | None = None,
) -> Path:
    """Write weights + architecture + config + versions + sample hash + quality, atomically.

    Only plain Python types and tensors are stored, so ``torch.load(weights_only=True)``
    reads it back.
    """
    import os

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    checkpoint = {
        "format": CHECKPOINT_FORMAT,
        "state_dict": {name: value.detach().cpu() for name, value in model.state_dict().items()},
        "architecture": model.architecture.to_dict(),
        "training": training.canonical(),
        "spectrogram": json.loads(spectrogram.to_json()),
        "training_sample_sha256": sample_hash,
        "history": history,
        "quality": quality or [],
        "versions": library_versions(),
        "trained_on": device,
        "created": pd.Timestamp.now(tz="UTC").isoformat(),
    }
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save(checkpoint, temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> tuple[ConvAutoEncoder, dict]:
    """Rebuild the network of a checkpoint (eval mode) and return it with the checkpoint's record."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}; train the model or fix autoencoder.models.<name>.checkpoint")
    checkpoint = torch.load(path, map_location=device, weights_only=True)
    if checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not an ecoae auto-encoder checkpoint (format {checkpoint.get('format')!r})")
    model = ConvAutoEncoder(Architecture.from_mapping(checkpoint["architecture"])).to(device)
    model.load_state_dict(checkpoint["state_dict"])
    model.eval()
    return model, checkpoint


def reconstruct(model: ConvAutoEncoder, images: np.ndarray, batch_size: int = 64,
                device: str | torch.device = "cpu") -> np.ndarray:
    """The model's reconstructions of uint8 images, float ``(n, 128, 128)`` in ``[0, 1]`` (first channel)."""
    model.eval()
    out = np.empty(images.shape, dtype=np.float32)
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            batch = images_to_tensor(images[start : start + batch_size]).to(device)
            out[start : start + len(batch)] = model(batch)[:, 0].float().cpu().numpy()
    return out


def train_model(
    images_path: str | Path,
    out_dir: str | Path,
    architecture: Architecture,
    settings: TrainingSettings,
    device: str | torch.device = "cpu",
    progress: bool = True,
    figure_images: int = 8,
) -> Path:
    """Train one model on its training images and write everything under ``out_dir``.

    Parameters
    ----------
    images_path : str or Path
        The model's ``training_images.parquet`` (``ecoae training-images``), whose
        metadata records the image recipe and the training sample's hash.

    Writes ``model.pt`` (see :func:`save_checkpoint`), ``history.tsv``, ``quality.tsv``
    (:func:`ecoae.features.quality.model_quality`: the model and PCAs of the same
    training images on the validation images), ``loss_curve.png`` and
    ``reconstructions.png`` (validation images when there are any). Returns the
    checkpoint path.
    """
    out_dir = Path(out_dir)
    keys, images, recipe = read_spectrograms(images_path)
    validation = split_validation(keys, settings.validation_fraction, settings.seed)
    log.info("training %s/%d on %d images (%d held out for validation) on %s",
             architecture.variant, architecture.feature_size, len(images), validation.sum(), device)
    model, history = train_autoencoder(images, validation, architecture, settings, device, progress)
    name = out_dir.name
    held_out = images[validation] if validation.any() else images
    quality = model_quality(reconstruct(model, held_out, device=device), images[~validation], held_out,
                            "autoencoder", architecture.feature_size, settings.seed)
    write_quality(quality, out_dir / "quality.tsv")
    log.info("reconstruction quality on %d held-out images:\n%s", len(held_out), quality.to_string(index=False))
    checkpoint = save_checkpoint(out_dir / "model.pt", model, settings, recipe, sample_sha256(keys), history,
                                 str(device), quality.to_dict("records"))
    pd.DataFrame(history).to_csv(out_dir / "history.tsv", sep="\t", index=False)
    plot_loss_curve(history, out_dir / "loss_curve.png",
                    f"{name}: {architecture.variant}, {architecture.feature_size} features")
    shown = images[validation] if validation.any() else images
    rng = np.random.default_rng(settings.seed)
    picks = np.sort(rng.choice(len(shown), size=min(figure_images, len(shown)), replace=False))
    plot_reconstructions(model, shown[picks], out_dir / "reconstructions.png",
                         f"{name}: validation spectrograms (top) and reconstructions (bottom)")
    return checkpoint
