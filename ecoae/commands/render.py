"""``ecoae render``: stored spectrogram images as PNG figures, for a person to look at.

Segments are chosen by recording id, by file path (as in the archive), by site, by a
local time range or a local date and time, or drawn at random; the choices combine,
each narrowing the last (see :mod:`ecoae.commands.segment_choice`).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ecoae.commands.arguments import timestamp

log = logging.getLogger(__name__)

#: Every option that chooses segments.
CHOICES = ("recording_id", "path", "segment_index", "site", "start", "end", "at", "sample")
#: Choices that need the segment store (file paths and local times are there, not in the images' keys).
SEGMENT_STORE_CHOICES = ("path", "site", "start", "end", "at")


def register(subparsers) -> None:
    """Add the ``render`` sub-command to ``subparsers``."""
    render = subparsers.add_parser(
        "render", help="save spectrogram images as PNG for a person to look at",
        description="Save stored spectrogram images as labelled PNG figures. Choose segments by recording id, "
        "file path, site, local time range or local date and time, or draw them at random; the choices combine.",
    )
    render.add_argument("spectrograms", help="a spectrogram store file, or a folder searched recursively "
                                             "(e.g. results/spectrograms)")
    render.add_argument("--out-dir", required=True, help="folder for the PNG files")
    render.add_argument("--segments", metavar="STORE",
                        help="segment store folder or file, read by --path, --site, --start, --end and --at "
                             "(default: the segments store beside the spectrogram store, results/segments)")
    render.add_argument("--recording-id", help="only this recording's segments")
    render.add_argument("--path", help="only the segments of this recording file: its path relative to the archive "
                                       "(as in results/inventory/recordings.parquet) or an absolute path inside it")
    render.add_argument("--segment-index", type=int, help="only this segment of each chosen recording (0 = first)")
    render.add_argument("--site", help="only this site's segments")
    render.add_argument("--start", type=timestamp, metavar="TIME",
                        help="only segments that end after TIME: local date and time, e.g. '2024-05-01 06:00' "
                             "(a time with a zone, e.g. '2024-05-01T04:00Z', is compared in UTC)")
    render.add_argument("--end", type=timestamp, metavar="TIME", help="only segments that start before TIME (as --start)")
    render.add_argument("--at", type=timestamp, metavar="TIME",
                        help="only the segment that contains TIME at each site, e.g. '2024-05-01 06:30' (as --start)")
    render.add_argument("--sample", type=int, help="render this many of the chosen segments, drawn at random")
    render.add_argument("--seed", type=int, default=0, help="seed of --sample (default 0)")
    render.set_defaults(handler=run_render)


def run_render(args: argparse.Namespace) -> int:
    """Write the chosen spectrograms as labelled PNG figures; print their paths."""
    from ecoae.commands.segment_choice import NoSegment, choose, image_keys, segment_store_beside, with_segment_columns
    from ecoae.features.spectrogram import read_spectrograms
    from ecoae.features.spectrogram_png import save_spectrogram_png

    given = [name for name in CHOICES if getattr(args, name) is not None]
    if not given:
        log.error("say which segments: --recording-id, --path, --site, --start/--end, --at or --sample N")
        return 2
    source = Path(args.spectrograms)
    files = [source] if source.is_file() else sorted(source.rglob("part-0.parquet"))
    if not files:
        log.error("no spectrogram store files at %s; run the spectrogram step first", source)
        return 1
    try:
        keys = image_keys(files)
        if set(given) & set(SEGMENT_STORE_CHOICES):
            store = Path(args.segments) if args.segments else segment_store_beside(source.resolve())
            if store is None:
                raise NoSegment("--path, --site, --start, --end and --at read the segment store: give --segments")
            keys = with_segment_columns(keys, store)
        table = choose(keys, args)
    except NoSegment as error:
        log.error("%s", error)
        return 1
    out_dir = Path(args.out_dir)
    for number, rows in table.groupby("store_file", sort=True):
        stored_keys, images, recipe = read_spectrograms(files[number])
        for row in rows.itertuples(index=False):
            print(save_spectrogram_png(images[row.store_row], stored_keys.iloc[row.store_row], recipe, out_dir))
    return 0
