"""Argument types shared by the sub-commands."""

from __future__ import annotations

import argparse
import json


def channel(value: str) -> str | int:
    """``--channel``: ``"mix"`` or a channel index."""
    return value if value == "mix" else int(value)


def json_object(value: str) -> dict:
    """``--settings`` and similar: a JSON object (a config section), else a usage error."""
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not valid JSON: {error}") from None
    if not isinstance(parsed, dict):
        raise argparse.ArgumentTypeError("expected a JSON object")
    return parsed
