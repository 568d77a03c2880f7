"""Training the auto-encoder: frozen sample, train loop, checkpoint (figures: training_figures).

The training sample is drawn once, with a seed, from the segment stores present at
that moment, and written to ``results/models/<model>/training_sample.parquet``. The
workflow never re-draws it (new recordings do not retrain the model), and the
checkpoint records its SHA-256 so a model can be traced to its exact data.

Defaults (config ``autoencoder.training``; see ``the README, "Auto-encoder features"``): MSE loss on
pixel values scaled to ``[0, 1]``, Adam with learning rate 1e-3, batch size 32, up to
60 epochs with early stopping after 8 epochs without a validation improvement, a
validation split of 20 % of the sampled *recordings* (so near-identical neighbouring
segments never sit on both sides), and the best-validation weights kept.
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import torch

from ecoae.features.autoencoder import Architecture, ConvAutoEncoder, images_to_tensor
from ecoae.features.training_figures import plot_loss_curve, plot_reconstructions
from ecoae.features.spectrogram import ImageRecipe, read_spectrograms, render_segments
from ecoae.settings import TrainingSettings
from ecoae.store import SEGMENT_KEY, read_partition, write_parquet_atomic

log = logging.getLogger(__name__)

#: Columns of the training-sample file: the segment key, its time and its partition.
SAMPLE_COLUMNS = SEGMENT_KEY + ["start_time", "duration", "site", "date", "path", "offset"]
CHECKPOINT_FORMAT = "ecoae-autoencoder/1"


# --------------------------------------------------------------------------- sample


def draw_training_sample(segment_files: list[str | Path], sample_size: int, seed: int) -> pd.DataFrame:
    """Draw a seeded uniform sample of segments (without replacement) from segment stores.

    The result does not depend on the order of ``segment_files``: segments are
    sorted by partition and key before drawing. All segments are taken when there
    are fewer than ``sample_size``.

    Returns
    -------
    DataFrame
        :data:`SAMPLE_COLUMNS`, sorted by site, date, start time.
    """
    if not segment_files:
        raise ValueError("no segment store files to draw a training sample from; run the segment step first")
    frames = [read_partition(path)[SAMPLE_COLUMNS] for path in segment_files]
    population = pd.concat(frames, ignore_index=True)
    order = ["site", "date", "start_time", "recording_id", "segment_index"]
    population = population.sort_values(order, kind="stable").reset_index(drop=True)
    if len(population) == 0:
        raise ValueError("the segment stores hold no segments; nothing to train on")
    rng = np.random.default_rng(seed)
    take = min(int(sample_size), len(population))
    chosen = np.sort(rng.choice(len(population), size=take, replace=False))
    log.info("training sample: %d of %d segments (seed %d)", take, len(population), seed)
    return population.iloc[chosen].reset_index(drop=True)


def sample_sha256(sample: pd.DataFrame) -> str:
    """SHA-256 of the sample's keys (recording, segment index, UTC start), order included."""
    digest = hashlib.sha256()
    starts = pd.to_datetime(sample["start_time"], utc=True).dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    for recording, index, start in zip(sample["recording_id"], sample["segment_index"], starts):
        digest.update(f"{recording}\t{int(index)}\t{start}\n".encode())
    return digest.hexdigest()


def write_training_sample(sample: pd.DataFrame, path: str | Path, sample_size: int, seed: int) -> Path:
    """Write the frozen sample with how it was drawn in the Parquet metadata."""
    table = pa.Table.from_pandas(sample[SAMPLE_COLUMNS], preserve_index=False)
    info = {"sample_size": int(sample_size), "seed": int(seed), "sha256": sample_sha256(sample)}
    metadata = dict(table.schema.metadata or {})
    metadata[b"ecoae.training_sample"] = json.dumps(info).encode()
    return write_parquet_atomic(table.replace_schema_metadata(metadata), path)


def render_training_images(
    sample: pd.DataFrame, archive: str | Path, recipe: ImageRecipe, channel: str | int = "mix", threads: int = 1
) -> tuple[pd.DataFrame, np.ndarray]:
    """Render the images of the sampled segments straight from the archive.

    Training reads its own images rather than the spectrogram store, so it depends on
    the frozen sample and the image settings only: new recordings never retrain, and a
    changed setting re-renders and retrains in the same run. Sampled segments whose
    file has left the archive are dropped (and logged); training never blocks on them.

    Returns
    -------
    kept : DataFrame
        The sample rows rendered, in sample order.
    images : ndarray
        ``(len(kept), 128, 128)`` uint8.
    """
    archive = Path(archive)
    present = np.array([(archive / path).is_file() for path in sample["path"]], dtype=bool)
    if not present.all():
        log.warning("%d of %d sampled segments dropped: their files are no longer in %s",
                    int((~present).sum()), len(sample), archive)
    kept = sample[present].reset_index(drop=True)
    if kept.empty:
        raise ValueError(f"none of the sampled segments' files is in {archive}; delete the model folder to draw a new sample")
    return kept, render_segments(kept, archive, recipe, channel, threads, progress=True)


def split_validation(sample: pd.DataFrame, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of validation rows: whole recordings, about ``fraction`` of the rows.

    At least one recording is held out when ``fraction > 0`` and there are two or
    more recordings; none otherwise.
    """
    mask = np.zeros(len(sample), dtype=bool)
    recordings = sample["recording_id"].to_numpy()
    unique = np.unique(recordings)
    if fraction <= 0 or len(unique) < 2:
        return mask
    rng = np.random.default_rng(seed)
    target = fraction * len(sample)
    held: list[str] = []
    counts = pd.Series(recordings).value_counts()
    for recording in rng.permutation(unique):
        if sum(counts[r] for r in held) >= target:
            break
        held.append(recording)
    held = held[: len(unique) - 1] or held[:1]
    return np.isin(recordings, held)


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
) -> Path:
    """Write weights + architecture + config + versions + sample hash, atomically.

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

    Writes ``model.pt`` (see :func:`save_checkpoint`), ``history.tsv``,
    ``loss_curve.png`` and ``reconstructions.png`` (validation images when there are
    any). Returns the checkpoint path.
    """
    out_dir = Path(out_dir)
    keys, images, recipe = read_spectrograms(images_path)
    validation = split_validation(keys, settings.validation_fraction, settings.seed)
    log.info("training %s/%d on %d images (%d held out for validation) on %s",
             architecture.variant, architecture.feature_size, len(images), validation.sum(), device)
    model, history = train_autoencoder(images, validation, architecture, settings, device, progress)
    name = out_dir.name
    checkpoint = save_checkpoint(out_dir / "model.pt", model, settings, recipe,
                                 sample_sha256(keys), history, str(device))
    pd.DataFrame(history).to_csv(out_dir / "history.tsv", sep="\t", index=False)
    plot_loss_curve(history, out_dir / "loss_curve.png",
                    f"{name}: {architecture.variant}, {architecture.feature_size} features")
    shown = images[validation] if validation.any() else images
    rng = np.random.default_rng(settings.seed)
    picks = np.sort(rng.choice(len(shown), size=min(figure_images, len(shown)), replace=False))
    plot_reconstructions(model, shown[picks], out_dir / "reconstructions.png",
                         f"{name}: validation spectrograms (top) and reconstructions (bottom)")
    return checkpoint
