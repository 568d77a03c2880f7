"""The frozen training sample shared by every image model, its images, and the validation split.

The sample is drawn once, with a seed, from the segment stores present at that
moment, and written to ``results/models/training_sample.parquet``. The workflow never
re-draws it (new recordings do not retrain a model), every model (each auto-encoder and
the PCA baseline) is fitted on the same images rendered from it, and each model records
the sample's SHA-256 so it can be traced to its exact data.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from ecoae.features.spectrogram import ImageRecipe, render_partition
from ecoae.store import SEGMENT_KEY, read_partition, write_parquet_atomic

log = logging.getLogger(__name__)

#: Columns of the training-sample file: the segment key, its time and its partition.
SAMPLE_COLUMNS = SEGMENT_KEY + ["start_time", "duration", "site", "date", "path", "offset"]


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
    file has left the archive, or whose audio can no longer be used, are dropped (and
    logged); training never blocks on them.

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
    kept, images, problems, _ = render_partition(kept, archive, recipe, channel, threads)
    for problem in problems.itertuples(index=False):
        log.warning("sampled segment dropped: %s at %g s: %s", problem.path, problem.offset, problem.reason)
    if kept.empty:
        raise ValueError("none of the sampled segments' audio can be used (reasons above); "
                         "delete the model folder to draw a new sample")
    return kept, images


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
