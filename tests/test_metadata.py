"""File-name conventions, AudioMoth comments and GUANO parsing."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ecoae.archive.metadata import compile_patterns, from_audiomoth_comment, from_filename, from_guano

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
