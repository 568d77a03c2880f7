"""Cheap fingerprints that tell Snakemake when the inventory must run again.

The archive fingerprint hashes the listing of audio files (relative path, size,
modification time) without opening any file, so adding, removing or replacing a
recording changes it, and an untouched archive of 100 000 files costs one
directory walk. The walk (:func:`iter_audio_files`) is the inventory's own, so
both see the same files: hidden files skipped, links to folders followed only on
request and never round in a loop.

The walk's result can be kept (:func:`archive_fingerprint` with ``listing_dir``):
the inventory, told the fingerprint that Snakemake computed, then reads the listing
(:func:`read_listing`) instead of walking the archive a second time.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import operator
import os
import stat
import uuid
from array import array
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, NamedTuple

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

#: ``on_skip(relative_path, reason)``: told of every link or odd entry the walk leaves out.
SkipReport = Callable[[str, str], None]

NOT_FOLLOWED = "link to a folder, not followed (set inventory.follow_links: true to follow folder links)"
LOOP = "a folder the scan already reaches by another path (a link loop, or a second way in)"
INSIDE = "link to a folder inside the archive, which the scan reaches where it is"
BROKEN = "link whose target does not exist or cannot be reached"
NOT_A_FILE = "not a regular file (a device, pipe or socket)"


class AudioFile(NamedTuple):
    """One audio file found by :func:`iter_audio_files`.

    Attributes
    ----------
    relative : str
        Path relative to the archive, with ``/`` separators, as reached (through links).
    size, mtime_ns : int
        Size and modification time of the file (of the target, for a link).
    device, inode : int
        Identity of the real file: two paths with the same pair are one file.
    """

    relative: str
    size: int
    mtime_ns: int
    device: int
    inode: int


class Listing(NamedTuple):
    """The audio files of an archive as columns, in walk order (see :func:`scan_archive`).

    Attributes
    ----------
    relative : list of str
        Paths relative to the archive, with ``/`` separators.
    size, mtime_ns, device, inode : list of int
        The same fields as :class:`AudioFile`, one per path.
    skipped : list of (str, str)
        ``(relative_path, reason)`` of every entry the walk left out, in walk order.
    """

    relative: list[str]
    size: list[int]
    mtime_ns: list[int]
    device: list[int]
    inode: list[int]
    skipped: list[tuple[str, str]]

    def files(self) -> Iterator[AudioFile]:
        """The files as :class:`AudioFile` tuples."""
        return map(AudioFile._make, zip(self.relative, self.size, self.mtime_ns, self.device, self.inode))


def _ignore(relative: str, reason: str) -> None:
    """Default :data:`SkipReport`: say nothing."""


def _target(entry: os.DirEntry) -> os.stat_result | None:
    """Status of what ``entry`` points to (links followed), None when it cannot be reached."""
    try:
        return entry.stat()
    except OSError:
        return None


_NAME = operator.attrgetter("name")


def _identity(status: os.stat_result) -> tuple[int, int]:
    return status.st_dev, status.st_ino


class _Walk:
    """One walk of an archive (see :func:`iter_audio_files`)."""

    def __init__(self, archive: str | Path, extensions: Iterable[str], follow_links: bool, on_skip: SkipReport):
        self.root = os.path.abspath(archive)
        self.real_root = os.path.realpath(self.root)
        self.wanted = {f".{e.lower().lstrip('.')}" for e in extensions}
        self.follow_links = follow_links
        self.on_skip = on_skip
        #: (device, inode) of every folder reached so far, when folder links are followed.
        self.reached: set[tuple[int, int]] = set()

    def batches(self) -> Iterator[list[list]]:
        """Yield the audio files folder by folder, each batch as five columns (see :class:`Listing`)."""
        if self.follow_links and os.path.isdir(self.root):
            self.reached.add(_identity(os.stat(self.root)))
        stack = [(self.root, "")]
        while stack:
            folder, prefix = stack.pop()
            batches, folders = self._scan(folder, prefix)
            yield from batches
            stack.extend(sorted(folders, key=lambda item: item[1], reverse=True))

    def __iter__(self) -> Iterator[AudioFile]:
        for batch in self.batches():
            yield from map(AudioFile._make, zip(*batch))

    def _plain_files(self, folder: str, prefix: str, names: list[str]) -> list[list]:
        """The columns of a folder's plain files (one ``stat`` each, nothing more per file)."""
        base = os.path.join(folder, "")
        try:
            statuses = [os.stat(base + name) for name in names]
        except OSError:  # a file vanished during the scan: the slow way, file by file
            kept, statuses = [], []
            for name in names:
                try:
                    statuses.append(os.stat(base + name))
                    kept.append(name)
                except OSError:
                    self.on_skip(prefix + name, "vanished during the scan")
            names = kept
        return [[prefix + name for name in names], [status.st_size for status in statuses],
                [status.st_mtime_ns for status in statuses], [status.st_dev for status in statuses],
                [status.st_ino for status in statuses]]

    def _scan(self, folder: str, prefix: str) -> tuple[list[list[list]], list[tuple[str, str]]]:
        """The audio files of one folder as column batches, and its sub-folders to walk as ``(path, relative/)``."""
        try:
            with os.scandir(folder) as listing:
                entries = list(listing)
        except OSError as error:
            self.on_skip(prefix.rstrip("/") or ".", f"folder cannot be listed ({error.strerror or error})")
            return [], []
        # Plain files first, sorted by name, with as little work per file as a million files ask for.
        wanted = self.wanted
        names = sorted([entry.name for entry in entries if entry.is_file(follow_symlinks=False)])
        regular = [name for name in names if name[0] != "." and name[name.rfind("."):].lower() in wanted]
        batches = [self._plain_files(folder, prefix, regular)] if regular else []
        linked: list[list] = [[], [], [], [], []]
        folders, folder_links = [], []
        others = sorted([entry for entry in entries if not entry.is_file(follow_symlinks=False)], key=_NAME)
        for entry in others:
            relative = prefix + entry.name
            if entry.name[0] == ".":
                continue
            if entry.is_dir(follow_symlinks=False):
                if self.follow_links and not self._reach(entry.stat(follow_symlinks=False)):
                    self.on_skip(relative, LOOP)  # reached before, through a followed link
                else:
                    folders.append((entry.path, relative + "/"))
                continue
            status = _target(entry)  # a link, or a device, pipe or socket
            if status is None:
                self.on_skip(relative, BROKEN)
            elif stat.S_ISDIR(status.st_mode):
                folder_links.append((entry.path, relative, status))
            elif not self._wanted(entry.name):
                continue
            elif stat.S_ISREG(status.st_mode):
                for column, value in zip(linked, (relative, status.st_size, status.st_mtime_ns,
                                                  status.st_dev, status.st_ino)):
                    column.append(value)
            else:
                self.on_skip(relative, NOT_A_FILE)
        if linked[0]:
            batches.append(linked)
        # Folder links last, once this folder's own sub-folders count as reached.
        for path, relative, status in folder_links:
            reason = self._refusal(path, status)
            if reason:
                self.on_skip(relative, reason)
            else:
                folders.append((path, relative + "/"))
        return batches, folders

    def _wanted(self, name: str) -> bool:
        """Not hidden, and with an audio extension."""
        return name[0] != "." and name[name.rfind("."):].lower() in self.wanted

    def _reach(self, status: os.stat_result) -> bool:
        """Mark a folder reached; False when it already was."""
        identity = _identity(status)
        if identity in self.reached:
            return False
        self.reached.add(identity)
        return True

    def _refusal(self, path: str, status: os.stat_result) -> str | None:
        """Why a link to a folder is not followed (None: follow it, now marked reached)."""
        if not self.follow_links:
            return NOT_FOLLOWED
        if _identity(status) in self.reached:
            return LOOP
        real = os.path.realpath(path)
        if real == self.real_root or real.startswith(self.real_root.rstrip(os.sep) + os.sep):
            return INSIDE
        self._reach(status)
        return None


def iter_audio_files(
    archive: str | Path,
    extensions: Iterable[str],
    follow_links: bool = False,
    on_skip: SkipReport = _ignore,
) -> Iterator[AudioFile]:
    """Yield the audio files under ``archive``, folder by folder in sorted name order.

    Within a folder, plain files come before links to files. Hidden files and
    folders (names starting with ``.``) are skipped, as are macOS resource forks
    (``._*``) that recorders' SD cards collect. A link to a file is a file (two
    paths to one file share ``device`` and ``inode``). A link to a folder is
    followed only with ``follow_links``, and then only out of the archive (a folder
    inside it is scanned where it is); no folder is entered twice (not even the
    archive, from a link to a folder around it), so link loops end. Links left out,
    broken links and audio-named entries that are not regular files are reported
    to ``on_skip``, each once.

    Parameters
    ----------
    archive : str or Path
        Root folder.
    extensions : iterable of str
        Accepted extensions without dot, compared case-insensitively.
    follow_links : bool
        Follow links to folders (config ``inventory.follow_links``).
    on_skip : callable, optional
        Called as ``on_skip(relative_path, reason)`` once for each entry left out.
    """
    return iter(_Walk(archive, extensions, follow_links, on_skip))


def scan_archive(
    archive: str | Path,
    extensions: Iterable[str],
    follow_links: bool = False,
    on_skip: SkipReport | None = None,
) -> Listing:
    """The audio files under ``archive`` as columns, in the order of :func:`iter_audio_files`.

    The same walk, without an object per file: what a million files ask for.

    Parameters
    ----------
    archive : str or Path
        Root folder.
    extensions : iterable of str
        Accepted extensions without dot, compared case-insensitively.
    follow_links : bool
        Follow links to folders (config ``inventory.follow_links``).
    on_skip : callable, optional
        Also told of every entry left out, as it is met (they are in ``Listing.skipped`` too).

    Returns
    -------
    Listing
    """
    skipped: list[tuple[str, str]] = []

    def report(relative: str, reason: str) -> None:
        skipped.append((relative, reason))
        if on_skip is not None:
            on_skip(relative, reason)

    columns: list[list] = [[], [], [], [], []]
    collecting = gc.isenabled()
    gc.disable()  # millions of objects kept, none in a cycle: the collector would only rescan them
    try:
        for batch in _Walk(archive, extensions, follow_links, report).batches():
            for column, part in zip(columns, batch):
                column.extend(part)
    finally:
        if collecting:
            gc.enable()
    return Listing(*columns, skipped)


def listing_fingerprint(listing: Listing) -> str:
    """Hash of a listing's paths, sizes and modification times (in walk order), hex SHA-256.

    The file count comes first and every path ends with a NUL (which no path holds),
    so two different listings never hash the same bytes.
    """
    digest = hashlib.sha256()
    digest.update(len(listing.relative).to_bytes(8, "little"))
    digest.update("\0".join([*listing.relative, ""]).encode("utf-8", "surrogateescape"))
    digest.update(array("q", listing.size).tobytes())
    digest.update(array("q", listing.mtime_ns).tobytes())
    return digest.hexdigest()


def archive_fingerprint(
    archive: str | Path,
    extensions: Iterable[str],
    follow_links: bool = False,
    listing_dir: str | Path | None = None,
) -> str:
    """Hash of the archive's audio-file listing (path, size, mtime), hex SHA-256.

    The listing is the one the inventory sees: :func:`scan_archive` with the
    same ``follow_links`` (config ``inventory.follow_links``). A new, removed,
    renamed, resized or touched file changes the hash.

    Parameters
    ----------
    archive : str or Path
        Root folder.
    extensions : iterable of str
        Accepted extensions without dot (config ``inventory.extensions``).
    follow_links : bool
        Follow links to folders (config ``inventory.follow_links``).
    listing_dir : str or Path, optional
        Folder where the listing is kept under its hash (:data:`LISTING_FILE`, e.g. the
        inventory's cache folder), for an inventory told this hash to read instead of
        walking the archive again (:func:`read_listing`). A listing that cannot be
        written is not kept: nothing else changes.

    Returns
    -------
    str
        The hash.
    """
    extensions = list(extensions)
    listing = scan_archive(archive, extensions, follow_links)
    fingerprint = listing_fingerprint(listing)
    if listing_dir is not None:
        save_listing(listing, fingerprint, listing_dir, archive, extensions, follow_links)
    return fingerprint


#: The listing kept by :func:`archive_fingerprint` (an Arrow IPC file) in its ``listing_dir``.
LISTING_FILE = "listing.arrow"
_LISTING_KEY = b"ecoae_listing"


def _listing_key(fingerprint: str, archive: str | Path, extensions: Iterable[str], follow_links: bool) -> bytes:
    """What a kept listing must match to be used: the hash and the walk that made it."""
    return json.dumps({"fingerprint": fingerprint, "archive": os.path.abspath(archive),
                       "extensions": sorted(e.lower().lstrip(".") for e in extensions),
                       "follow_links": bool(follow_links), "version": 1}, sort_keys=True).encode()


def _kept_metadata(path: Path) -> dict[bytes, bytes]:
    """The schema metadata of a kept listing (empty when there is none or it cannot be read)."""
    import pyarrow as pa

    try:
        with pa.memory_map(str(path)) as source:
            return pa.ipc.open_file(source).schema.metadata or {}
    except (OSError, pa.ArrowException):
        return {}


def save_listing(
    listing: Listing,
    fingerprint: str,
    listing_dir: str | Path,
    archive: str | Path,
    extensions: Iterable[str],
    follow_links: bool,
) -> bool:
    """Keep ``listing`` in ``listing_dir`` under its fingerprint (replacing the one kept before).

    Nothing is written when the kept listing already has this key. Failures are
    logged and ignored: the inventory then walks the archive itself.

    Returns
    -------
    bool
        Whether the listing kept is now this one.
    """
    import pyarrow as pa

    path = Path(listing_dir) / LISTING_FILE
    key = _listing_key(fingerprint, archive, extensions, follow_links)
    if _kept_metadata(path).get(_LISTING_KEY) == key:
        return True
    temporary = path.with_name(f".{LISTING_FILE}.{uuid.uuid4().hex}.tmp")
    try:
        table = pa.table({
            "path": pa.array(listing.relative, pa.string()),
            "size": pa.array(listing.size, pa.int64()),
            "mtime_ns": pa.array(listing.mtime_ns, pa.int64()),
            "device": pa.array(listing.device, pa.uint64()),
            "inode": pa.array(listing.inode, pa.uint64()),
        }).replace_schema_metadata({_LISTING_KEY: key, b"skipped": json.dumps(listing.skipped).encode()})
        path.parent.mkdir(parents=True, exist_ok=True)
        with pa.OSFile(str(temporary), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        os.replace(temporary, path)
    except (OSError, ValueError, pa.ArrowException) as error:  # unwritable, or a name that is not UTF-8
        log.debug("archive listing not kept in %s: %s", listing_dir, error)
        try:
            temporary.unlink(missing_ok=True)
        except OSError:
            pass
        return False
    return True


def read_listing(
    listing_dir: str | Path,
    fingerprint: str,
    archive: str | Path,
    extensions: Iterable[str],
    follow_links: bool,
) -> "pa.Table | None":
    """The listing kept by :func:`archive_fingerprint` when it has this fingerprint, else None.

    Parameters
    ----------
    listing_dir : str or Path
        The folder given to :func:`archive_fingerprint`.
    fingerprint : str
        The hash it returned (Snakemake passes it to the inventory).
    archive, extensions, follow_links
        The walk the listing must come from.

    Returns
    -------
    pyarrow.Table or None
        Columns ``path``, ``size``, ``mtime_ns``, ``device``, ``inode`` in walk order,
        with the entries the walk left out as JSON ``[[path, reason], ...]`` under the
        schema metadata key ``b"skipped"``; None when no listing with this key is kept.
    """
    import pyarrow as pa

    path = Path(listing_dir) / LISTING_FILE
    key = _listing_key(fingerprint, archive, extensions, follow_links)
    try:
        with pa.OSFile(str(path)) as source:
            reader = pa.ipc.open_file(source)
            if (reader.schema.metadata or {}).get(_LISTING_KEY) != key:
                return None
            return reader.read_all()
    except (OSError, pa.ArrowException) as error:
        if path.exists():
            log.warning("ignoring the archive listing %s: %s", path, error)
        return None


def config_fingerprint(settings: dict) -> str:
    """Hash of a JSON-serialisable settings dict, hex SHA-256."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()
