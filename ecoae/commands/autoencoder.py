"""Sub-commands of the image stage: images (what the workflow runs per batch of partitions:
encode the stored spectrogram images with every model in one process; ``audio-features
--spectrograms`` rendered them), and its steps alone: spectrograms, train-sample,
training-images, train, encode, fit-pca and encode-pca (the linear baseline of the same images)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ecoae.commands.arguments import add_batch_arguments, json_object, section_help
from ecoae.settings import TrainingSettings

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    """Add this stage's sub-commands to ``subparsers``."""
    spectrograms = subparsers.add_parser(
        "spectrograms", help="render a segment store partition to 128x128 spectrogram images"
    )
    spectrograms.add_argument("segments", help="segment store file (part-0.parquet) of one partition")
    spectrograms.add_argument("--archive", required=True, help="folder the segments' paths are relative to")
    spectrograms.add_argument("--out", required=True, help="spectrogram store file to write")
    spectrograms.add_argument("--problems", required=True,
                              help="problem table to write: segments whose audio could not be used, with reasons")
    _add_image_settings(spectrograms)
    spectrograms.set_defaults(handler=run_spectrograms)

    images_job = subparsers.add_parser(
        "images", help="encode partitions' stored spectrogram images with every model (one process)"
    )
    images_job.add_argument("segments", nargs="*",
                            help="segment store partition(s) (…/segments/site=…/date=…/part-0.parquet) whose "
                                 "images (results/spectrograms/, from `audio-features --spectrograms`) to encode")
    images_job.add_argument("--models", type=json_object, required=True,
                            help='JSON object: feature set -> model file, e.g. {"ae-explicit384": '
                                 '"results/models/explicit384/model.pt", "pca32": "results/models/pca32/model.npz"}')
    images_job.add_argument("--results", required=True,
                            help="results folder: reads spectrograms/ and writes features/<set>/ of the segments' "
                                 "partition")
    images_job.add_argument("--costs", help="file to write the CPU seconds of each model to")
    add_batch_arguments(images_job)
    images_job.add_argument("--batch-size", type=int, default=16,
                            help="images encoded at once (autoencoder.encode_batch_size; default 16)")
    images_job.add_argument("--device", default="auto",
                            help="'auto' (CUDA when available), 'cpu', 'cuda', 'cuda:N' or 'mps'")
    images_job.add_argument("--threads", type=int, default=1, help="CPU threads of torch (default 1)")
    images_job.set_defaults(handler=run_images)

    sample = subparsers.add_parser("train-sample", help="draw the frozen, seeded training sample of segments")
    sample.add_argument("--segments-dir", required=True, help="root of the segment store (site=*/date=*/part-0.parquet)")
    sample.add_argument("--partitions", help="the inventory's partitions.tsv: partitions to draw from "
                                             "(default: every partition folder of the segment store)")
    sample.add_argument("--out", required=True, help="training sample file to write")
    sample.add_argument("--sample-size", type=int, required=True,
                        help="segments to draw (autoencoder.sample_size); fewer when the store holds fewer")
    sample.add_argument("--seed", type=int, default=0, help="seed of the draw (autoencoder.sample_seed; default 0)")
    sample.set_defaults(handler=run_train_sample)

    images = subparsers.add_parser(
        "training-images", help="render the images of a training sample from the archive"
    )
    images.add_argument("sample", help="training sample file (from `ecoae train-sample`)")
    images.add_argument("--archive", required=True, help="folder the sample's paths are relative to")
    images.add_argument("--out", required=True, help="training image file to write")
    _add_image_settings(images)
    images.set_defaults(handler=run_training_images)

    train = subparsers.add_parser("train", help="train an auto-encoder on its training images")
    train.add_argument("images", help="training image file (from `ecoae training-images`)")
    train.add_argument("--out-dir", required=True, help="model folder: model.pt, figures, history.tsv")
    train.add_argument("--model", type=json_object, default={},
                       help=section_help("autoencoder.models", 'e.g. {"variant": "explicit", "feature_size": 384}',
                                         entry=True))
    train.add_argument("--training", type=json_object, default={}, help=section_help("autoencoder.training"))
    train.add_argument("--device", default="auto", help="'auto' (CUDA when available), 'cpu', 'cuda', 'cuda:N' or 'mps'")
    train.add_argument("--threads", type=int, default=1, help="CPU threads of torch (default 1)")
    train.add_argument("--log", metavar="FILE",
                       help="write the full log to FILE and only one line per evaluation (losses, time left) "
                            "to stderr; without it, both go to stderr")
    train.set_defaults(handler=run_train)

    encode = subparsers.add_parser("encode", help="write auto-encoder features of one partition")
    encode.add_argument("spectrograms", help="spectrogram store file of one partition")
    encode.add_argument("--checkpoint", required=True, help="model.pt from `ecoae train`")
    encode.add_argument("--out", required=True, help="feature store file to write")
    encode.add_argument("--segments", help="segment store file of the partition, to check the keys against")
    encode.add_argument("--batch-size", type=int, default=16,
                        help="images encoded at once (autoencoder.encode_batch_size; default 16)")
    encode.add_argument("--device", default="auto", help="'auto' (CUDA when available), 'cpu', 'cuda', 'cuda:N' or 'mps'")
    encode.add_argument("--threads", type=int, default=1, help="CPU threads of torch (default 1)")
    encode.set_defaults(handler=run_encode)

    fit = subparsers.add_parser("fit-pca", help="fit the PCA baseline on the training images")
    fit.add_argument("images", help="training image file (from `ecoae training-images`)")
    fit.add_argument("--out-dir", required=True, help="model folder: model.npz, quality.tsv")
    fit.add_argument("--components", type=int, required=True, help="number of components (capped by the images)")
    fit.add_argument("--validation-fraction", type=float, default=TrainingSettings.validation_fraction,
                     help="share of the sampled recordings held out (autoencoder.training.validation_fraction)")
    fit.add_argument("--seed", type=int, default=TrainingSettings.seed, help="seed of the split (autoencoder.training.seed)")
    fit.set_defaults(handler=run_fit_pca)

    project = subparsers.add_parser("encode-pca", help="write PCA features of one partition")
    project.add_argument("spectrograms", help="spectrogram store file of one partition")
    project.add_argument("--model", required=True, help="model.npz from `ecoae fit-pca`")
    project.add_argument("--out", required=True, help="feature store file to write")
    project.add_argument("--segments", help="segment store file of the partition, to check the keys against")
    project.set_defaults(handler=run_encode_pca)


def _add_image_settings(parser) -> None:
    parser.add_argument("--audio", type=json_object, default={}, help=section_help("audio"))
    parser.add_argument("--settings", type=json_object, default={}, help=section_help("spectrogram"))
    parser.add_argument("--threads", type=int, default=1,
                        help="worker processes reading and rendering segments (default 1)")


def _image_recipe(args):
    """The image recipe of ``--audio`` and ``--settings``, and the audio channel."""
    from ecoae.features.spectrogram import ImageRecipe
    from ecoae.settings import AudioSettings, SpectrogramSettings

    audio = AudioSettings.from_mapping(args.audio, "audio")
    spectrogram = SpectrogramSettings.from_mapping(args.settings, "spectrogram")
    return ImageRecipe.from_settings(audio, spectrogram), audio.channel


def run_spectrograms(args) -> int:
    """Render one partition and write its spectrogram store file."""
    from ecoae.features.spectrogram import render_partition, write_spectrograms
    from ecoae.problems import write_problems
    from ecoae.store import read_partition

    recipe, channel = _image_recipe(args)
    segments = read_partition(args.segments)
    kept, images, problems, _ = render_partition(segments, args.archive, recipe, channel, args.threads)
    write_spectrograms(args.out, kept, images, recipe)
    write_problems(problems, args.problems)
    log.info("wrote %d spectrograms to %s (%d segments left out)", len(kept), args.out, len(problems))
    return 0


def run_images(args) -> int:
    """Encode each partition's stored spectrogram images with every model."""
    from ecoae.batches import segment_files, serve_batch

    try:
        paths = segment_files(args.segments, args.segment_batch, args.results)
    except ValueError as error:
        log.error("images: %s", error)
        return 2
    try:
        serve_batch(paths, lambda path, partition: _images_of_partition(path, partition, args),
                    args.costs, args.record)
    except (FileNotFoundError, ValueError) as error:
        log.error("images: %s", error)
        return 1
    return 0


def _images_of_partition(segments_path: str, partition: tuple[str, str], args: argparse.Namespace) -> dict[str, float]:
    """Encode one partition's stored images with every model; CPU s per model."""
    from ecoae.features.image_job import encode_all
    from ecoae.features.spectrogram import check_images_follow_segments, read_spectrograms
    from ecoae.layout import Layout

    layout = Layout(args.results)
    images_path = layout.spectrograms(*partition)
    if not Path(images_path).exists():
        raise FileNotFoundError(f"{images_path} is missing: the partition's images are rendered by "
                                "`ecoae audio-features --spectrograms`; run it (or the workflow) first")
    keys, images, recipe = read_spectrograms(images_path)
    check_images_follow_segments(keys, segments_path, images_path)
    outputs = {name: layout.features(name, *partition) for name in args.models}
    costs = encode_all(keys, images, recipe, args.models, outputs, args.batch_size, args.device,
                       args.threads, source=images_path)
    log.info("%d images of %s encoded with %s; CPU s: %s", len(keys), images_path, ", ".join(args.models),
             ", ".join(f"{stage} {seconds:.2f}" for stage, seconds in costs.items()))
    return costs


def run_training_images(args) -> int:
    """Render a model's training images from its frozen sample."""
    from ecoae.features.spectrogram import write_spectrograms
    from ecoae.features.training_sample import render_training_images
    from ecoae.store import read_parquet

    recipe, channel = _image_recipe(args)
    sample = read_parquet(args.sample)
    kept, images = render_training_images(sample, args.archive, recipe, channel, args.threads)
    write_spectrograms(args.out, kept, images, recipe)
    log.info("wrote %d training images (%d sampled segments dropped) to %s", len(kept), len(sample) - len(kept), args.out)
    return 0


def run_train_sample(args) -> int:
    """Draw the training sample from every partition of the segment store."""
    from ecoae.layout import list_partitions, partition_file
    from ecoae.features.training_sample import draw_training_sample, write_training_sample

    files = [partition_file(args.segments_dir, p) for p in list_partitions(args.segments_dir, args.partitions)]
    sample = draw_training_sample(files, args.sample_size, args.seed)
    write_training_sample(sample, args.out, args.sample_size, args.seed)
    return 0


def _set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(max(1, threads))


def _evaluation_printer(name: str, console: int, also_log: bool):
    """Callback of ``train_model``: one whole line per evaluation on ``console`` (and in the log)."""
    from ecoae.commands.console import write_line
    from ecoae.features.training import progress_line

    def show(row: dict, steps: int, stopping: bool) -> None:
        line = progress_line(name, row, steps, stopping)
        write_line(console, line)
        if also_log:
            log.info(line)

    return show


def run_train(args) -> int:
    """Train one model and write its folder; one progress line per evaluation on the console."""
    from ecoae.commands.console import output_to_file
    from ecoae.features.autoencoder import Architecture, select_device
    from ecoae.features.training import train_model
    from ecoae.settings import ModelSettings, TrainingSettings

    with output_to_file(args.log) as console:
        _set_threads(args.threads)
        device = select_device(args.device)
        model = ModelSettings.from_mapping(args.model, "autoencoder.models entry")
        training = TrainingSettings.from_mapping(args.training, "autoencoder.training")
        show = _evaluation_printer(Path(args.out_dir).name, console, also_log=args.log is not None)
        train_model(args.images, args.out_dir, Architecture.from_mapping(model.architecture()), training, device,
                    progress=False, on_evaluation=show)
        log.info("model written to %s", args.out_dir)
    return 0


def run_encode(args) -> int:
    """Encode one partition with a checkpoint."""
    from ecoae.features.autoencoder import select_device
    from ecoae.features.encoding import encode_partition
    from ecoae.features.training import load_checkpoint

    _set_threads(args.threads)
    device = select_device(args.device)
    model, checkpoint = load_checkpoint(args.checkpoint, device)
    encode_partition(args.spectrograms, model, checkpoint, args.out, args.segments, args.batch_size, device)
    return 0


def run_fit_pca(args) -> int:
    """Fit the PCA on the training part of the training images; write the model and its quality."""
    import pandas as pd

    from ecoae.features.pca import fit_pca, save_pca
    from ecoae.features.quality import QUALITY_COLUMNS, REFERENCE_COMPONENTS, pca_rows, write_quality
    from ecoae.features.spectrogram import read_spectrograms
    from ecoae.features.training_sample import sample_sha256, split_validation

    keys, images, recipe = read_spectrograms(args.images)
    validation = split_validation(keys, args.validation_fraction, args.seed)
    train_images = images[~validation]
    pca = fit_pca(train_images, args.components, args.seed)
    out_dir = Path(args.out_dir)
    save_pca(out_dir / "model.npz", pca, recipe, sample_sha256(keys), args.components)
    held_out = images[validation] if validation.any() else images
    sizes = [pca.n_components_, REFERENCE_COMPONENTS]
    quality = pd.DataFrame(pca_rows(train_images, held_out, sizes, args.seed), columns=QUALITY_COLUMNS)
    write_quality(quality, out_dir / "quality.tsv")
    log.info("PCA with %d components of %d training images; quality on %d held-out images:\n%s",
             pca.n_components_, len(train_images), len(held_out), quality.to_string(index=False))
    return 0


def run_encode_pca(args) -> int:
    """Project one partition on a fitted PCA."""
    from ecoae.features.pca import encode_partition_pca

    encode_partition_pca(args.spectrograms, args.model, args.out, args.segments)
    return 0
