"""File-name conventions, AudioMoth comments and GUANO parsing."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ecoae.archive.metadata import (
    FileMetadata, compile_patterns, from_audiomoth_comment, from_filename, from_guano, merge,
)

PATTERNS = compile_patterns()


@pytest.mark.parametrize(
    ("stem", "start", "serial", "source"),
    [
        ("20220104_183000", datetime(2022, 1, 4, 18, 30), None, "filename:audiomoth"),
        ("S4A03895_20190522_063000", datetime(2019, 5, 22, 6, 30), "S4A03895", "filename:songmeter"),
        ("SM302298__0__20170325_230000", datetime(2017, 3, 25, 23), "SM302298", "filename:songmeter_sm3"),
        ("plot7-2021-05-01T06-30-00", datetime(2021, 5, 1, 6, 30), None, "filename:generic"),
        ("no_time_here", None, None, None),
        ("20221399_250000", None, None, None),  # impossible date and time
    ],
)
def test_filename_conventions(stem, start, serial, source):
    meta = from_filename(stem, PATTERNS)
    assert (meta.start, meta.serial, meta.source) == (start, serial, source)


def test_user_regex_wins_and_must_name_groups():
    patterns = compile_patterns([r"^(?P<serial>\w+)-(?P<date>\d{8})-(?P<time>\d{6})"])
    meta = from_filename("MOTH7-20230102-030405", patterns)
    assert meta.start == datetime(2023, 1, 2, 3, 4, 5) and meta.source == "filename:config:0"
    with pytest.raises(ValueError, match="named group"):
        compile_patterns([r"(\d{8})_(\d{6})"])


@pytest.mark.parametrize(
    ("zone", "offset"),
    [("(UTC)", timedelta(0)), ("(UTC+1)", timedelta(hours=1)), ("(UTC-5)", timedelta(hours=-5)),
     ("(UTC+10:30)", timedelta(hours=10, minutes=30))],
)
def test_audiomoth_comment(zone, offset):
    comment = f"Recorded at 19:30:00 04/01/2022 {zone} by AudioMoth 24F319055FDF2F5B at medium gain."
    meta = from_audiomoth_comment(comment)
    assert meta.start == datetime(2022, 1, 4, 19, 30, tzinfo=timezone(offset))
    assert meta.serial == "24F319055FDF2F5B" and meta.recorder == "AudioMoth"


def test_guano_with_and_without_offset():
    naive = from_guano("GUANO|Version: 1.0\nTimestamp: 2019-08-06T23:07:49\nMake: Wildlife Acoustics\nSerial: X1")
    assert naive.start == datetime(2019, 8, 6, 23, 7, 49) and naive.serial == "X1"
    aware = from_guano("GUANO|Version: 1.0\nTimestamp: 2019-08-06T23:07:49-05:00")
    assert aware.start.utcoffset() == timedelta(hours=-5)
    assert from_guano("GUANO|Version: 1.0\nTimestamp: garbage").start is None


def test_impossible_audiomoth_date_gives_no_start_and_says_why():
    meta = from_audiomoth_comment("Recorded at 12:00:00 31/02/2024 (UTC) by AudioMoth 24F319055FDF2F5B")
    assert meta.start is None and meta.source is None
    assert meta.serial == "24F319055FDF2F5B" and meta.recorder == "AudioMoth"
    assert "31/02/2024" in meta.problem and "day is out of range" in meta.problem


@pytest.mark.parametrize("zone", ["(UTC+25)", "(UTC+ab)", "(UTC+5:75)", "(UTC-13)", "(UTC+1:2)", "(UTC 1)"])
def test_malformed_audiomoth_offset_gives_no_start_and_says_why(zone):
    meta = from_audiomoth_comment(f"Recorded at 19:30:00 04/01/2022 {zone} by AudioMoth 24F319055FDF2F5B")
    assert meta.start is None and meta.serial == "24F319055FDF2F5B"
    assert "UTC offset" in meta.problem


@pytest.mark.parametrize("stamp", ["2019-02-30T23:07:49", "2019-08-06T23:07:49+25:00", "garbage"])
def test_bad_guano_timestamp_gives_no_start_and_says_why(stamp):
    meta = from_guano(f"GUANO|Version: 1.0\nTimestamp: {stamp}\nSerial: X1")
    assert meta.start is None and meta.serial == "X1"
    assert meta.problem.startswith(f"GUANO Timestamp: {stamp!r}")


def test_impossible_date_in_a_name_is_a_problem():
    assert "20240231 120000" in from_filename("20240231_120000", PATTERNS).problem
    assert from_filename("no_time_here", PATTERNS).problem is None


def test_merge_keeps_the_first_start_and_every_problem():
    broken = FileMetadata(recorder="AudioMoth", problem="comment broken")
    named = FileMetadata(datetime(2024, 3, 1, 12), "filename:audiomoth", problem=None)
    odd = FileMetadata(problem="name odd")
    merged = merge(broken, named, odd)
    assert merged.start == datetime(2024, 3, 1, 12) and merged.source == "filename:audiomoth"
    assert merged.recorder == "AudioMoth" and merged.problem == "comment broken; name odd"
    assert merge(FileMetadata(), named).problem is None
