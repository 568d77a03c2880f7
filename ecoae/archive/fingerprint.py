"""Cheap fingerprints that tell Snakemake when the inventory must run again.

The archive fingerprint hashes the listing of audio files (relative path, size,
modification time) without opening any file, so adding, removing or replacing a
recording changes it, and an untouched archive of 100 000 files costs one
directory walk.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Iterable, Iterator


def iter_audio_files(archive: str | Path, extensions: Iterable[str]) -> Iterator[os.DirEntry]:
    """Yield directory entries of audio files under ``archive``, in sorted order.

    Hidden files and folders (names starting with ``.``) are skipped, as are
    macOS resource forks (``._*``) that recorders' SD cards collect.

    Parameters
    ----------
    archive : str or Path
        Root folder.
    extensions : iterable of str
        Accepted extensions without dot, compared case-insensitively.
    """
    wanted = {f".{e.lower().lstrip('.')}" for e in extensions}
    stack = [str(archive)]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except (FileNotFoundError, NotADirectoryError):
            continue
        folders = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=True):
                folders.append(entry.path)
            elif os.path.splitext(entry.name)[1].lower() in wanted:
                yield entry
        stack.extend(reversed(folders))


def archive_fingerprint(archive: str | Path, extensions: Iterable[str]) -> str:
    """Hash of the archive's audio-file listing (path, size, mtime), hex SHA-256."""
    digest = hashlib.sha256()
    root = os.path.abspath(archive)
    for entry in iter_audio_files(root, extensions):
        stat = entry.stat()
        rel = os.path.relpath(entry.path, root)
        digest.update(f"{rel}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def config_fingerprint(settings: dict) -> str:
    """Hash of a JSON-serialisable settings dict, hex SHA-256."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()
