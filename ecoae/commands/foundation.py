"""Sub-commands of the foundation: demo archive, inventory, segmentation."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ecoae.commands.arguments import json_object

log = logging.getLogger("ecoae")


def _demo(args: argparse.Namespace) -> int:
    from ecoae.archive.demo import generate_demo_archive

    manifest = generate_demo_archive(
        Path(args.out), sites=args.sites, days=args.days, interval_minutes=args.interval_minutes,
        recording_seconds=args.recording_seconds, sample_rate=args.sample_rate, seed=args.seed,
    )
    log.info("demo archive: %d files in %s", len(manifest["files"]), args.out)
    return 0


def _inventory(args: argparse.Namespace) -> int:
    from ecoae.archive.inventory import build_inventory, prune_orphan_partitions, write_inventory

    inventory = build_inventory(args.archive, args.settings, args.min_seconds, args.threads, args.out_dir)
    counts = write_inventory(inventory, args.out_dir)
    if args.prune_results:
        for folder in prune_orphan_partitions(args.prune_results, inventory.partitions()):
            log.info("removed %s: its recordings are no longer in the archive", folder)
    quarantine = inventory.quarantine
    for row in quarantine.itertuples(index=False):
        log.warning("quarantined %s: %s", row.path, row.reason)
    log.info(
        "inventory: %d recordings in %d partitions (%d new or changed, %d removed); %d files quarantined",
        len(inventory.recordings), counts["partitions"], counts["written"], counts["removed"], len(quarantine),
    )
    return 0


def _segment(args: argparse.Namespace) -> int:
    from ecoae.archive.segments import segment_recordings
    from ecoae.store import read_parquet, write_parquet_atomic

    recordings = read_parquet(args.manifest)
    segments = segment_recordings(recordings, args.segment_seconds, args.min_segment_seconds, args.partial)
    write_parquet_atomic(segments, args.out)
    log.info("%d recordings -> %d segments -> %s", len(recordings), len(segments), args.out)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``demo``, ``inventory`` and ``segment`` to ``subparsers``."""
    demo = subparsers.add_parser("demo", help="generate the synthetic demo archive")
    demo.add_argument("--out", default="demo_archive", help="output folder (default: demo_archive)")
    demo.add_argument("--sites", type=int, default=3)
    demo.add_argument("--days", type=int, default=2)
    demo.add_argument("--interval-minutes", type=int, default=120)
    demo.add_argument("--recording-seconds", type=float, default=60)
    demo.add_argument("--sample-rate", type=int, default=16000)
    demo.add_argument("--seed", type=int, default=7)
    demo.set_defaults(handler=_demo)

    inventory = subparsers.add_parser(
        "inventory", help="scan an archive: recordings, quarantine, partitions")
    inventory.add_argument("archive", help="folder of recordings")
    inventory.add_argument("--out-dir", required=True, help="output folder, e.g. results/inventory")
    inventory.add_argument("--prune-results", metavar="RESULTS",
                           help="workflow results folder whose store partitions are removed when "
                                "their recordings have left the archive (the workflow passes it)")
    inventory.add_argument("--settings", type=json_object, default={},
                           help="the inventory config section as JSON")
    inventory.add_argument("--min-seconds", type=float, default=1.0,
                           help="quarantine recordings shorter than this (default 1)")
    inventory.add_argument("--threads", type=int, default=4)
    inventory.set_defaults(handler=_inventory)

    segment = subparsers.add_parser("segment", help="cut one partition's recordings into segments")
    segment.add_argument("manifest", help="partition manifest (results/inventory/partitions/...)")
    segment.add_argument("--out", required=True, help="segment store file to write")
    segment.add_argument("--segment-seconds", type=float, default=60)
    segment.add_argument("--min-segment-seconds", type=float, default=1)
    segment.add_argument("--partial", choices=["keep", "drop"], default="keep")
    segment.set_defaults(handler=_segment)
