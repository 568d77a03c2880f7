"""Argument types shared by the sub-commands."""

from __future__ import annotations

import argparse
import dataclasses
import json

from ecoae.settings import schema_file, section_class


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


def section_help(section: str, note: str = "", entry: bool = False) -> str:
    """Help of an option taking one config section as JSON: its keys and the schema that checks them.

    Parameters
    ----------
    section : str
        Dotted config section, e.g. ``"spectrogram"`` or ``"autoencoder.training"``.
    note : str
        What the command uses the section for, appended in brackets.
    entry : bool
        The option takes one entry of the section (one of ``autoencoder.models``).
    """
    keys = ", ".join(field.name for field in dataclasses.fields(section_class(section)))
    what = "one entry of the config section" if entry else "the config section"
    text = (f'JSON object of {what} "{section}", keys: {keys} '
            f"(types and ranges: {schema_file(section)}); keys left out take ecoae's defaults")
    return f"{text} ({note})" if note else text


def add_batch_arguments(parser: argparse.ArgumentParser) -> None:
    """``--segment-batch`` and ``--record``: the options of a command the workflow runs per batch."""
    parser.add_argument("--segment-batch", metavar="RECORD",
                        help="instead of segment files: the record of a segmentation batch job "
                             "(batches/segment/site=…/days=….tsv); its partitions' segment files are read")
    parser.add_argument("--record", help="batch record to write last, one line per partition done")


def timestamp(value: str):
    """``--at`` and similar: a date and time (a ``pandas.Timestamp``), else a usage error."""
    import pandas as pd

    try:
        return pd.Timestamp(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date and time: {value!r} (e.g. '2024-05-01 06:30')") from None
