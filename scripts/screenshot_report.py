#!/usr/bin/env python
"""Render an evaluation report in headless Chromium: screenshot, every figure loaded, the first screen.

    python scripts/screenshot_report.py results/evaluation/report.html --out report.png

Prints a JSON line ``{"images_loaded": n, "images_total": m, "first_screen": {...},
"screenshot": path}`` and exits 1 when an image failed to decode (or the page did
not report) or when the summary heading or the cost table does not lie wholly
within the first screen (``--width`` x ``--first-screen`` pixels, 1280 x 900 by
default); 2 when no Chromium is installed (Debian: ``apt-get install chromium``).

On load the report counts its decoded images into the ``data-images-loaded``
attribute of ``<body>``, and writes where each element marked ``data-first-screen``
lies (``data-first-screen-layout="summary:120-160;cost:200-380"``, page pixels);
``--dump-dom`` prints the DOM after that script ran, in a window of the first
screen's size.
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

#: Elements of the report a reviewer must see without scrolling.
FIRST_SCREEN = ("summary", "cost")
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


def first_screen(dom: str, height: int) -> dict:
    """Where the :data:`FIRST_SCREEN` elements lie in a dumped DOM, and whether all of them fit in ``height``.

    Returns
    -------
    dict
        height, elements (name -> [top, bottom] in page pixels, for those the page
        reported) and visible (every element of :data:`FIRST_SCREEN` reported and
        its bottom within ``height``).
    """
    match = re.search(r'data-first-screen-layout="([^"]*)"', dom)
    spots = re.findall(r"([\w-]+):(-?\d+)-(-?\d+)", match.group(1)) if match else []
    elements = {name: [int(top), int(bottom)] for name, top, bottom in spots}
    visible = all(name in elements and elements[name][1] <= height for name in FIRST_SCREEN)
    return {"height": height, "elements": elements, "visible": visible}


def render(report: Path, screenshot: Path, browser: str, width: int = 1280, height: int = 6000,
           timeout: float = 120, first_screen_height: int = 900) -> dict:
    """Screenshot ``report``, count the images that decoded and check its first screen.

    Returns
    -------
    dict
        images_loaded, images_total (None when the page did not report),
        first_screen (see :func:`first_screen`) and screenshot.
    """
    url = report.resolve().as_uri()
    dom = _run(browser, ["--dump-dom", "--virtual-time-budget=10000", f"--window-size={width},{first_screen_height}"],
               url, timeout).stdout
    match = re.search(r'data-images-loaded="(\d+)/(\d+)"', dom)
    shot = _run(browser, [f"--screenshot={screenshot.resolve()}", f"--window-size={width},{height}"], url, timeout)
    if not screenshot.exists():
        raise RuntimeError(f"chromium wrote no screenshot: {shot.stderr[-2000:]}")
    return {
        "images_loaded": int(match.group(1)) if match else None,
        "images_total": int(match.group(2)) if match else None,
        "first_screen": first_screen(dom, first_screen_height),
        "screenshot": str(screenshot),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="report.html")
    parser.add_argument("--out", type=Path, default=Path("report.png"), help="screenshot PNG")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=6000, help="height of the screenshot")
    parser.add_argument("--first-screen", type=int, default=900,
                        help="height of the first screen, where the summary and the cost table must lie")
    args = parser.parse_args(argv)
    browser = find_chromium()
    if browser is None:
        print("no chromium found; install it (Debian: apt-get install chromium)", file=sys.stderr)
        return 2
    result = render(args.report, args.out, browser, args.width, args.height, first_screen_height=args.first_screen)
    print(json.dumps(result))
    complete = result["images_total"] is not None and result["images_loaded"] == result["images_total"]
    if not result["first_screen"]["visible"]:
        print(f"the summary and the cost table do not fit in the first {args.first_screen} px: "
              f"{result['first_screen']['elements']}", file=sys.stderr)
    return 0 if complete and result["first_screen"]["visible"] else 1


if __name__ == "__main__":
    sys.exit(main())
