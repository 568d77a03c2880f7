"""``ecoae <set>`` for every feature set computed from segment audio (``indices``, ``mfcc``, …).

One sub-command per entry of :data:`ecoae.features.registry.AUDIO_FEATURE_SETS`, all
with the same arguments: the workflow's rule for these sets calls them alike.
"""

from __future__ import annotations

import argparse
import logging
import time

from ecoae.commands.arguments import json_object, section_help
from ecoae.features.registry import AUDIO_FEATURE_SETS, AudioFeatureSet

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    """Add one sub-command per registered audio feature set to ``subparsers``."""
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
        parser.set_defaults(handler=lambda args, entry=entry: run_feature_set(args, entry))


def run_feature_set(args: argparse.Namespace, entry: AudioFeatureSet) -> int:
    """Compute one partition of ``entry`` and write its store file."""
    import pyarrow as pa

    from ecoae.problems import write_problems
    from ecoae.settings import AudioSettings, SettingsError
    from ecoae.store import read_partition, write_partition

    segments = read_partition(args.segments)
    started = time.perf_counter()
    try:
        audio = AudioSettings.from_mapping(args.audio, "audio")
        settings = entry.settings_class().from_mapping(args.settings, entry.section)
        frame, problems = entry.compute()(segments, args.archive, audio, settings, args.threads)
    except SettingsError as error:
        log.error("%s (fix config/config.yaml or your --configfile)", error)
        return 2
    seconds = time.perf_counter() - started
    audio_minutes = float(segments["duration"].sum()) / 60
    table = pa.Table.from_pandas(frame, preserve_index=False)
    metadata = {f"ecoae.{entry.section}": settings.to_json(), "ecoae.audio": audio.to_json()}
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), **metadata})
    write_partition(table, args.out)
    write_problems(problems, args.problems)
    log.info(
        "%s: %d segments, %.2f min of audio in %.1f s (%.3f s per minute, %d threads) -> %s",
        entry.name, len(frame), audio_minutes, seconds,
        seconds / audio_minutes if audio_minutes else float("nan"), args.threads, args.out,
    )
    return 0
