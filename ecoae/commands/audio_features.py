"""``ecoae audio-features``: every feature set computed from segment audio (``indices``,
``mfcc``, …) for one partition in one pass, each segment decoded once; and ``ecoae <set>``
for one set alone.

The workflow runs ``audio-features`` once per partition (one process that imports the
libraries once and serves every set), writing each set's store and problem table where
:class:`ecoae.layout.Layout` puts them.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from ecoae.commands.arguments import json_object, section_help
from ecoae.features.registry import AUDIO_FEATURE_SETS

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    """Add ``audio-features`` and one sub-command per registered audio feature set."""
    combined = subparsers.add_parser(
        "audio-features", help="every audio feature set of one partition in one pass (each segment decoded once)"
    )
    combined.add_argument("segments", help="segment store partition (…/segments/site=…/date=…/part-0.parquet)")
    combined.add_argument("--archive", required=True, help="folder the segments' paths are relative to")
    combined.add_argument("--audio", type=json_object, default={}, help=section_help("audio"))
    combined.add_argument("--sets", type=json_object, required=True,
                          help="JSON object: feature set name -> its config section (e.g. "
                               f'{{"indices": {{}}, "mfcc": {{"n_mfcc": 13}}}}); sets: {", ".join(AUDIO_FEATURE_SETS)}')
    combined.add_argument("--results", required=True,
                          help="results folder: writes features/<set>/ and problems/<set>/ of the segments' partition")
    combined.add_argument("--costs", help="file to write the CPU seconds of each set (and of decoding) to")
    combined.add_argument("--threads", type=int, default=1, help="worker processes (default 1)")
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
    outputs = {name: (Path(args.out), Path(args.problems))}
    return compute_sets(args.segments, args.archive, args.audio, {name: args.settings}, outputs, args.threads)


def run_audio_features(args: argparse.Namespace) -> int:
    """``ecoae audio-features``: every requested set of one partition, written to the layout's paths."""
    from ecoae.layout import Layout, partition_of

    unknown = sorted(set(args.sets) - set(AUDIO_FEATURE_SETS))
    if unknown:
        log.error("--sets: unknown feature set(s) %s; known: %s", ", ".join(unknown), ", ".join(AUDIO_FEATURE_SETS))
        return 2
    site, date = partition_of(args.segments)
    layout = Layout(args.results)
    outputs = {name: (Path(layout.features(name, site, date)), Path(layout.problems(name, site, date)))
               for name in args.sets}
    return compute_sets(args.segments, args.archive, args.audio, args.sets, outputs, args.threads, args.costs)


def compute_sets(
    segments_path: str,
    archive: str,
    audio_section: dict,
    sections: dict[str, dict],
    outputs: dict[str, tuple[Path, Path]],
    threads: int,
    costs_path: str | None = None,
) -> int:
    """Compute the sets of one partition in one pass and write each store and problem table.

    Parameters
    ----------
    segments_path : str
        The partition's segment store file.
    archive : str
        Folder the segments' paths are relative to.
    audio_section : dict
        Config section ``audio``.
    sections : dict
        Set name -> its config section.
    outputs : dict
        Set name -> (feature store file, problem table file).
    threads : int
        Worker processes.
    costs_path : str, optional
        Where to write the CPU seconds of each set (:mod:`ecoae.stage_costs`).

    Returns
    -------
    int
        Exit status: 0, or 2 for a setting ecoae cannot use (logged with the fix).
    """
    import pyarrow as pa

    from ecoae.features.segment_workers import map_segment_audio
    from ecoae.problems import write_problems
    from ecoae.settings import AudioSettings, SettingsError
    from ecoae.stage_costs import write_stage_costs
    from ecoae.store import read_partition, write_partition

    segments = read_partition(segments_path)
    started = time.perf_counter()
    try:
        audio = AudioSettings.from_mapping(audio_section, "audio")
        entries = {name: AUDIO_FEATURE_SETS[name] for name in sections}
        settings = {name: entry.settings_class().from_mapping(sections[name], entry.section)
                    for name, entry in entries.items()}
        analyses = {name: entry.make_analysis(audio, settings[name]) for name, entry in entries.items()}
    except SettingsError as error:
        log.error("%s (fix config/config.yaml or your --configfile)", error)
        return 2
    done = map_segment_audio(list(analyses.values()), segments, archive, audio.channel, threads)
    for name, entry in entries.items():
        features, problems = entry.make_table(done.results[name], analyses[name])
        table = pa.Table.from_pandas(features, preserve_index=False)
        metadata = {f"ecoae.{entry.section}": settings[name].to_json(), "ecoae.audio": audio.to_json()}
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), **metadata})
        features_path, problems_path = outputs[name]
        write_partition(table, features_path)
        write_problems(problems, problems_path)
    if costs_path:
        write_stage_costs(done.cpu_s, costs_path)
    seconds = time.perf_counter() - started
    audio_minutes = float(segments["duration"].sum()) / 60
    log.info(
        "%s: %d segments, %.2f min of audio in %.1f s (%.3f s per minute, %d threads); CPU s: %s",
        "+".join(sections), len(segments), audio_minutes, seconds,
        seconds / audio_minutes if audio_minutes else float("nan"), threads, json.dumps(
            {stage: round(value, 3) for stage, value in done.cpu_s.items()}),
    )
    return 0
