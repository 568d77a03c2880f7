#!/usr/bin/env python
"""Render an evaluation report in headless Chromium: screenshot + check every figure loaded.

    python scripts/screenshot_report.py results/evaluation/report.html --out report.png

Prints a JSON line ``{"images_loaded": n, "images_total": m, "screenshot": path}``
and exits 1 when an image failed to decode (or the page did not report), 2 when
no Chromium is installed (Debian: ``apt-get install chromium``).

The report counts its decoded images on load and writes the count into the
``data-images-loaded`` attribute of ``<body>``; ``--dump-dom`` prints the DOM
after that script ran.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]


def find_chromium() -> str | None:
    """Return the path of a Chromium/Chrome executable, or None."""
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _run(browser: str, extra: list[str], url: str, timeout: float) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="ecoae-chromium-") as profile:
        command = [browser, *FLAGS, f"--user-data-dir={profile}", *extra, url]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def render(report: Path, screenshot: Path, browser: str, width: int = 1280, height: int = 6000,
           timeout: float = 120) -> dict:
    """Screenshot ``report`` and count the images that decoded.

    Returns
    -------
    dict
        images_loaded, images_total (None when the page did not report) and screenshot.
    """
    url = report.resolve().as_uri()
    dom = _run(browser, ["--dump-dom", "--virtual-time-budget=10000"], url, timeout).stdout
    match = re.search(r'data-images-loaded="(\d+)/(\d+)"', dom)
    shot = _run(browser, [f"--screenshot={screenshot.resolve()}", f"--window-size={width},{height}"], url, timeout)
    if not screenshot.exists():
        raise RuntimeError(f"chromium wrote no screenshot: {shot.stderr[-2000:]}")
    return {
        "images_loaded": int(match.group(1)) if match else None,
        "images_total": int(match.group(2)) if match else None,
        "screenshot": str(screenshot),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="report.html")
    parser.add_argument("--out", type=Path, default=Path("report.png"), help="screenshot PNG")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=6000)
    args = parser.parse_args(argv)
    browser = find_chromium()
    if browser is None:
        print("no chromium found; install it (Debian: apt-get install chromium)", file=sys.stderr)
        return 2
    result = render(args.report, args.out, browser, args.width, args.height)
    print(json.dumps(result))
    complete = result["images_total"] is not None and result["images_loaded"] == result["images_total"]
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
