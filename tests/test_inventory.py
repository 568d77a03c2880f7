"""Inventory on real recordings, quirky real files and broken files made here."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from ecoae.archive.inventory import build_inventory, recording_id, write_inventory
from ecoae.store import read_parquet


@pytest.fixture(scope="module")
def real_inventory(shared_data):
    return build_inventory(shared_data / "archive", {"site_timezones": {"jura": "Europe/Paris"}})


def test_real_archive_sites_counts_durations_rates(real_inventory):
    rec = real_inventory.recordings
    assert len(rec) == 120
    assert real_inventory.quarantine.empty
    assert rec.groupby("site").size().to_dict() == {"dagua": 48 + 24, "jura": 48}
    by_site = rec.groupby("site")
    assert by_site["duration"].unique().map(list).to_dict() == {"dagua": [5.0], "jura": [10.0]}
    assert by_site["sample_rate"].unique().map(list).to_dict() == {"dagua": [22050], "jura": [22000]}


def test_real_archive_start_times_from_names(real_inventory):
    rec = real_inventory.recordings.set_index("path")
    row = rec.loc["jura/S4A03895_20190522_063000.wav"]
    assert row["local_start"] == pd.Timestamp("2019-05-22 06:30:00")
    # The site time zone applies to names: 06:30 in Paris (CEST) is 04:30 UTC.
    assert row["start_time"] == pd.Timestamp("2019-05-22 04:30:00", tz="UTC")
    assert row["timezone"] == "Europe/Paris"
    assert row["serial"] == "S4A03895" and row["recorder"] == "Song Meter SM4"
    sm3 = rec.loc["dagua/SM302298__0__20170326_140000.wav"]
    assert sm3["local_start"] == pd.Timestamp("2017-03-26 14:00:00")
    assert sm3["serial"] == "SM302298" and sm3["time_source"] == "filename:songmeter_sm3"


def test_partitions_are_site_and_local_date(real_inventory):
    parts = real_inventory.partitions()
    assert list(zip(parts["site"], parts["date"])) == [
        ("dagua", "2017-03-25"), ("dagua", "2017-03-26"), ("dagua", "2017-03-27"), ("jura", "2019-05-22")]
    assert parts["recordings"].tolist() == [24, 24, 24, 48]


def test_quirky_files(shared_data):
    inv = build_inventory(shared_data / "quirky")
    quarantined = dict(zip(inv.quarantine["path"], inv.quarantine["reason"]))
    assert "0 bytes" in quarantined["audiomoth_zero_bytes_20220104_183000.WAV"]
    assert "truncated" in quarantined["truncated_header_stereo_empty.wav"]
    assert "too short" in quarantined["stereo_float_5_frames.wav"]
    rec = inv.recordings.set_index("path")
    moth = rec.loc["audiomoth_comment_metadata.wav"]
    assert moth["time_source"] == "audiomoth_comment"
    assert moth["serial"] == "24526B065D325963" and moth["recorder"] == "AudioMoth"
    assert moth["start_time"] == pd.Timestamp("2020-04-04 10:25:00", tz="UTC")
    assert moth["timezone"] == "UTC"
    bat = rec.loc["guano_256khz_ANPA-103486.wav"]
    assert bat["time_source"] == "guano"
    assert bat["local_start"] == pd.Timestamp("2019-08-06 23:07:49")
    assert bat["sample_rate"] == 256000 and bat["recorder"] == "Wildlife Acoustics SMM-U1"
    assert rec.loc["wave_format_extensible_16khz.wav", "sample_rate"] == 16000
    assert rec.loc["digital_silence_10s.mp3", "format"].startswith("MP3")
    assert rec.loc["digital_silence_10s.mp3", "time_source"] == "file_mtime"


def test_audiomoth_comment_time_zone_overrides_config(tmp_path, shared_data):
    source = (shared_data / "quirky" / "audiomoth_comment_metadata.wav").read_bytes()
    patched = source.replace(b"10:25:00 04/04/2020 (UTC)", b"10:25:00 04/04/2020 (UTC+2)")
    assert patched != source
    (tmp_path / "moth").mkdir()
    (tmp_path / "moth" / "20200404_102500.WAV").write_bytes(patched)
    inv = build_inventory(tmp_path, {"timezone": "America/Bogota"})
    row = inv.recordings.iloc[0]
    assert row["start_time"] == pd.Timestamp("2020-04-04 08:25:00", tz="UTC")
    assert row["timezone"] == "UTC+02:00" and row["local_start"] == pd.Timestamp("2020-04-04 10:25:00")


def test_broken_files_made_here_are_quarantined(tmp_path, shared_data):
    site = tmp_path / "site1"
    site.mkdir()
    real = (shared_data / "archive" / "jura" / "S4A03895_20190522_063000.wav").read_bytes()
    (site / "20200101_000000.wav").write_bytes(real)  # intact control
    (site / "20200101_010000.wav").write_bytes(real[: len(real) // 2])  # cut mid-data
    bad_chunks = bytearray(real)
    bad_chunks[12:36] = b"\xff" * 24  # the fmt chunk header and body destroyed
    (site / "20200101_020000.wav").write_bytes(bytes(bad_chunks))
    bad_format = bytearray(real)
    bad_format[20:36] = b"\xff" * 16  # fmt chunk intact, its body (format, rate...) garbage
    (site / "20200101_023000.wav").write_bytes(bytes(bad_format))
    (site / "20200101_030000.wav").write_text("this is a text file, not audio\n")
    inv = build_inventory(tmp_path)
    assert inv.recordings["path"].tolist() == ["site1/20200101_000000.wav"]
    reasons = dict(zip(inv.quarantine["path"], inv.quarantine["reason"]))
    assert "truncated" in reasons["site1/20200101_010000.wav"]
    assert "corrupted" in reasons["site1/20200101_020000.wav"]
    assert "unreadable" in reasons["site1/20200101_023000.wav"]
    assert "unreadable" in reasons["site1/20200101_030000.wav"]
    # Accepting truncation uses the readable half.
    lenient = build_inventory(tmp_path, {"accept_truncated": True})
    half = lenient.recordings.set_index("path").loc["site1/20200101_010000.wav", "duration"]
    assert half == pytest.approx(5.0, abs=0.01)


def test_non_ascii_path(tmp_path, write_tone):
    write_tone(tmp_path / "forêt_été" / "20210621_053000.WAV", 2.0)
    inv = build_inventory(tmp_path)
    row = inv.recordings.iloc[0]
    assert row["site"] == "forêt_été" and row["path"] == "forêt_été/20210621_053000.WAV"
    assert row["recording_id"] == recording_id("forêt_été/20210621_053000.WAV")


def test_manifests_rewritten_only_when_partition_changes(tmp_path, write_tone):
    archive, out, cache = tmp_path / "archive", tmp_path / "inventory", tmp_path / "cache"
    write_tone(archive / "a" / "20210101_000000.wav", 2.0)
    write_tone(archive / "b" / "20210101_000000.wav", 2.0)
    assert write_inventory(build_inventory(archive, cache_dir=cache), out)["written"] == 2
    manifest_a = out / "partitions" / "site=a" / "date=2021-01-01.parquet"
    stamp = manifest_a.stat().st_mtime_ns
    write_tone(archive / "b" / "20210101_010000.wav", 2.0)
    counts = write_inventory(build_inventory(archive, cache_dir=cache), out)
    assert counts == {"partitions": 2, "written": 1, "removed": 0}
    assert manifest_a.stat().st_mtime_ns == stamp
    manifest_b = out / "partitions" / "site=b" / "date=2021-01-01.parquet"
    assert len(read_parquet(manifest_b)) == 2
    stamp_b = manifest_b.stat().st_mtime_ns
    write_tone(archive / "a" / "20210101_010000.wav", 2.0)  # a partition before b changes
    assert write_inventory(build_inventory(archive, cache_dir=cache), out)["written"] == 1
    assert manifest_b.stat().st_mtime_ns == stamp_b
    shutil.rmtree(archive / "a")
    counts = write_inventory(build_inventory(archive, cache_dir=cache), out)
    assert counts["removed"] == 1 and not manifest_a.exists()


def test_bad_config_names_the_key(tmp_path, write_tone):
    write_tone(tmp_path / "a" / "20210101_000000.wav", 1.5)
    with pytest.raises(ValueError, match="inventory.timezone"):
        build_inventory(tmp_path, {"timezone": "Mars/Olympus"})
    with pytest.raises(ValueError, match="site_pattern"):
        build_inventory(tmp_path, {"site_pattern": "^([^/]+)/"})
    with pytest.raises(FileNotFoundError, match="--config archive="):
        build_inventory(tmp_path / "missing")


def test_prune_removes_only_partitions_that_left(tmp_path, write_tone):
    from ecoae.archive.inventory import prune_orphan_partitions

    archive, results = tmp_path / "archive", tmp_path / "results"
    write_tone(archive / "a" / "20210101_000000.wav", 2.0)
    for store in ("segments", "features/mfcc", "features/ae-x"):
        for key in ("site=a/date=2021-01-01", "site=b/date=2021-01-01"):
            (results / store / key).mkdir(parents=True)
            (results / store / key / "part-0.parquet").write_bytes(b"x")
    removed = prune_orphan_partitions(results, build_inventory(archive).partitions())
    assert len(removed) == 3
    assert sorted(p.relative_to(results).as_posix() for p in results.rglob("part-0.parquet")) == [
        "features/ae-x/site=a/date=2021-01-01/part-0.parquet",
        "features/mfcc/site=a/date=2021-01-01/part-0.parquet",
        "segments/site=a/date=2021-01-01/part-0.parquet"]
    assert not (results / "segments" / "site=b").exists()
