"""``ecoae indices`` and ``ecoae mfcc``: the reference feature sets of one partition."""

from __future__ import annotations

import argparse
import json
import logging
import time

from ecoae.commands.arguments import channel, json_object

log = logging.getLogger(__name__)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("segments", help="segment store partition (part-0.parquet)")
    parser.add_argument("--archive", required=True, help="folder the segments' paths are relative to")
    parser.add_argument("--sample-rate", type=int, default=22050, help="audio rate in Hz (default 22050)")
    parser.add_argument("--channel", type=channel, default="mix", help='"mix" or a channel index')
    parser.add_argument("--settings", type=json_object, default={},
                        help="JSON object of this stage's config section")
    parser.add_argument("--threads", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--out", required=True, help="feature store partition file to write")


def register(subparsers) -> None:
    """Add ``indices`` and ``mfcc`` to ``subparsers``."""
    indices = subparsers.add_parser(
        "indices", help="scikit-maad acoustic indices of a segment-store partition"
    )
    _add_common(indices)
    indices.set_defaults(handler=run_indices)
    mfcc = subparsers.add_parser("mfcc", help="MFCC summary statistics of a segment-store partition")
    _add_common(mfcc)
    mfcc.set_defaults(handler=run_mfcc)


def _run(args, compute, resolve, set_name: str) -> int:
    import pyarrow as pa

    from ecoae.store import read_parquet, write_parquet_atomic

    try:
        settings = resolve(args.settings)
    except ValueError as error:
        log.error("%s (fix the %s section of config/config.yaml)", error, set_name)
        return 2
    segments = read_parquet(args.segments)
    started = time.perf_counter()
    frame = compute(
        segments, args.archive, sample_rate=args.sample_rate, channel=args.channel,
        settings=settings, threads=args.threads,
    )
    seconds = time.perf_counter() - started
    audio_minutes = float(segments["duration"].sum()) / 60
    table = pa.Table.from_pandas(frame, preserve_index=False)
    metadata = {
        f"ecoae.{set_name}.settings": json.dumps(settings, sort_keys=True),
        "ecoae.sample_rate": str(args.sample_rate),
        "ecoae.channel": str(args.channel),
    }
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), **metadata})
    write_parquet_atomic(table, args.out)
    log.info(
        "%s: %d segments, %.2f min of audio in %.1f s (%.3f s per minute, %d threads) -> %s",
        set_name, len(frame), audio_minutes, seconds,
        seconds / audio_minutes if audio_minutes else float("nan"), args.threads, args.out,
    )
    return 0


def run_indices(args) -> int:
    """Handler of ``ecoae indices``."""
    from ecoae.features.indices import partition_indices, resolve_settings

    return _run(args, partition_indices, resolve_settings, "indices")


def run_mfcc(args) -> int:
    """Handler of ``ecoae mfcc``."""
    from ecoae.features.mfcc import partition_mfcc, resolve_settings

    return _run(args, partition_mfcc, resolve_settings, "mfcc")
