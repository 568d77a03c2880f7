"""Sub-commands of the foundation: demo archive, inventory, segmentation."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ecoae.commands.arguments import json_object, section_help

log = logging.getLogger("ecoae")


def _demo(args: argparse.Namespace) -> int:
    from ecoae.archive.demo import generate_demo_archive

    from ecoae.settings import DemoSettings

    demo = DemoSettings.from_mapping(args.settings, "demo")
    manifest = generate_demo_archive(Path(args.out), **demo.canonical())
    log.info("demo archive: %d files in %s", len(manifest["files"]), args.out)
    return 0


def _inventory(args: argparse.Namespace) -> int:
    from ecoae.archive.inventory import build_inventory, prune_orphan_partitions, write_inventory
    from ecoae.settings import InventorySettings, SegmentSettings

    settings = InventorySettings.from_mapping(args.settings, "inventory")
    min_seconds = SegmentSettings.from_mapping(args.segments, "segments").min_segment_seconds
    threads = args.threads or settings.threads
    inventory = build_inventory(args.archive, settings, min_seconds, threads, args.cache_dir, args.fingerprint)
    counts = write_inventory(inventory, args.out_dir, threads)
    if args.prune_results:
        for folder in prune_orphan_partitions(args.prune_results, inventory.partitions()):
            log.info("removed %s: its recordings are no longer in the archive", folder)
    quarantine = inventory.quarantine
    for row in quarantine.itertuples(index=False):
        log.warning("quarantined %s: %s", row.path, row.reason)
    log.info(
        "inventory: %d recordings in %d partitions (%d new or changed, %d removed); %d files quarantined",
        inventory.recordings_table.num_rows, counts["partitions"], counts["written"], counts["removed"], len(quarantine),
    )
    return 0


def _segment(args: argparse.Namespace) -> int:
    from ecoae.archive.segments import segment_recordings
    from ecoae.batches import write_batch_record
    from ecoae.layout import Layout, manifest_partition
    from ecoae.settings import SegmentSettings
    from ecoae.store import read_parquet, write_partition

    if (args.out is None) == (args.results is None):
        log.error("segment: give --out (one manifest) or --results (store files where the layout puts them)")
        return 2
    if args.out is not None and len(args.manifests) != 1:
        log.error("segment: --out takes one manifest, got %d; use --results for several", len(args.manifests))
        return 2
    if args.record and not args.results:
        log.error("segment: --record needs --results")
        return 2
    settings = SegmentSettings.from_mapping(args.settings, "segments")
    partitions = [manifest_partition(path) for path in args.manifests] if args.results else []
    outputs = [args.out] if args.out else [Layout(args.results).segments(*key) for key in partitions]
    for manifest, out in zip(args.manifests, outputs):
        recordings = read_parquet(manifest)
        segments = segment_recordings(
            recordings, settings.segment_seconds, settings.min_segment_seconds, settings.partial)
        write_partition(segments, out)
        log.info("%d recordings -> %d segments -> %s", len(recordings), len(segments), out)
    if args.record:
        write_batch_record(partitions, args.record)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``demo``, ``inventory`` and ``segment`` to ``subparsers``."""
    demo = subparsers.add_parser("demo", help="generate the synthetic demo archive")
    demo.add_argument("--out", default="demo_archive", help="output folder (default: demo_archive)")
    demo.add_argument("--settings", type=json_object, default={}, help=section_help("demo"))
    demo.set_defaults(handler=_demo)

    inventory = subparsers.add_parser(
        "inventory", help="scan an archive: recordings, quarantine, partitions")
    inventory.add_argument("archive", help="folder of recordings")
    inventory.add_argument("--out-dir", required=True, help="output folder, e.g. results/inventory")
    inventory.add_argument("--cache-dir", metavar="FOLDER",
                           help="folder of the inventory cache (e.g. results/.cache/inventory): files unchanged "
                                "since the last inventory are not probed again; without it, every file is probed")
    inventory.add_argument("--fingerprint", metavar="HASH",
                           help="the archive fingerprint computed with the listing kept in --cache-dir (the workflow "
                                "passes it): when the kept listing has this fingerprint, the archive is not walked "
                                "again; otherwise it is")
    inventory.add_argument("--prune-results", metavar="RESULTS",
                           help="workflow results folder whose store partitions are removed when "
                                "their recordings have left the archive (the workflow passes it)")
    inventory.add_argument("--settings", type=json_object, default={}, help=section_help("inventory"))
    inventory.add_argument("--segments", type=json_object, default={},
                           help=section_help("segments", "recordings shorter than min_segment_seconds are quarantined"))
    inventory.add_argument("--threads", type=int, help="files probed in parallel (default: inventory.threads)")
    inventory.set_defaults(handler=_inventory)

    segment = subparsers.add_parser("segment", help="cut partitions' recordings into segments")
    segment.add_argument("manifests", nargs="+", metavar="manifest",
                         help="partition manifest(s) (results/inventory/partitions/site=…/date=….parquet)")
    segment.add_argument("--out", help="segment store file to write (one manifest)")
    segment.add_argument("--results", help="results folder: writes features/segments/ of each manifest's partition")
    segment.add_argument("--record", help="with --results: batch record to write last, one line per partition")
    segment.add_argument("--settings", type=json_object, default={}, help=section_help("segments"))
    segment.set_defaults(handler=_segment)
