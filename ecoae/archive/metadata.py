"""Recording metadata from file names, AudioMoth comments and GUANO chunks.

Every parser returns a :class:`FileMetadata` holding what it found; the inventory
merges them, preferring what the file itself says (comment, GUANO) over its name.
Times without a zone are *local wall-clock* times; the zone is resolved later from
the file (when it says) or from the configuration.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable

#: Built-in file-name conventions, tried in order; the first match wins.
FILENAME_PATTERNS: dict[str, str] = {
    # Song Meter SM3: SM302298__0__20170325_000000.wav
    "songmeter_sm3": r"^(?P<serial>[A-Za-z0-9-]+)__\d+__(?P<date>\d{8})_(?P<time>\d{6})",
    # AudioMoth: 20220104_183000.WAV (the whole stem)
    "audiomoth": r"^(?P<date>\d{8})_(?P<time>\d{6})$",
    # Song Meter SM2/SM4/Mini and most others: S4A03895_20190522_063000.wav
    "songmeter": r"^(?P<serial>.+?)_(?P<date>\d{8})_(?P<time>\d{6})",
    # Anything carrying a date and time: site-2021-05-01T06-30-00, 20210501T063000
    "generic": r"(?P<date>\d{4}-?\d{2}-?\d{2})[T_ -]?(?P<time>\d{2}[-:]?\d{2}[-:]?\d{2})",
}

_AUDIOMOTH_COMMENT = re.compile(
    r"Recorded at (?P<time>\d{2}:\d{2}:\d{2}) (?P<date>\d{2}/\d{2}/\d{4}) "
    r"\(UTC(?P<offset>[^)]*)\)"
    r"(?: by (?P<device>AudioMoth) (?P<serial>[0-9A-F]{16}))?"
)


@dataclass
class FileMetadata:
    """Metadata found by one source.

    Attributes
    ----------
    start : datetime or None
        Start time; timezone-aware when the source states a zone, naive otherwise.
    source : str or None
        Where ``start`` came from (``"filename:audiomoth"``, ``"guano"``, ...).
    recorder : str or None
        Recorder model or convention (``"AudioMoth"``, ``"songmeter_sm3"``, ...).
    serial : str or None
        Recorder serial number or prefix.
    problem : str or None
        Why a start time the source carries could not be used (an impossible date,
        a malformed offset), so that the inventory can say so; None when all is well.
    """

    start: datetime | None = None
    source: str | None = None
    recorder: str | None = None
    serial: str | None = None
    problem: str | None = None


def _parse_date_time(date: str, time: str) -> datetime | None:
    digits = re.sub(r"\D", "", date) + re.sub(r"\D", "", time)
    try:
        if len(digits) == 14:  # the usual YYYYMMDDHHMMSS, without strptime's cost (once per file)
            return datetime(*(int(digits[a:b]) for a, b in ((0, 4), (4, 6), (6, 8), (8, 10), (10, 12), (12, 14))))
        return datetime.strptime(digits, "%Y%m%d%H%M%S")
    except ValueError:
        return None


#: Serial-number prefixes that name a Wildlife Acoustics Song Meter model.
_SONGMETER_PREFIXES = {"S4A": "Song Meter SM4", "SMM": "Song Meter Mini", "SMA": "Song Meter Mini",
                       "SM3": "Song Meter SM3", "S2A": "Song Meter SM2"}


def _songmeter_model(serial: str | None) -> str | None:
    """Recorder model implied by a Song Meter serial prefix, else None."""
    return _SONGMETER_PREFIXES.get((serial or "")[:3].upper())


def compile_patterns(extra_regex: Iterable[str] = ()) -> list[tuple[str, re.Pattern[str]]]:
    """Compile user regexes (tried first) followed by the built-in conventions.

    Parameters
    ----------
    extra_regex : iterable of str
        Regular expressions with named groups ``date`` (YYYYMMDD) and ``time``
        (HHMMSS), optionally ``serial``; matched against the file stem.

    Returns
    -------
    list of (name, compiled pattern)
    """
    compiled = []
    for index, pattern in enumerate(extra_regex):
        regex = re.compile(pattern)
        missing = {"date", "time"} - set(regex.groupindex)
        if missing:
            raise ValueError(
                f"filename_regex {pattern!r} lacks the named group(s) {sorted(missing)}; "
                "write e.g. (?P<date>\\d{8})_(?P<time>\\d{6})"
            )
        compiled.append((f"config:{index}", regex))
    compiled.extend((name, re.compile(p)) for name, p in FILENAME_PATTERNS.items())
    return compiled


def from_filename(stem: str, patterns: list[tuple[str, re.Pattern[str]]]) -> FileMetadata:
    """Parse start time and serial from a file stem.

    Parameters
    ----------
    stem : str
        File name without extension.
    patterns : list
        From :func:`compile_patterns`.

    Returns
    -------
    FileMetadata
        Without ``start`` when no pattern yields a valid date and time; ``problem``
        then names the first date and time a pattern found but could not use.
    """
    problem = None
    for name, regex in patterns:
        match = regex.search(stem)
        if not match:
            continue
        start = _parse_date_time(match["date"], match["time"])
        if start is None:
            problem = problem or f"file name: {match['date']} {match['time']} is not a valid date and time"
            continue
        serial = match.groupdict().get("serial")
        recorder = "AudioMoth" if name == "audiomoth" else _songmeter_model(serial)
        return FileMetadata(start, f"filename:{name}", recorder, serial)
    return FileMetadata(problem=problem)


_OFFSET = re.compile(r"(?P<sign>[+-])(?P<hours>\d{1,2})(?::?(?P<minutes>\d{2}))?")


def _utc_offset(text: str) -> timezone:
    """The zone of an AudioMoth ``UTC<text>``: ``""``, ``+1``, ``-5``, ``+10:30``, ``+0530``.

    Raises
    ------
    ValueError
        On anything else, or an offset beyond the real-world range (-12 h to +14 h).
    """
    if not text:
        return timezone.utc
    match = _OFFSET.fullmatch(text)
    if not match:
        raise ValueError(f"malformed UTC offset 'UTC{text}'")
    sign = -1 if match["sign"] == "-" else 1
    hours, minutes = int(match["hours"]), int(match["minutes"] or 0)
    offset = sign * timedelta(hours=hours, minutes=minutes)
    if minutes >= 60 or not timedelta(hours=-12) <= offset <= timedelta(hours=14):
        raise ValueError(f"UTC offset 'UTC{text}' is out of range")
    return timezone(offset)


def from_audiomoth_comment(comment: str | None) -> FileMetadata:
    """Parse an AudioMoth ``ICMT`` comment.

    Parameters
    ----------
    comment : str or None
        E.g. ``"Recorded at 10:25:00 04/04/2020 (UTC+1) by AudioMoth 24526B065D325963 ..."``.

    Returns
    -------
    FileMetadata
        Timezone-aware start, recorder ``"AudioMoth"`` and serial when present. An
        impossible date or a malformed offset gives no start and says why in ``problem``.
    """
    match = _AUDIOMOTH_COMMENT.search(comment or "")
    if not match:
        return FileMetadata()
    stamp = f"{match['time']} {match['date']} (UTC{match['offset']})"
    try:
        naive = datetime.strptime(f"{match['date']} {match['time']}", "%d/%m/%Y %H:%M:%S")
        start = naive.replace(tzinfo=_utc_offset(match["offset"]))
    except ValueError as error:
        problem = f"AudioMoth comment: {stamp!r} is not a valid time ({error})"
        return FileMetadata(recorder="AudioMoth", serial=match["serial"], problem=problem)
    return FileMetadata(start, "audiomoth_comment", "AudioMoth", match["serial"])


def parse_guano(text: str | None) -> dict[str, str]:
    """Split a GUANO text block into its ``key: value`` fields."""
    fields: dict[str, str] = {}
    for line in (text or "").splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


def from_guano(text: str | None) -> FileMetadata:
    """Read start time, recorder and serial from a GUANO chunk.

    Parameters
    ----------
    text : str or None
        The ``guan`` chunk body.

    Returns
    -------
    FileMetadata
        ``start`` is aware when the GUANO timestamp carries an offset or ``Z``; a
        timestamp that is not a valid ISO 8601 time gives no start and says why in ``problem``.
    """
    fields = parse_guano(text)
    start, problem = None, None
    stamp = fields.get("Timestamp")
    if stamp:
        try:
            start = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError as error:
            problem = f"GUANO Timestamp: {stamp!r} is not a valid ISO 8601 time ({error})"
    recorder = " ".join(v for v in (fields.get("Make"), fields.get("Model")) if v) or None
    return FileMetadata(start, "guano" if start else None, recorder, fields.get("Serial"), problem)


def merge(*sources: FileMetadata) -> FileMetadata:
    """Combine sources, earlier ones taking precedence field by field; problems add up."""
    merged = FileMetadata()
    for meta in sources:
        if merged.start is None and meta.start is not None:
            merged.start, merged.source = meta.start, meta.source
        merged.recorder = merged.recorder or meta.recorder
        merged.serial = merged.serial or meta.serial
        if meta.problem:
            merged.problem = f"{merged.problem}; {meta.problem}" if merged.problem else meta.problem
    return merged
