"""One run at a time per results folder, whichever working directory it starts from.

Snakemake locks its working directory (``.snakemake/locks``), so two checkouts
writing to the same ``results`` folder would both run and overwrite each other's
files. The workflow takes this lock when it starts and drops it when it ends. A lock
left by a run that was killed is taken over when its process is gone (same host);
otherwise the message says how to remove it.
"""

from __future__ import annotations

import json
import os
import socket
from datetime import datetime, timezone
from pathlib import Path

#: File name of the lock inside the results folder.
LOCK_NAME = ".ecoae.lock"


class RunLocked(RuntimeError):
    """Another run holds the results folder."""


def _owner() -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname(), "workdir": os.getcwd(),
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def acquire(results: str | Path) -> Path:
    """Take the results folder's lock, or raise :class:`RunLocked`.

    Parameters
    ----------
    results : str or Path
        The results folder (created if missing).

    Returns
    -------
    Path
        The lock file.

    Raises
    ------
    RunLocked
        A live run (or one on another host) holds it; the message names it and how to go on.
    """
    folder = Path(results)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    for _ in range(2):
        try:
            descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _read(path)
            same_host = holder.get("host") == socket.gethostname()
            if holder.get("pid") == os.getpid() and same_host:
                return path
            if same_host and isinstance(holder.get("pid"), int) and not _alive(holder["pid"]):
                path.unlink(missing_ok=True)  # left by a run that was killed
                continue
            raise RunLocked(
                f"results folder {folder.resolve()} is in use by another ecoae run (pid {holder.get('pid')} on "
                f"{holder.get('host')}, started {holder.get('started')} from {holder.get('workdir')}); wait for it "
                f"to finish, use another results folder, or, if that run is gone, delete {path}"
            ) from None
        with os.fdopen(descriptor, "w") as handle:
            json.dump(_owner(), handle)
        return path
    raise RunLocked(f"could not take the lock {path}; delete it if no ecoae run uses {folder}")


def release(results: str | Path) -> None:
    """Drop the results folder's lock if this process holds it."""
    path = Path(results) / LOCK_NAME
    holder = _read(path)
    if holder.get("pid") == os.getpid() and holder.get("host") == socket.gethostname():
        path.unlink(missing_ok=True)
