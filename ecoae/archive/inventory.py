"""Scan an archive into a recordings table, a quarantine table and partitions.

Every audio file under the archive is probed (headers only, in parallel threads)
and either becomes a row of the recordings table, with site, start time, duration
and recorder, or a row of the quarantine table with the reason it cannot be used.
Each recording belongs to a partition (site, local date): the unit of work of all
later rules. A per-partition manifest is written only when its content changed,
so Snakemake re-runs exactly the partitions that gained, lost or changed files.

Files unchanged since the previous inventory (same path, size and modification
time, same settings) are not probed again.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ecoae.archive.fingerprint import iter_audio_files
from ecoae.archive.metadata import FileMetadata, compile_patterns, from_filename, merge
from ecoae.archive.probe import Unusable, probe
from ecoae.layout import partition_folder
from ecoae.settings import InventorySettings
from ecoae.store import write_parquet_atomic

log = logging.getLogger(__name__)

RECORDING_COLUMNS = [
    "recording_id", "path", "site", "date", "start_time", "local_start", "timezone",
    "time_source", "duration", "sample_rate", "channels", "frames", "format",
    "recorder", "serial", "file_size", "file_mtime_ns",
]
QUARANTINE_COLUMNS = ["path", "site", "reason", "file_size", "file_mtime_ns"]

@dataclass
class Inventory:
    """Result of :func:`build_inventory`.

    Attributes
    ----------
    recordings : DataFrame
        One row per usable recording (:data:`RECORDING_COLUMNS`).
    quarantine : DataFrame
        One row per file set aside (:data:`QUARANTINE_COLUMNS`).
    settings_hash : str
        Hash of the settings used; a later inventory reuses rows only under the same hash.
    """

    recordings: pd.DataFrame
    quarantine: pd.DataFrame
    settings_hash: str = ""

    def partitions(self) -> pd.DataFrame:
        """Partitions with their recording count and seconds of audio, sorted."""
        grouped = self.recordings.groupby(["site", "date"], sort=True)
        return grouped.agg(recordings=("recording_id", "size"), seconds=("duration", "sum")).reset_index()


def recording_id(relative_path: str) -> str:
    """Stable id of a recording: 16 hex digits of the SHA-1 of its archive-relative path."""
    return hashlib.sha1(relative_path.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def _zone(name: str, key: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"config {key}: unknown time zone {name!r}; use an IANA name such as "
            "'Europe/Paris', 'America/Bogota' or 'UTC'"
        ) from None


def _zone_label(moment: datetime) -> str:
    zone = moment.tzinfo
    if isinstance(zone, ZoneInfo):
        return zone.key
    offset = moment.utcoffset()
    if not offset:
        return "UTC"
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


class _Resolver:
    """Turns a file's path and header into a recordings row under given settings."""

    def __init__(self, archive: Path, settings: dict[str, Any], min_seconds: float):
        self.archive = archive
        self.settings = settings
        self.min_seconds = min_seconds
        self.site_regex = re.compile(settings["site_pattern"])
        if "site" not in self.site_regex.groupindex:
            raise ValueError(
                f"config inventory.site_pattern {settings['site_pattern']!r} has no (?P<site>...) group"
            )
        self.patterns = compile_patterns(settings["filename_regex"])
        self.default_zone = _zone(settings["timezone"], "inventory.timezone")
        self.site_zones = {
            site: _zone(name, f"inventory.site_timezones.{site}")
            for site, name in settings["site_timezones"].items()
        }

    def site(self, relative: str) -> str:
        match = self.site_regex.search(relative)
        return match["site"] if match and match["site"] else self.archive.name

    def row(self, relative: str, size: int, mtime_ns: int) -> dict[str, Any]:
        """Probe one file; raises :class:`Unusable` when it must be quarantined."""
        path = self.archive / relative
        header = probe(path, self.settings["accept_truncated"])
        if header.duration < self.min_seconds:
            raise Unusable(
                f"too short: {header.duration:.3f} s of audio, less than "
                f"segments.min_segment_seconds = {self.min_seconds:g} s"
            )
        site = self.site(relative)
        zone = self.site_zones.get(site, self.default_zone)
        meta = merge(header.embedded, from_filename(Path(relative).stem, self.patterns))
        if meta.start is None:
            if self.settings["missing_time"] == "quarantine":
                raise Unusable(
                    "no start time in the file name or metadata; rename it (e.g. YYYYMMDD_HHMMSS.wav), "
                    "add a inventory.filename_regex, or set inventory.missing_time: mtime"
                )
            meta = FileMetadata(
                datetime.fromtimestamp(mtime_ns / 1e9, tz=timezone.utc), "file_mtime",
                meta.recorder, meta.serial,
            )
        start = meta.start if meta.start.tzinfo else meta.start.replace(tzinfo=zone)
        if meta.source == "file_mtime":
            start = start.astimezone(zone)
        local = start.replace(tzinfo=None)
        return {
            "recording_id": recording_id(relative),
            "path": relative,
            "site": site,
            "date": local.date().isoformat(),
            "start_time": pd.Timestamp(start).tz_convert("UTC"),
            "local_start": pd.Timestamp(local),
            "timezone": _zone_label(start),
            "time_source": meta.source,
            "duration": header.duration,
            "sample_rate": header.sample_rate,
            "channels": header.channels,
            "frames": header.frames,
            "format": header.format,
            "recorder": meta.recorder,
            "serial": meta.serial,
            "file_size": size,
            "file_mtime_ns": mtime_ns,
        }


def _settings_hash(settings: dict[str, Any], min_seconds: float) -> str:
    text = json.dumps({"settings": settings, "min_seconds": min_seconds}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _previous_rows(out_dir: Path, settings_hash: str) -> dict[tuple[str, int, int], dict]:
    """Rows of the previous inventory made with the same settings, keyed by (path, size, mtime)."""
    cached: dict[tuple[str, int, int], dict] = {}
    for name in ("recordings.parquet", "quarantine.parquet"):
        path = out_dir / name
        if not path.exists():
            continue
        table = pq.read_table(path)
        meta = table.schema.metadata or {}
        if meta.get(b"ecoae_settings_hash", b"").decode() != settings_hash:
            return {}
        for row in table.to_pandas().to_dict("records"):
            cached[(row["path"], int(row["file_size"]), int(row["file_mtime_ns"]))] = row
    return cached


def build_inventory(
    archive: str | Path,
    settings: InventorySettings | dict | None = None,
    min_seconds: float = 1.0,
    threads: int = 4,
    previous_dir: str | Path | None = None,
) -> Inventory:
    """Probe every audio file of an archive.

    Parameters
    ----------
    archive : str or Path
        Root folder of the archive.
    settings : dict, optional
        The ``inventory`` config section (default: :class:`~ecoae.settings.InventorySettings`).
    min_seconds : float
        Recordings shorter than this are quarantined (they would give no segment).
    threads : int
        Files probed in parallel (probing is I/O-bound).
    previous_dir : str or Path, optional
        Folder of a previous inventory; its rows are reused for unchanged files.

    Returns
    -------
    Inventory
    """
    archive = Path(archive).resolve()
    if not archive.is_dir():
        raise FileNotFoundError(
            f"archive folder {archive} does not exist; pass --config archive=/path/to/recordings"
        )
    if not isinstance(settings, InventorySettings):
        settings = InventorySettings.from_mapping(settings, "inventory")
    settings = settings.canonical()
    resolver = _Resolver(archive, settings, min_seconds)
    settings_hash = _settings_hash(settings, min_seconds)
    cached = _previous_rows(Path(previous_dir), settings_hash) if previous_dir else {}

    listing = []
    for entry in iter_audio_files(archive, settings["extensions"]):
        stat = entry.stat()
        listing.append((Path(entry.path).relative_to(archive).as_posix(), stat.st_size, stat.st_mtime_ns))

    def examine(item: tuple[str, int, int]) -> tuple[str, dict]:
        if item in cached:
            row = cached[item]
            return ("quarantine" if "reason" in row else "recording"), row
        relative, size, mtime_ns = item
        try:
            return "recording", resolver.row(relative, size, mtime_ns)
        except Unusable as reason:
            return "quarantine", {"path": relative, "site": resolver.site(relative),
                                  "reason": str(reason), "file_size": size, "file_mtime_ns": mtime_ns}
        except OSError as error:
            return "quarantine", {"path": relative, "site": resolver.site(relative),
                                  "reason": f"cannot be read: {error.strerror or error}",
                                  "file_size": size, "file_mtime_ns": mtime_ns}

    recordings, quarantine = [], []
    reused = sum(item in cached for item in listing)
    log.info("%d audio files under %s (%d unchanged since the last inventory)", len(listing), archive, reused)
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        for kind, row in pool.map(examine, listing, chunksize=64):
            (recordings if kind == "recording" else quarantine).append(row)

    recordings_frame = pd.DataFrame(recordings, columns=RECORDING_COLUMNS)
    recordings_frame["start_time"] = pd.to_datetime(recordings_frame["start_time"], utc=True)
    recordings_frame["local_start"] = pd.to_datetime(recordings_frame["local_start"])
    quarantine_frame = pd.DataFrame(quarantine, columns=QUARANTINE_COLUMNS)
    return Inventory(recordings_frame, quarantine_frame, settings_hash)


def _table(frame: pd.DataFrame, settings_hash: str) -> pa.Table:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return table.replace_schema_metadata({**(table.schema.metadata or {}),
                                          b"ecoae_settings_hash": settings_hash.encode()})


def _write_if_changed(frame: pd.DataFrame, path: Path) -> bool:
    """Write a partition manifest unless the file already holds exactly these bytes."""
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buffer)
    content = buffer.getvalue()
    if path.exists() and path.read_bytes() == content:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(content)
    os.replace(temporary, path)
    return True


def write_inventory(inventory: Inventory, out_dir: str | Path) -> dict[str, int]:
    """Write the recordings, quarantine and partition tables and the partition manifests.

    Manifests go to ``out_dir/partitions/site=<site>/date=<date>.parquet`` and are
    rewritten only when their content changes; manifests of partitions that no
    longer exist are removed.

    Parameters
    ----------
    inventory : Inventory
        From :func:`build_inventory`.
    out_dir : str or Path
        Output folder (``results/inventory``).

    Returns
    -------
    dict
        Counts: ``partitions``, ``written`` (manifests new or changed), ``removed``.
    """
    out_dir = Path(out_dir)
    settings_hash = inventory.settings_hash
    recordings = inventory.recordings.sort_values(["site", "start_time", "path"]).reset_index(drop=True)
    write_parquet_atomic(_table(recordings, settings_hash), out_dir / "recordings.parquet")
    write_parquet_atomic(_table(inventory.quarantine, settings_hash), out_dir / "quarantine.parquet")

    manifest_root = out_dir / "partitions"
    wanted, written = set(), 0
    for (site, date), rows in recordings.groupby(["site", "date"], sort=True):
        path = manifest_root / f"{partition_folder(site, date)}.parquet"
        wanted.add(path)
        written += _write_if_changed(rows.reset_index(drop=True), path)
    removed = 0
    if manifest_root.exists():
        for stale in manifest_root.glob("site=*/date=*.parquet"):
            if stale not in wanted:
                stale.unlink()
                removed += 1

    partitions = inventory.partitions()
    temporary = out_dir / f".partitions.tsv.{os.getpid()}.tmp"
    partitions.to_csv(temporary, sep="\t", index=False)
    os.replace(temporary, out_dir / "partitions.tsv")
    return {"partitions": len(partitions), "written": written, "removed": removed}


def summary_line(inventory_dir: str | Path) -> str | None:
    """One line for the end of a run: recordings used and files quarantined.

    Parameters
    ----------
    inventory_dir : str or Path
        ``results/inventory``.

    Returns
    -------
    str or None
        ``None`` when no inventory has been written yet.
    """
    inventory_dir = Path(inventory_dir)
    recordings, quarantine = inventory_dir / "recordings.parquet", inventory_dir / "quarantine.parquet"
    if not (recordings.exists() and quarantine.exists()):
        return None
    used = pq.read_metadata(recordings).num_rows
    set_aside = pq.read_metadata(quarantine).num_rows
    line = f"ecoae: {used} recordings used, {set_aside} files quarantined"
    return line + (f" (reasons in {quarantine})" if set_aside else "")


#: Stores laid out by partition under the results folder (``*`` = one folder per feature set).
PARTITIONED_STORES = ("segments", "spectrograms", "features/*")


def prune_orphan_partitions(results_dir: str | Path, partitions: pd.DataFrame) -> list[Path]:
    """Delete store partitions whose (site, date) is no longer in the archive.

    When every recording of a day is removed from the archive, its partition leaves
    the inventory; this removes its folders from every partitioned store so that a
    reader of the whole store (dask, pyarrow) no longer sees its rows.

    Parameters
    ----------
    results_dir : str or Path
        The workflow's results folder.
    partitions : DataFrame
        Current partitions (``site``, ``date`` columns), from :meth:`Inventory.partitions`.

    Returns
    -------
    list of Path
        The partition folders removed.
    """
    results_dir = Path(results_dir)
    keep = {partition_folder(site, date) for site, date in zip(partitions["site"], partitions["date"])}
    removed = []
    for store in PARTITIONED_STORES:
        for folder in sorted(results_dir.glob(f"{store}/site=*/date=*")):
            key = f"{folder.parent.name}/{folder.name}"
            if folder.is_dir() and key not in keep:
                for child in folder.iterdir():
                    child.unlink()
                folder.rmdir()
                removed.append(folder)
        for site_folder in results_dir.glob(f"{store}/site=*"):
            if site_folder.is_dir() and not any(site_folder.iterdir()):
                site_folder.rmdir()
    return removed
