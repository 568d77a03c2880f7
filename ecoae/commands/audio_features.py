"""``ecoae audio-features``: every feature set computed from segment audio (``indices``,
``mfcc``, …), and the spectrogram images, for partitions in one pass each, each segment
decoded once; and ``ecoae <set>`` for one set of one partition.

The workflow runs ``audio-features`` once per batch of partitions (:mod:`ecoae.batches`:
one process that imports the libraries once and serves every set and every partition),
writing each set's store and problem table where :class:`ecoae.layout.Layout` puts them.
With ``--spectrograms`` the same pass renders the images the image models encode
(``spectrograms/`` and ``problems/spectrograms/``), so the image job never reads audio.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any, NamedTuple

from ecoae.commands.arguments import add_batch_arguments, json_object, section_help
from ecoae.features.registry import AUDIO_FEATURE_SETS

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    """Add ``audio-features`` and one sub-command per registered audio feature set."""
    combined = subparsers.add_parser(
        "audio-features", help="every audio feature set of partitions in one pass each (each segment decoded once)"
    )
    combined.add_argument("segments", nargs="*",
                          help="segment store partition(s) (…/segments/site=…/date=…/part-0.parquet)")
    combined.add_argument("--archive", required=True, help="folder the segments' paths are relative to")
    combined.add_argument("--audio", type=json_object, default={}, help=section_help("audio"))
    combined.add_argument("--sets", type=json_object, required=True,
                          help="JSON object: feature set name -> its config section (e.g. "
                               f'{{"indices": {{}}, "mfcc": {{"n_mfcc": 13}}}}); sets: {", ".join(AUDIO_FEATURE_SETS)}')
    combined.add_argument("--results", required=True,
                          help="results folder: writes features/<set>/ and problems/<set>/ of the segments' partition")
    combined.add_argument("--spectrograms", type=json_object, metavar="SETTINGS",
                          help="also render the spectrogram images in the same pass (writes spectrograms/ and "
                               "problems/spectrograms/ of the partition): " + section_help("spectrogram"))
    combined.add_argument("--costs", help="file to write the CPU seconds of each set (and of decoding) to")
    combined.add_argument("--threads", type=int, default=1, help="worker processes (default 1)")
    add_batch_arguments(combined)
    combined.set_defaults(handler=run_audio_features)
    for entry in AUDIO_FEATURE_SETS.values():
        parser = subparsers.add_parser(entry.name, help=entry.summary)
        parser.add_argument("segments", help="segment store partition (…/site=…/date=…/part-0.parquet)")
        parser.add_argument("--archive", required=True, help="folder the segments' paths are relative to")
        parser.add_argument("--audio", type=json_object, default={}, help=section_help("audio"))
        parser.add_argument("--settings", type=json_object, default={}, help=section_help(entry.section))
        parser.add_argument("--threads", type=int, default=1, help="worker processes (default 1)")
        parser.add_argument("--out", required=True, help="feature store partition file to write")
        parser.add_argument("--problems", required=True,
                            help="problem table to write: segments whose audio could not be used, with reasons")
        parser.set_defaults(handler=lambda args, name=entry.name: run_one_set(args, name))


def run_one_set(args: argparse.Namespace, name: str) -> int:
    """``ecoae <set>``: one set of one partition, written to ``--out`` and ``--problems``."""
    from ecoae.settings import SettingsError

    try:
        plan = plan_sets(args.audio, {name: args.settings})
    except SettingsError as error:
        log.error("%s (fix config/config.yaml or your --configfile)", error)
        return 2
    compute_partition(args.segments, args.archive, plan, {name: (Path(args.out), Path(args.problems))}, args.threads)
    return 0


def run_audio_features(args: argparse.Namespace) -> int:
    """``ecoae audio-features``: every requested set of each partition, written to the layout's paths."""
    from ecoae.batches import segment_files, serve_batch
    from ecoae.layout import Layout
    from ecoae.settings import SettingsError

    try:
        paths = segment_files(args.segments, args.segment_batch, args.results)
    except ValueError as error:
        log.error("audio-features: %s", error)
        return 2
    unknown = sorted(set(args.sets) - set(AUDIO_FEATURE_SETS))
    if not args.sets and args.spectrograms is None:
        log.error("audio-features: nothing to compute: give --sets with at least one set, or --spectrograms")
        return 2
    if unknown:
        log.error("--sets: unknown feature set(s) %s; known: %s", ", ".join(unknown), ", ".join(AUDIO_FEATURE_SETS))
        return 2
    try:
        plan = plan_sets(args.audio, args.sets, args.spectrograms)
    except SettingsError as error:
        log.error("%s (fix config/config.yaml or your --configfile)", error)
        return 2
    layout = Layout(args.results)

    def one_partition(path: str, partition: tuple[str, str]) -> dict[str, float]:
        outputs = {name: (Path(layout.features(name, *partition)), Path(layout.problems(name, *partition)))
                   for name in args.sets}
        if args.spectrograms is not None:
            from ecoae.features.spectrogram import RENDER_STAGE

            outputs[RENDER_STAGE] = (Path(layout.spectrograms(*partition)),
                                     Path(layout.problems(RENDER_STAGE, *partition)))
        return compute_partition(path, args.archive, plan, outputs, args.threads)

    serve_batch(paths, one_partition, args.costs, args.record)
    return 0


class SetPlan(NamedTuple):
    """What one pass computes: the audio settings, and per set its registry entry,
    settings and analysis; when the pass also renders spectrograms, their analysis is
    under ``analyses[RENDER_STAGE]`` (:mod:`ecoae.features.spectrogram`), its settings
    the image recipe."""

    audio: Any
    entries: dict[str, Any]
    settings: dict[str, Any]
    analyses: dict[str, Any]


def plan_sets(audio_section: dict, sections: dict[str, dict], spectrogram_section: dict | None = None) -> SetPlan:
    """Check the settings of the requested sets and build their analyses.

    Parameters
    ----------
    audio_section : dict
        Config section ``audio``.
    sections : dict
        Set name -> its config section.
    spectrogram_section : dict, optional
        Config section ``spectrogram``: the pass also renders the images.

    Raises
    ------
    SettingsError
        A setting ecoae cannot use (the message names it).
    """
    from ecoae.settings import AudioSettings

    audio = AudioSettings.from_mapping(audio_section, "audio")
    entries = {name: AUDIO_FEATURE_SETS[name] for name in sections}
    settings = {name: entry.settings_class().from_mapping(sections[name], entry.section)
                for name, entry in entries.items()}
    analyses = {name: entry.make_analysis(audio, settings[name]) for name, entry in entries.items()}
    if spectrogram_section is not None:
        from ecoae.features.spectrogram import RENDER_STAGE, ImageRecipe, image_analysis
        from ecoae.settings import SpectrogramSettings

        spectrogram = SpectrogramSettings.from_mapping(spectrogram_section, "spectrogram")
        analyses[RENDER_STAGE] = image_analysis(ImageRecipe.from_settings(audio, spectrogram))
    return SetPlan(audio, entries, settings, analyses)


def compute_partition(
    segments_path: str,
    archive: str,
    plan: SetPlan,
    outputs: dict[str, tuple[Path, Path]],
    threads: int,
) -> dict[str, float]:
    """Compute the sets of one partition in one pass and write each store and problem table.

    Parameters
    ----------
    segments_path : str
        The partition's segment store file.
    archive : str
        Folder the segments' paths are relative to.
    plan : SetPlan
        The sets to compute (:func:`plan_sets`).
    outputs : dict
        Set name -> (feature store file, problem table file); when the plan renders
        images, ``RENDER_STAGE`` -> (spectrogram store file, problem table file).
    threads : int
        Worker processes.

    Returns
    -------
    dict
        CPU seconds of decoding and of each set (:mod:`ecoae.stage_costs`).
    """
    import pyarrow as pa

    from ecoae.features.segment_workers import map_segment_audio
    from ecoae.problems import write_problems
    from ecoae.store import read_partition, write_partition

    segments = read_partition(segments_path)
    started = time.perf_counter()
    done = map_segment_audio(list(plan.analyses.values()), segments, archive, plan.audio.channel, threads)
    for name, entry in plan.entries.items():
        features, problems = entry.make_table(done.results[name], plan.analyses[name])
        table = pa.Table.from_pandas(features, preserve_index=False)
        metadata = {f"ecoae.{entry.section}": plan.settings[name].to_json(), "ecoae.audio": plan.audio.to_json()}
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), **metadata})
        features_path, problems_path = outputs[name]
        write_partition(table, features_path)
        write_problems(problems, problems_path)
    from ecoae.features.spectrogram import RENDER_STAGE, images_of, write_spectrograms

    if RENDER_STAGE in plan.analyses:
        rendered = done.results[RENDER_STAGE]
        store_path, problems_path = outputs[RENDER_STAGE]
        write_spectrograms(store_path, segments[rendered.kept].reset_index(drop=True), images_of(rendered),
                           plan.analyses[RENDER_STAGE].settings)
        write_problems(rendered.problems, problems_path)
    seconds = time.perf_counter() - started
    audio_minutes = float(segments["duration"].sum()) / 60
    log.info(
        "%s of %s: %d segments, %.2f min of audio in %.1f s (%.3f s per minute, %d threads); CPU s: %s",
        "+".join(plan.analyses), segments_path, len(segments), audio_minutes, seconds,
        seconds / audio_minutes if audio_minutes else float("nan"), threads, json.dumps(
            {stage: round(value, 3) for stage, value in done.cpu_s.items()}),
    )
    return done.cpu_s
