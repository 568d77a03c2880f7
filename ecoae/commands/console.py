"""The console of a long-running command: its full output to a log file, a few whole lines to the terminal.

Snakemake shows a job's stderr on its own console unless the rule redirects it. A
command given ``--log FILE`` sends everything it writes (logging, warnings, library
output) to ``FILE`` and keeps the former stderr for short progress lines, each written
whole in one system call so that lines of parallel jobs never interleave mid-line.
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from pathlib import Path
from typing import Iterator


def write_line(fd: int, line: str) -> None:
    """Write ``line`` and a newline to the file descriptor ``fd`` in one system call."""
    os.write(fd, (line.rstrip("\n") + "\n").encode())


@contextlib.contextmanager
def output_to_file(path: str | Path | None) -> Iterator[int]:
    """Send this process's stdout and stderr to ``path``; yield a descriptor of the former stderr.

    Parameters
    ----------
    path : str, Path or None
        The log file (created with its folder, or emptied). ``None`` changes nothing and
        yields stderr itself.

    Yields
    ------
    int
        A file descriptor of the console: pass it to :func:`write_line`.
    """
    if path is None:
        yield sys.stderr.fileno()
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        with open(path, "w") as log_file:
            os.dup2(log_file.fileno(), 1)
            os.dup2(log_file.fileno(), 2)
        yield saved[1]
    except Exception:
        traceback.print_exc()  # into the log, before the console gets it back
        raise
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)
