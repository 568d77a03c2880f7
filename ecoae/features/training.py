"""Training the auto-encoder: the step-budgeted train loop and the checkpoint.

The frozen sample and its images: :mod:`ecoae.features.training_sample`; figures:
:mod:`ecoae.features.training_figures`; quality against PCA: :mod:`ecoae.features.quality`.

Defaults (config ``autoencoder.training``): MSE loss on pixel values scaled to
``[0, 1]``; AdamW, peak learning rate 3e-3 reached after a linear warm-up over 5 % of
the run, then a cosine decay to zero; batch size 32. The run length is a number of
optimiser *steps*: ``epochs`` passes over the training images, but at least
``min_steps`` and at most ``max_steps`` steps, so a 100-image sample still gets a
useful number of updates and a million-image sample stops in time. The validation
loss is computed ``evaluations`` times, evenly spread; training stops early after
``patience`` evaluations without an improvement, and the best-validation weights are
kept. Validation holds out 20 % of the sampled *recordings*.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import platform
import time
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch

from ecoae.features.autoencoder import Architecture, ConvAutoEncoder, images_to_tensor
from ecoae.features.quality import model_quality, write_quality
from ecoae.features.spectrogram import ImageRecipe, read_spectrograms
from ecoae.features.training_figures import plot_loss_curve, plot_reconstructions
from ecoae.features.training_sample import sample_sha256, split_validation
from ecoae.settings import TrainingSettings

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "ecoae-autoencoder/1"

#: Called after each evaluation with the new history row, the planned number of steps
#: and whether training stops there (early stopping).
EvaluationCallback = Callable[[dict, int, bool], None]


# --------------------------------------------------------------------------- training


def seed_everything(seed: int) -> None:
    """Seed torch and ask for deterministic kernels (warn where none exists).

    torch flags max-unpooling as lacking a deterministic kernel. On CPU two runs with
    one seed give the same features, so that one warning is silenced; on CUDA,
    results agree within float tolerance rather than bit for bit.
    """
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    warnings.filterwarnings("ignore", message="max_unpooling2d_forward_out does not have a deterministic")


def total_steps(settings: TrainingSettings, n_images: int) -> int:
    """Optimiser steps of a run on ``n_images`` training images: ``epochs`` passes, within the step bounds."""
    per_epoch = math.ceil(n_images / settings.batch_size)
    return int(min(settings.max_steps, max(settings.min_steps, settings.epochs * per_epoch)))


def _loss_function(name: str) -> torch.nn.Module:
    return torch.nn.MSELoss() if name == "mse" else torch.nn.L1Loss()


def _optimiser(model: torch.nn.Module, settings: TrainingSettings) -> torch.optim.Optimizer:
    kind = torch.optim.Adam if settings.optimiser == "adam" else torch.optim.AdamW
    return kind(model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)


def _schedule(optimiser: torch.optim.Optimizer, settings: TrainingSettings, steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up, then cosine decay to zero or a constant rate."""
    warmup = max(1, round(settings.warmup_fraction * steps))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        if settings.schedule == "constant":
            return 1.0
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))

    return torch.optim.lr_scheduler.LambdaLR(optimiser, factor)


def augment_batch(batch: torch.Tensor, mode: str, generator: torch.Generator) -> torch.Tensor:
    """Return a training batch ``(n, 1, 128, 128)`` as config ``training.augment`` says.

    ``"roll"``: the whole batch shifted circularly in time (columns) by a random
    amount. ``"roll_inner"``: the same, but the first and last columns stay where they
    are: they hold the segment's edges, which the spectrogram renders differently
    (brighter and less varied than the inside), and a plain roll moves them into the
    middle, where no validation image has them. ``"none"``: unchanged.
    """
    if mode == "none":
        return batch
    if mode == "roll":
        shift = int(torch.randint(0, batch.shape[-1], (1,), generator=generator))
        return torch.roll(batch, shifts=shift, dims=-1)
    shift = int(torch.randint(0, batch.shape[-1] - 2, (1,), generator=generator))
    inner = torch.roll(batch[..., 1:-1], shifts=shift, dims=-1)
    return torch.cat([batch[..., :1], inner, batch[..., -1:]], dim=-1)


def mix_batch(batch: torch.Tensor, alpha: float, generator: torch.Generator,
              rng: np.random.Generator) -> torch.Tensor:
    """Mix each image of a batch with another of the same batch (mixup), config ``training.mixup``.

    Image ``i`` becomes ``w * image_i + (1 - w) * image_j`` with ``j`` a random
    permutation of the batch and ``w = max(b, 1 - b)``, ``b ~ Beta(alpha, alpha)``
    drawn per image (so each image keeps at least half its weight). The network sees
    blends of recordings' spectral profiles and levels that no training image has,
    which regularises what it learns about them. ``alpha = 0``: the batch unchanged.
    """
    if alpha <= 0:
        return batch
    draws = rng.beta(alpha, alpha, size=len(batch))
    weights = torch.from_numpy(np.maximum(draws, 1 - draws)).to(batch)
    weights = weights.view(-1, *([1] * (batch.dim() - 1)))
    partners = batch[torch.randperm(len(batch), generator=generator).to(batch.device)]
    return weights * batch + (1 - weights) * partners


def _autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """The forward pass's precision: bfloat16 autocast on ``device``, or nothing for float32."""
    if precision == "float32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


def _one_channel(images: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 ``(n, 128, 128)`` → float ``(n, 1, 128, 128)`` in ``[0, 1]`` on ``device``."""
    return images_to_tensor(np.asarray(images))[:, :1].contiguous().to(device)


def evaluate_loss(model: ConvAutoEncoder, images: np.ndarray, loss: str = "mse", batch_size: int = 64,
                  device: str | torch.device = "cpu") -> float:
    """Mean reconstruction loss of ``model`` over uint8 images (eval mode, no gradient)."""
    criterion = _loss_function(loss)
    model.eval()
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            batch = _one_channel(images[start : start + batch_size], torch.device(device))
            total += criterion(model(batch), batch).item() * len(batch)
    return total / max(len(images), 1)


def train_autoencoder(
    images: np.ndarray,
    validation: np.ndarray,
    architecture: Architecture,
    settings: TrainingSettings,
    device: str | torch.device = "cpu",
    progress: bool = True,
    on_evaluation: EvaluationCallback | None = None,
) -> tuple[ConvAutoEncoder, list[dict]]:
    """Train a fresh network on uint8 images with early stopping on the validation loss.

    Parameters
    ----------
    images : ndarray
        ``(n, 128, 128)`` uint8 spectrograms.
    validation : ndarray
        Boolean mask of the validation rows (see ``split_validation``); with no
        validation rows, early stopping watches the mean training loss since the last
        evaluation.
    architecture, settings
        Network and hyper-parameters.
    device : str or torch.device
        Where to train.
    progress : bool
        Show a progress bar (one tick per optimiser step) on stderr.
    on_evaluation : callable, optional
        Called after each evaluation (see :data:`EvaluationCallback` and :func:`progress_line`).

    Returns
    -------
    model : ConvAutoEncoder
        In eval mode, contiguous memory format, holding the weights of the best evaluation.
    history : list of dict
        Per evaluation: ``step``, ``epoch`` (fractional passes over the training
        images), ``train_loss`` (mean over the steps since the previous evaluation),
        ``validation_loss`` (NaN without a validation set), ``learning_rate``,
        ``seconds`` (since the start of training).
    """
    from tqdm import tqdm

    seed_everything(settings.seed)
    device = torch.device(device)
    model = ConvAutoEncoder(architecture).to(device)
    train_images = torch.from_numpy(np.ascontiguousarray(images[~validation]))
    validation_images = images[validation]
    if len(train_images) == 0:
        raise ValueError("no training images left after the validation split")
    if architecture.centring != "none":
        model.set_input_mean(train_images.double().mean(dim=0).div(255.0).float())
    memory_format = torch.channels_last if settings.channels_last else torch.contiguous_format
    model = model.to(memory_format=memory_format)
    optimiser = _optimiser(model, settings)
    steps = total_steps(settings, len(train_images))
    scheduler = _schedule(optimiser, settings, steps)
    criterion = _loss_function(settings.loss)
    evaluate_at = set(np.linspace(0, steps, settings.evaluations + 1).round().astype(int)[1:].tolist())
    generator = torch.Generator().manual_seed(settings.seed)
    mixing_rng = np.random.default_rng(settings.seed)
    history: list[dict] = []
    best_loss, best_state, stale = np.inf, None, 0
    order, cursor, total, counted = torch.randperm(len(train_images), generator=generator), 0, 0.0, 0
    started = time.perf_counter()
    model.train()
    bar = tqdm(range(1, steps + 1), desc=f"train {architecture.variant}", unit="step", disable=not progress)
    for step in bar:
        if cursor >= len(order):
            order, cursor = torch.randperm(len(train_images), generator=generator), 0
        batch = _one_channel(train_images[order[cursor : cursor + settings.batch_size]], device)
        cursor += settings.batch_size
        batch = mix_batch(augment_batch(batch, settings.augment, generator), settings.mixup, generator, mixing_rng)
        optimiser.zero_grad(set_to_none=True)
        with _autocast(device, settings.precision):
            output = model(batch)
        loss = criterion(output.float(), batch)
        loss.backward()
        optimiser.step()
        learning_rate = scheduler.get_last_lr()[0]
        scheduler.step()
        total, counted = total + loss.item() * len(batch), counted + len(batch)
        if step not in evaluate_at:
            continue
        train_loss = total / counted
        validation_loss = (evaluate_loss(model, validation_images, settings.loss, 64, device)
                           if len(validation_images) else float("nan"))
        model.train()
        history.append({"step": step, "epoch": step * settings.batch_size / len(train_images),
                        "train_loss": train_loss, "validation_loss": validation_loss,
                        "learning_rate": learning_rate, "seconds": time.perf_counter() - started})
        total, counted = 0.0, 0
        bar.set_postfix(train=f"{train_loss:.5f}", val=f"{validation_loss:.5f}")
        watched = validation_loss if len(validation_images) else train_loss
        if watched < best_loss - settings.min_delta:
            best_loss, stale = watched, 0
            best_state = {name: value.detach().clone() for name, value in model.state_dict().items()}
        else:
            stale += 1
        stopping = stale >= settings.patience
        if on_evaluation is not None:
            on_evaluation(history[-1], steps, stopping)
        if stopping:
            log.info("early stop at step %d (best loss %.6f)", step, best_loss)
            break
    model.load_state_dict(best_state)
    model = model.to(memory_format=torch.contiguous_format)
    model.eval()
    return model, history


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def progress_line(name: str, row: dict, steps: int, stopping: bool = False) -> str:
    """One line for the console after an evaluation: where training is, its losses and the time left.

    Parameters
    ----------
    name : str
        The model's name.
    row : dict
        The evaluation's history row (see :func:`train_autoencoder`).
    steps : int
        Planned optimiser steps of the run.
    stopping : bool
        Training stops early at this evaluation.

    Returns
    -------
    str
        E.g. ``[train explicit384] step 400/2000  epoch 6.4  train 0.00310  val 0.00290  lr 2.9e-03
        ~3 min left``; the time left assumes the run goes on to its last step.
    """
    validation = "" if math.isnan(row["validation_loss"]) else f"  val {row['validation_loss']:.5f}"
    if stopping:
        tail = f"early stop after {_duration(row['seconds'])}"
    elif row["step"] >= steps:
        tail = f"done in {_duration(row['seconds'])}"
    else:
        tail = f"~{_duration(row['seconds'] / row['step'] * (steps - row['step']))} left"
    return (f"[train {name}] step {row['step']}/{steps}  epoch {row['epoch']:.1f}  train {row['train_loss']:.5f}"
            f"{validation}  lr {row['learning_rate']:.1e}  {tail}")


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
    # Serialised in memory first: torch's zip writer reports a full disk as an opaque
    # "unexpected pos" error, a plain file write as "No space left on device".
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with _open_for_writing(temporary) as handle:
            handle.write(buffer.getbuffer())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as error:
        raise OSError(error.errno, f"cannot write the checkpoint {path}: {error.strerror or error}; "
                      "free space on that disk (or point results at another one) and run again") from None
    finally:
        temporary.unlink(missing_ok=True)
    return path


def _open_for_writing(path: Path):
    """Open a new file for writing bytes (a seam the tests point at ``/dev/full``)."""
    return open(path, "wb")


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> tuple[ConvAutoEncoder, dict]:
    """Rebuild the network of a checkpoint (eval mode) and return it with the checkpoint's record."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}; train the model or fix autoencoder.models.<name>.checkpoint")
    checkpoint = torch.load(path, map_location=device, weights_only=True)
    if checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not an ecoae auto-encoder checkpoint (format {checkpoint.get('format')!r})")
    model = ConvAutoEncoder(Architecture.from_checkpoint(checkpoint["architecture"])).to(device)
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
            out[start : start + len(batch)] = model(batch[:, :1])[:, 0].float().cpu().numpy()
    return out


def train_model(
    images_path: str | Path,
    out_dir: str | Path,
    architecture: Architecture,
    settings: TrainingSettings,
    device: str | torch.device = "cpu",
    progress: bool = True,
    figure_images: int = 8,
    on_evaluation: EvaluationCallback | None = None,
) -> Path:
    """Train one model on its training images and write everything under ``out_dir``.

    Parameters
    ----------
    images_path : str or Path
        The model's ``training_images.parquet`` (``ecoae training-images``), whose
        metadata records the image recipe and the training sample's hash.
    progress, on_evaluation
        See :func:`train_autoencoder`.

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
    model, history = train_autoencoder(images, validation, architecture, settings, device, progress, on_evaluation)
    name = out_dir.name
    held_out = images[validation] if validation.any() else images
    reconstructions = reconstruct(model, held_out, device=device)
    quality = model_quality(reconstructions, images[~validation], held_out,
                            "autoencoder", architecture.feature_size, settings.seed)
    write_quality(quality, out_dir / "quality.tsv")
    log.info("reconstruction quality on %d held-out images:\n%s", len(held_out), quality.to_string(index=False))
    checkpoint = save_checkpoint(out_dir / "model.pt", model, settings, recipe, sample_sha256(keys), history,
                                 str(device), quality.to_dict("records"))
    pd.DataFrame(history).to_csv(out_dir / "history.tsv", sep="\t", index=False)
    plot_loss_curve(history, out_dir / "loss_curve.png",
                    f"{name}: {architecture.variant}, {architecture.feature_size} features")
    rng = np.random.default_rng(settings.seed)
    picks = np.sort(rng.choice(len(held_out), size=min(figure_images, len(held_out)), replace=False))
    plot_reconstructions(held_out[picks], reconstructions[picks], out_dir / "reconstructions.png",
                         f"{name}: validation spectrograms (top) and reconstructions (bottom)")
    return checkpoint
