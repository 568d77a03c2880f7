"""Cheap fingerprints that tell Snakemake when the inventory must run again.

The archive fingerprint hashes the listing of audio files (relative path, size,
modification time) without opening any file, so adding, removing or replacing a
recording changes it, and an untouched archive of 100 000 files costs one
directory walk. The walk (:func:`iter_audio_files`) is the inventory's own, so
both see the same files: hidden files skipped, links to folders followed only on
request and never round in a loop.
"""

from __future__ import annotations

import hashlib
import json
import operator
import os
import stat
from pathlib import Path
from typing import Callable, Generator, Iterable, Iterator, NamedTuple

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

    def __iter__(self) -> Iterator[AudioFile]:
        if self.follow_links and os.path.isdir(self.root):
            self.reached.add(_identity(os.stat(self.root)))
        stack = [(self.root, "")]
        while stack:
            folder, prefix = stack.pop()
            folders = yield from self._scan(folder, prefix)
            stack.extend(sorted(folders, key=lambda item: item[1], reverse=True))

    def _scan(self, folder: str, prefix: str) -> Generator[AudioFile, None, list[tuple[str, str]]]:
        """Yield the audio files of one folder; return its sub-folders to walk as ``(path, relative/)``."""
        try:
            entries = sorted(os.scandir(folder), key=_NAME)
        except OSError as error:
            self.on_skip(prefix.rstrip("/") or ".", f"folder cannot be listed ({error.strerror or error})")
            return []
        # Plain files first, with as little work per file as archives of 100 000 files ask for.
        regular = [entry.name for entry in entries
                   if entry.is_file(follow_symlinks=False) and self._wanted(entry.name)]
        base = os.path.join(folder, "")
        for name in regular:
            try:
                status = os.stat(base + name)
            except OSError:
                self.on_skip(prefix + name, "vanished during the scan")
                continue
            yield AudioFile(prefix + name, status.st_size, status.st_mtime_ns, status.st_dev, status.st_ino)
        folders, folder_links = [], []
        for entry in entries:
            relative = prefix + entry.name
            if entry.name[0] == "." or entry.is_file(follow_symlinks=False):
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
                yield AudioFile(relative, status.st_size, status.st_mtime_ns, status.st_dev, status.st_ino)
            else:
                self.on_skip(relative, NOT_A_FILE)
        # Folder links last, once this folder's own sub-folders count as reached.
        for path, relative, status in folder_links:
            reason = self._refusal(path, status)
            if reason:
                self.on_skip(relative, reason)
            else:
                folders.append((path, relative + "/"))
        return folders

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


def archive_fingerprint(archive: str | Path, extensions: Iterable[str], follow_links: bool = False) -> str:
    """Hash of the archive's audio-file listing (path, size, mtime), hex SHA-256.

    The listing is the one the inventory sees: :func:`iter_audio_files` with the
    same ``follow_links`` (config ``inventory.follow_links``).
    """
    digest = hashlib.sha256()
    for found in iter_audio_files(archive, extensions, follow_links):
        digest.update(f"{found.relative}\0{found.size}\0{found.mtime_ns}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def config_fingerprint(settings: dict) -> str:
    """Hash of a JSON-serialisable settings dict, hex SHA-256."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()
