"""Scan an archive into a recordings table, a quarantine table and partitions.

Every audio file under the archive is probed (headers only, in parallel threads, or
processes when there are many files to probe)
and either becomes a row of the recordings table, with site, start time, duration
and recorder, or a row of the quarantine table with the reason it cannot be used.
Each recording belongs to a partition (site, local date): the unit of work of all
later rules. A per-partition manifest is written only when its content changed,
so Snakemake re-runs exactly the partitions that gained, lost or changed files.

A site's partition key (the ``site`` column, part of every store path) is its
folder name when that name is safe in paths and Snakemake patterns, else a slug
with a hash of the name (:func:`safe_site_key`); ``site_name`` keeps the name.

Each real file is one recording: a file reached by two paths (links) keeps the
first path in sorted order, and the others are quarantined as duplicates.

Files unchanged since the previous inventory (same path, size and modification
time, same settings) are not probed again: the probed rows are kept in a cache
folder that Snakemake does not clear before the inventory runs. The cache also
spares the manifests' content hashes: when the manifests were last written from the
cached rows, only the partitions whose files changed since are hashed again.

Told the archive fingerprint that Snakemake computed (``fingerprint``), the inventory
reads the listing that :func:`~ecoae.archive.fingerprint.archive_fingerprint` kept in
the cache folder under that hash instead of walking the archive again; any other
fingerprint, or none, and it walks the archive itself.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import multiprocessing
import os
import re
import uuid
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any, Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ecoae.archive.fingerprint import AudioFile, read_listing, scan_archive
from ecoae.archive.metadata import FileMetadata, compile_patterns, from_filename, merge
from ecoae.archive.probe import Unusable, probe
from ecoae.layout import partition_folder
from ecoae.settings import InventorySettings
from ecoae.store import write_parquet_atomic

log = logging.getLogger(__name__)

#: Every row the inventory produces: a recording, or (``reason`` set) a file set aside.
ROW_SCHEMA = pa.schema([
    ("recording_id", pa.string()), ("path", pa.string()), ("site", pa.string()), ("site_name", pa.string()),
    ("date", pa.string()), ("start_time", pa.timestamp("us", tz="UTC")), ("local_start", pa.timestamp("us")),
    ("timezone", pa.string()), ("time_source", pa.string()), ("time_note", pa.string()),
    ("duration", pa.float64()), ("sample_rate", pa.int64()), ("channels", pa.int64()), ("frames", pa.int64()),
    ("format", pa.string()), ("recorder", pa.string()), ("serial", pa.string()),
    ("file_size", pa.int64()), ("file_mtime_ns", pa.int64()), ("reason", pa.string()),
])
RECORDING_COLUMNS = [name for name in ROW_SCHEMA.names if name != "reason"]
QUARANTINE_COLUMNS = ["path", "site", "reason", "file_size", "file_mtime_ns"]
_QUARANTINE_SCHEMA = pa.schema([ROW_SCHEMA.field(name) for name in QUARANTINE_COLUMNS])

#: The cache of probed rows (an Arrow IPC file), in the folder given to :func:`build_inventory`.
CACHE_FILE = "rows.arrow"
_SETTINGS_HASH_KEY = b"ecoae_settings_hash"
_CONTENT_HASH_KEY = b"ecoae_content_hash"
#: Names one state of the cache: a new token each time the cache is rewritten.
_CACHE_TOKEN_KEY = b"ecoae_cache_token"
#: In the manifests' folder: the token of the cache state the manifests were last written from.
MANIFEST_TOKEN_FILE = ".cache-token"

_SAFE_SITE = re.compile(r"\w[\w .+-]*")

#: Most files probed by one task of the pool.
_CHUNK_FILES = 2000
#: From this many files to probe on, the pool is of processes: the per-file work is
#: Python code that threads, holding one interpreter lock, would run one at a time.
_PROCESS_MIN_FILES = 20000


@dataclass(frozen=True)
class CacheState:
    """How the rows of an inventory relate to the cache it started from.

    Attributes
    ----------
    before : str or None
        Token of the cache read at the start; None when there was no usable one.
    after : str or None
        Token of the cache left behind (``before`` when it was not rewritten; None
        when it could not be written).
    changed : frozenset of (str, str)
        ``(site, date)`` of the partitions that gained, lost or changed rows since the
        cache ``before``: every other partition has exactly the rows it had then.
    """

    before: str | None
    after: str | None
    changed: frozenset[tuple[str, str]]


@dataclass
class Inventory:
    """Result of :func:`build_inventory`.

    Attributes
    ----------
    recordings_table : pyarrow.Table
        One row per usable recording (:data:`RECORDING_COLUMNS`), sorted by path.
    quarantine : DataFrame
        One row per file set aside (:data:`QUARANTINE_COLUMNS`).
    settings_hash : str
        Hash of the settings used; a later inventory reuses rows only under the same hash.
    cache : CacheState or None
        What changed since the cache it started from; None when made without a cache folder.
    """

    recordings_table: pa.Table
    quarantine: pd.DataFrame
    settings_hash: str = ""
    cache: CacheState | None = None
    _frames: dict[str, pd.DataFrame] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def recordings(self) -> pd.DataFrame:
        """One row per usable recording (:data:`RECORDING_COLUMNS`), sorted by path: a DataFrame.

        Converted from :attr:`recordings_table` on first use (a second each million rows).
        """
        if "recordings" not in self._frames:
            self._frames["recordings"] = self.recordings_table.to_pandas()
        return self._frames["recordings"]

    def partitions(self) -> pd.DataFrame:
        """Partitions with their recording count and seconds of audio, sorted."""
        if "partitions" not in self._frames:  # pandas' sums (compensated), on the three columns they need
            frame = self.recordings_table.select(["site", "date", "duration"]).to_pandas()
            grouped = frame.groupby(["site", "date"], sort=True)
            self._frames["partitions"] = grouped.agg(
                recordings=("duration", "size"), seconds=("duration", "sum")).reset_index()
        return self._frames["partitions"].copy()


def recording_id(relative_path: str) -> str:
    """Stable id of a recording: 16 hex digits of the SHA-1 of its archive-relative path."""
    return hashlib.sha1(relative_path.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def safe_site_key(name: str) -> str:
    """The partition key of a site: a form of its folder name that every path accepts.

    The key is part of every store path (``site=<key>/date=<date>``) and a Snakemake
    wildcard value, where ``{}``, ``=``, ``%`` and ``/`` break things. A name made of
    word characters (any script), spaces, ``.``, ``+`` and ``-``, starting with a word
    character and not ending with a space, is its own key, so ordinary archives keep
    their names. Any other name becomes a slug of it, ``-`` and the first 8 hex digits
    of the SHA-1 of the name, so two different names never share a key in practice.

    Parameters
    ----------
    name : str
        The site's folder name (or what ``inventory.site_pattern`` captured).

    Returns
    -------
    str
        The key.

    Examples
    --------
    >>> safe_site_key("wetland 2")
    'wetland 2'
    >>> safe_site_key("a{b}c")
    'a_b_c-c334ab1d'
    """
    if _SAFE_SITE.fullmatch(name) and not name.endswith(" "):
        return name
    slug = re.sub(r"[^\w.+-]+", "_", name).strip("_. ") or "site"
    return f"{slug}-{hashlib.sha1(name.encode('utf-8', 'surrogateescape')).hexdigest()[:8]}"


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
        self.keys: dict[str, str] = {}

    def site(self, relative: str) -> tuple[str, str]:
        """``(key, name)`` of a file's site (see :func:`safe_site_key`)."""
        match = self.site_regex.search(relative)
        name = match["site"] if match and match["site"] else self.archive.name
        if name not in self.keys:
            self.keys[name] = safe_site_key(name)
        return self.keys[name], name

    def zone(self, key: str, name: str) -> ZoneInfo:
        """Time zone of a site: ``inventory.site_timezones`` names it by folder name or by key."""
        return self.site_zones.get(name, self.site_zones.get(key, self.default_zone))

    def start(self, meta: FileMetadata, mtime_ns: int, zone: ZoneInfo) -> tuple[datetime, str]:
        """Aware start time and its source; the modification time when nothing else says."""
        if meta.start is None:
            if self.settings["missing_time"] == "quarantine":
                problem = f" ({meta.problem})" if meta.problem else ""
                raise Unusable(
                    f"no start time in the file name or metadata{problem}; rename it (e.g. YYYYMMDD_HHMMSS.wav), "
                    "add a inventory.filename_regex, or set inventory.missing_time: mtime"
                )
            return datetime.fromtimestamp(mtime_ns / 1e9, tz=timezone.utc).astimezone(zone), "file_mtime"
        return (meta.start if meta.start.tzinfo else meta.start.replace(tzinfo=zone)), meta.source

    def row(self, found: AudioFile) -> dict[str, Any]:
        """Probe one file; raises :class:`Unusable` when it must be quarantined."""
        header = probe(self.archive / found.relative, self.settings["accept_truncated"])
        if header.duration < self.min_seconds:
            raise Unusable(
                f"too short: {header.duration:.3f} s of audio, less than "
                f"segments.min_segment_seconds = {self.min_seconds:g} s"
            )
        key, name = self.site(found.relative)
        stem = os.path.splitext(os.path.basename(found.relative))[0]
        meta = merge(header.embedded, from_filename(stem, self.patterns))
        start, source = self.start(meta, found.mtime_ns, self.zone(key, name))
        local = start.replace(tzinfo=None)
        return {
            "recording_id": recording_id(found.relative),
            "path": found.relative,
            "site": key,
            "site_name": name,
            "date": local.date().isoformat(),
            "start_time": start.astimezone(timezone.utc),
            "local_start": local,
            "timezone": _zone_label(start),
            "time_source": source,
            "time_note": meta.problem or "",
            "duration": header.duration,
            "sample_rate": header.sample_rate,
            "channels": header.channels,
            "frames": header.frames,
            "format": header.format,
            "recorder": meta.recorder,
            "serial": meta.serial,
            "file_size": found.size,
            "file_mtime_ns": found.mtime_ns,
        }

    def quarantined(self, found: AudioFile, reason: str) -> dict[str, Any]:
        """A quarantine row."""
        return {"path": found.relative, "site": self.site(found.relative)[0], "reason": reason,
                "file_size": found.size, "file_mtime_ns": found.mtime_ns}

    def examine(self, found: AudioFile) -> dict[str, Any]:
        """A recordings row, or a quarantine row (with ``reason``) when the file cannot be used."""
        try:
            return self.row(found)
        except Unusable as reason:
            return self.quarantined(found, str(reason))
        except OSError as error:
            return self.quarantined(found, f"cannot be read: {error.strerror or error}")


def _examine_chunk(resolver: _Resolver, files: list[AudioFile]) -> pa.Table:
    """The rows of some files (see :meth:`_Resolver.examine`), as one table."""
    return pa.Table.from_pylist([resolver.examine(found) for found in files], schema=ROW_SCHEMA)


def _pool(n_files: int, workers: int) -> Executor:
    """Threads for a few files (or one worker), processes for many."""
    if n_files < _PROCESS_MIN_FILES or workers < 2:
        return ThreadPoolExecutor(max_workers=max(1, workers))
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


def _examine_all(resolver: _Resolver, files: list[AudioFile], workers: int) -> pa.Table:
    """The rows of ``files``, in their order, probed by ``workers`` threads or processes."""
    if not files:
        return ROW_SCHEMA.empty_table()
    size = min(_CHUNK_FILES, math.ceil(len(files) / max(1, workers)))
    chunks = [files[start:start + size] for start in range(0, len(files), size)]
    with _pool(len(files), workers) as pool:
        return pa.concat_tables(pool.map(partial(_examine_chunk, resolver), chunks))


def _settings_hash(archive: Path, settings: dict[str, Any], min_seconds: float) -> str:
    """What the rows depend on besides the files: the archive, the settings and the row layout."""
    schema = [f"{field.name}:{field.type}" for field in ROW_SCHEMA]
    text = json.dumps({"archive": str(archive), "settings": settings, "min_seconds": float(min_seconds),
                       "rows": schema}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _read_cache(cache_dir: Path | None, settings_hash: str) -> tuple[pa.Table, str | None]:
    """Rows of the last inventory made with the same settings, and the cache's token; empty and None if none."""
    path = cache_dir / CACHE_FILE if cache_dir else None
    if path is None or not path.exists():
        return ROW_SCHEMA.empty_table(), None
    try:
        with pa.OSFile(str(path)) as source:
            table = pa.ipc.open_file(source).read_all()
    except (OSError, pa.ArrowException) as error:
        log.warning("ignoring the inventory cache %s: %s", path, error)
        return ROW_SCHEMA.empty_table(), None
    metadata = table.schema.metadata or {}
    if metadata.get(_SETTINGS_HASH_KEY) != settings_hash.encode() or not table.schema.equals(ROW_SCHEMA):
        return ROW_SCHEMA.empty_table(), None
    token = metadata.get(_CACHE_TOKEN_KEY)
    return table.replace_schema_metadata(None), token.decode() if token else None


def _write_cache(rows: pa.Table, cache_dir: Path, settings_hash: str) -> str | None:
    """Keep the rows for the next inventory, atomically (a killed run leaves the old cache).

    An Arrow IPC file: read and written at memory speed, which Parquet's encoding is not.
    Returns the new cache's token, None when it could not be written.
    """
    token = uuid.uuid4().hex
    table = rows.replace_schema_metadata({_SETTINGS_HASH_KEY: settings_hash.encode(),
                                          _CACHE_TOKEN_KEY: token.encode()})
    temporary = cache_dir / f".{CACHE_FILE}.{os.getpid()}.tmp"
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        with pa.OSFile(str(temporary), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        os.replace(temporary, cache_dir / CACHE_FILE)
    except OSError as error:
        log.warning("the inventory cache could not be written (%s); the next inventory probes every file", error)
        return None
    return token


def _partition_keys(rows: pa.Table) -> set[tuple[str, str]]:
    """``(site, date)`` of the recordings among ``rows`` (quarantined rows belong to no partition)."""
    recordings = rows.filter(pc.is_null(rows["reason"])).select(["site", "date"])
    return set(zip(*(recordings[key].to_pylist() for key in ("site", "date"))))


def _changed_partitions(cached: pa.Table, reused: np.ndarray, fresh: pa.Table) -> frozenset[tuple[str, str]]:
    """Partitions of the rows that left the cache (files removed or changed) and of the rows probed now."""
    dropped = np.ones(len(cached), bool)
    dropped[reused] = False
    return frozenset(_partition_keys(cached.filter(pa.array(dropped))) | _partition_keys(fresh))


def _reusable(listing: pa.Table, cached: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """For each file of ``listing``: its cache row number when unchanged since (same path, size
    and mtime), else -1; and the positions of the files to probe."""
    number = np.array(pc.index_in(listing["path"], value_set=cached["path"]).fill_null(-1), np.int64)
    known = number >= 0
    for column, name in (("file_size", "size"), ("file_mtime_ns", "mtime_ns")):
        now = listing[name].to_numpy()
        known[known] &= cached[column].to_numpy()[number[known]] == now[known]
    number[~known] = -1
    return number, np.flatnonzero(~known)


def _files(listing: pa.Table, positions: np.ndarray | None = None) -> list[AudioFile]:
    """The files of (some rows of) a listing table as :class:`AudioFile` tuples."""
    if positions is not None:
        listing = listing.take(pa.array(positions, pa.int64()))
    columns = [listing[name].to_pylist() for name in _LISTING_COLUMNS]
    return list(map(AudioFile._make, zip(*columns)))


def _split_duplicates(listing: pa.Table) -> tuple[pa.Table, list[tuple[AudioFile, str]]]:
    """Files reached once, and files reached again through a link with the path that reached them first.

    ``listing`` is sorted by path, so the first path in sorted order is the one kept.
    """
    inodes = np.sort(listing["inode"].to_numpy())
    if not (inodes[1:] == inodes[:-1]).any():  # the common case, checked fast
        return listing, []
    first: dict[tuple[int, int], str] = {}
    keep = np.zeros(len(listing), bool)
    duplicates = []
    for index, found in enumerate(_files(listing)):
        original = first.setdefault((found.device, found.inode), found.relative)
        if original == found.relative:
            keep[index] = True
        else:
            duplicates.append((found, original))
    return listing.filter(pa.array(keep)), duplicates


#: Columns of a listing table, in :class:`AudioFile` order.
_LISTING_COLUMNS = ("path", "size", "mtime_ns", "device", "inode")
_LISTING_SCHEMA = pa.schema([("path", pa.string()), ("size", pa.int64()), ("mtime_ns", pa.int64()),
                             ("device", pa.uint64()), ("inode", pa.uint64())])


def _listing(archive: Path, settings: dict[str, Any], cache_dir: Path | None, fingerprint: str | None) -> pa.Table:
    """The audio files of the archive sorted by path (a table of :data:`_LISTING_COLUMNS`).

    Read from the listing the fingerprint kept when it is the one of ``fingerprint`` (the
    entries it left out are reported again), else from a walk of the archive.
    """
    kept = None
    if fingerprint and cache_dir:
        kept = read_listing(cache_dir, fingerprint, archive, settings["extensions"], settings["follow_links"])
    if kept is not None:
        log.info("archive listing taken from the fingerprint %s", fingerprint[:12])
        for relative, reason in json.loads((kept.schema.metadata or {}).get(b"skipped", b"[]")):
            _warn_skipped(relative, reason)
        table = kept.replace_schema_metadata(None).cast(_LISTING_SCHEMA)
    else:
        found = scan_archive(archive, settings["extensions"], settings["follow_links"], _warn_skipped)
        table = pa.table([pa.array(column, field.type) for column, field in zip(found[:5], _LISTING_SCHEMA)],
                         schema=_LISTING_SCHEMA)
    paths = table["path"]
    if len(table) > 1 and not pc.all(pc.less(paths.slice(0, len(table) - 1), paths.slice(1))).as_py():
        table = table.take(pc.sort_indices(paths))
    return table


def _warn_skipped(relative: str, reason: str) -> None:
    log.warning("skipped %s: %s", relative, reason)


def _frames(rows: pa.Table, set_aside: list[dict[str, Any]]) -> tuple[pa.Table, pd.DataFrame]:
    """The recordings table (Arrow) and the quarantine table from the rows and the other files set aside."""
    quarantined = pc.is_valid(rows["reason"])
    if pc.any(quarantined).as_py():
        recordings = rows.filter(pc.invert(quarantined)).select(RECORDING_COLUMNS)
    else:  # no copy of a million rows
        recordings = rows.select(RECORDING_COLUMNS)
    quarantine = pa.concat_tables([
        rows.filter(quarantined).select(QUARANTINE_COLUMNS),
        pa.Table.from_pylist(set_aside, schema=_QUARANTINE_SCHEMA),
    ]).sort_by("path")
    return recordings, quarantine.to_pandas()


def build_inventory(
    archive: str | Path,
    settings: InventorySettings | dict | None = None,
    min_seconds: float = 1.0,
    threads: int = 4,
    cache_dir: str | Path | None = None,
    fingerprint: str | None = None,
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
        Files probed in parallel: by threads, or by processes when there are
        thousands of files to probe.
    cache_dir : str or Path, optional
        Folder of the inventory cache: rows of unchanged files are taken from it, and
        it is updated when anything changed. Without it every file is probed.
    fingerprint : str, optional
        The archive fingerprint computed with ``listing_dir=cache_dir``
        (:func:`~ecoae.archive.fingerprint.archive_fingerprint`): when the listing kept
        there has this fingerprint, the archive is not walked again. Otherwise (or
        without it) the archive is walked.

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
    settings_hash = _settings_hash(archive, settings, min_seconds)
    cache_dir = Path(cache_dir) if cache_dir else None
    cached, token = _read_cache(cache_dir, settings_hash)

    listing = _listing(archive, settings, cache_dir, fingerprint)
    files, duplicates = _split_duplicates(listing)
    number, new = _reusable(files, cached)
    reused = number[number >= 0]
    log.info("%d audio files under %s (%d unchanged since the last inventory)", len(listing), archive, len(reused))
    fresh = _examine_all(resolver, _files(files, new), threads)
    if not len(fresh) and np.array_equal(reused, np.arange(len(cached))):
        rows = cached
    else:  # every row in path order: from the cache, or probed now
        number[new] = len(cached) + np.arange(len(new))
        rows = pa.concat_tables([cached, fresh]).take(pa.array(number, pa.int64()))
    cache = None
    if cache_dir:
        after = token
        if len(fresh) or len(reused) != len(cached) or token is None:
            after = _write_cache(rows, cache_dir, settings_hash)
        cache = CacheState(token, after, _changed_partitions(cached, reused, fresh))

    set_aside = [resolver.quarantined(found, f"duplicate of {original} (the same file reached through a link)")
                 for found, original in duplicates]
    recordings, quarantine = _frames(rows, set_aside)
    noted = recordings.filter(pc.not_equal(recordings["time_note"], ""))
    for path, note, source in zip(*(noted[key].to_pylist() for key in ("path", "time_note", "time_source"))):
        log.warning("%s: %s; start time from %s", path, note, source)
    return Inventory(recordings, quarantine, settings_hash, cache)


def _pandas_schema(schema: pa.Schema) -> pa.Schema:
    """The schema a table of ``schema`` has after a round trip through pandas (types and pandas metadata)."""
    return pa.Table.from_pandas(schema.empty_table().to_pandas(), preserve_index=False).schema


def _as_from_pandas(table: pa.Table) -> pa.Table:
    """``table`` as ``pa.Table.from_pandas(table.to_pandas())`` gives it, without the round trip.

    The manifests and tables have always been written from pandas: the same types
    (pandas' strings are large strings) keep their content hashes, so an inventory
    rewrites no manifest of an unchanged partition, and the same pandas metadata
    keeps what pandas reads back.
    """
    schema = _pandas_schema(table.schema)
    if not table.schema.remove_metadata().equals(schema.remove_metadata()):
        table = table.cast(schema.remove_metadata())
    return table.replace_schema_metadata(schema.metadata)


def _table(frame: pd.DataFrame | pa.Table, settings_hash: str) -> pa.Table:
    table = frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame, preserve_index=False)
    return table.replace_schema_metadata({**(table.schema.metadata or {}),
                                          _SETTINGS_HASH_KEY: settings_hash.encode()})


def _sorted(table: pa.Table, keys: list[str]) -> pa.Table:
    return table.take(pc.sort_indices(table, [(key, "ascending") for key in keys]))


def _partition_rows(recordings: pa.Table) -> Iterator[tuple[str, str, pa.Array]]:
    """``(site, date, row numbers)`` of each partition, rows by start time.

    ``recordings.take(row numbers)`` is then a partition's table in its own buffers:
    own buffers (not slices of one table) make the content hash independent of the
    other partitions, as Arrow's IPC writer writes a slice's whole parent buffers.
    """
    order = pc.sort_indices(recordings, [(key, "ascending") for key in ("site", "date", "start_time", "path")])
    site, date = (recordings[key].take(order).to_numpy(zero_copy_only=False) for key in ("site", "date"))
    if not len(site):
        return
    starts = np.flatnonzero(np.r_[True, (site[1:] != site[:-1]) | (date[1:] != date[:-1])])
    for start, end in zip(starts, np.r_[starts[1:], len(site)]):
        yield site[start], date[start], order[start:end]


def _file_stamp(path: Path) -> list[int] | None:
    """``[size, mtime_ns]`` of a file, None when it does not exist."""
    try:
        status = path.stat()
    except OSError:
        return None
    return [status.st_size, status.st_mtime_ns]


def _read_manifest_record(path: Path) -> tuple[str | None, dict[str, list[int]]]:
    """The cache token the manifests were last written from, and each manifest's stamp then."""
    try:
        record = json.loads(path.read_text())
        return record["token"], record["manifests"]
    except (OSError, ValueError, KeyError, TypeError):
        return None, {}


def _write_manifests(
    recordings: pa.Table, manifest_root: Path, cache: CacheState | None, threads: int = 1,
) -> tuple[set[Path], int]:
    """Write the partition manifests that changed; return the manifests wanted and how many were written.

    A manifest is kept without hashing its rows when the manifests were last written
    from the cache this inventory started from (``.cache-token`` records that cache and
    each manifest's size and modification time then), no file of its partition changed
    since, and the manifest itself was not touched. The others are hashed (and written
    when their content changed) by ``threads`` threads: Arrow hashes and writes without
    holding the interpreter lock.
    """
    token_file = manifest_root / MANIFEST_TOKEN_FILE
    last_token, last_stamps = _read_manifest_record(token_file)
    trusted = cache is not None and cache.before is not None and last_token == cache.before
    token_file.unlink(missing_ok=True)  # until every manifest below is written
    wanted, stamps, check = set(), {}, []
    for site, date, numbers in _partition_rows(recordings):
        relative = f"{partition_folder(site, date)}.parquet"
        path = manifest_root / relative
        wanted.add(path)
        stamp = _file_stamp(path)
        if not (trusted and (site, date) not in cache.changed and stamp and stamp == last_stamps.get(relative)):
            check.append((relative, numbers))
        stamps[relative] = stamp

    def write(item: tuple[str, pa.Array]) -> bool:
        relative, numbers = item
        changed = _write_if_changed(recordings.take(numbers), manifest_root / relative)
        stamps[relative] = _file_stamp(manifest_root / relative)
        return changed

    if threads > 1 and len(check) > 1:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            written = sum(pool.map(write, check))
    else:
        written = sum(map(write, check))
    if cache and cache.after:
        manifest_root.mkdir(parents=True, exist_ok=True)
        token_file.write_text(json.dumps({"token": cache.after, "manifests": stamps}))
    return wanted, written


def _content_hash(table: pa.Table) -> str:
    """Hash of a table's types and values (not of its metadata, which holds library versions)."""
    sink = pa.BufferOutputStream()
    plain = table.replace_schema_metadata(None).combine_chunks()  # one record batch, whatever the chunking
    with pa.ipc.new_stream(sink, plain.schema) as writer:
        writer.write_table(plain)
    return hashlib.sha256(sink.getvalue()).hexdigest()


def _written_with(path: Path, digest: bytes) -> bool:
    """Whether a manifest was written with this content hash.

    Reads only the Parquet footer (its length is in the file's last 8 bytes), where
    the hash is stored verbatim among the key-value metadata: a hundred times
    cheaper than parsing it, which counts with thousands of partitions.
    """
    try:
        with open(path, "rb") as handle:
            handle.seek(-8, os.SEEK_END)
            length = int.from_bytes(handle.read(4), "little")
            handle.seek(-8 - length, os.SEEK_END)
            return digest in handle.read(length)
    except OSError:  # absent, or too short to be a Parquet file
        return False


def _write_if_changed(table: pa.Table, path: Path) -> bool:
    """Write a partition manifest unless it already holds these rows (same content hash)."""
    digest = _content_hash(table).encode()
    if _written_with(path, digest):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(table.replace_schema_metadata({**table.schema.metadata, _CONTENT_HASH_KEY: digest}), temporary)
    os.replace(temporary, path)
    return True


def write_inventory(inventory: Inventory, out_dir: str | Path, threads: int = 1) -> dict[str, int]:
    """Write the recordings, quarantine and partition tables and the partition manifests.

    Manifests go to ``out_dir/partitions/site=<site>/date=<date>.parquet`` and are
    rewritten only when their content changes (a hash of it is kept in each file);
    manifests of partitions that no longer exist are removed. When the manifests were
    last written from the cache this inventory started from (``partitions/.cache-token``
    names that cache), the partitions none of whose files changed keep their untouched
    manifests without their rows being hashed: what makes a re-inventory of 10 000
    partitions cheap.

    Parameters
    ----------
    inventory : Inventory
        From :func:`build_inventory`.
    out_dir : str or Path
        Output folder (``results/inventory``).
    threads : int
        Manifests hashed and written at once.

    Returns
    -------
    dict
        Counts: ``partitions``, ``written`` (manifests new or changed), ``removed``.
    """
    out_dir = Path(out_dir)
    settings_hash = inventory.settings_hash
    recordings = _as_from_pandas(inventory.recordings_table)
    write_parquet_atomic(_table(_sorted(recordings, ["site", "start_time", "path"]), settings_hash),
                         out_dir / "recordings.parquet")
    write_parquet_atomic(_table(inventory.quarantine, settings_hash), out_dir / "quarantine.parquet")

    manifest_root = out_dir / "partitions"
    wanted, written = _write_manifests(recordings, manifest_root, inventory.cache, threads)
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


#: Stores laid out by partition under the results folder (``*`` = one folder per feature set).
PARTITIONED_STORES = ("segments", "spectrograms", "features/*", "problems/*")


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
