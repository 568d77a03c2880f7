"""Links, loops, hidden files: each real audio file is one recording, and the scan always ends."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from ecoae.archive.fingerprint import INSIDE, LOOP, NOT_FOLLOWED, archive_fingerprint, iter_audio_files
from ecoae.archive.inventory import build_inventory

DUPLICATE = "(the same file reached through a link)"


def _skipped(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("skipped ")]


@pytest.fixture
def linked(tmp_path, write_tone) -> Path:
    """Two real files; ``siteA/card2 -> ../siteB`` and ``siteC -> siteA``."""
    archive = tmp_path / "archive"
    write_tone(archive / "siteA" / "20240101_000000.wav", 1.5)
    write_tone(archive / "siteB" / "20240101_010000.wav", 1.5)
    os.symlink("../siteB", archive / "siteA" / "card2")
    os.symlink("siteA", archive / "siteC")
    return archive


def test_symlink_loop_is_skipped_with_a_warning(tmp_path, write_tone, caplog):
    write_tone(tmp_path / "site" / "20240101_000000.wav", 1.5)
    os.symlink(".", tmp_path / "site" / "loop")
    with caplog.at_level(logging.WARNING, logger="ecoae"):
        inventory = build_inventory(tmp_path)
    assert inventory.recordings["path"].tolist() == ["site/20240101_000000.wav"]
    assert _skipped(caplog) == [f"skipped site/loop: {NOT_FOLLOWED}"]
    with caplog.at_level(logging.WARNING, logger="ecoae"):
        caplog.clear()
        followed = build_inventory(tmp_path, {"follow_links": True})
    assert followed.recordings["path"].tolist() == ["site/20240101_000000.wav"]
    assert _skipped(caplog) == [f"skipped site/loop: {LOOP}"]
    assert archive_fingerprint(tmp_path, ["wav"]) == archive_fingerprint(tmp_path, ["wav"], follow_links=True)


def test_folder_links_are_not_followed_by_default(linked, caplog):
    with caplog.at_level(logging.WARNING, logger="ecoae"):
        inventory = build_inventory(linked)
    rows = inventory.recordings
    assert rows["path"].tolist() == ["siteA/20240101_000000.wav", "siteB/20240101_010000.wav"]
    assert rows["site"].tolist() == ["siteA", "siteB"] and inventory.quarantine.empty
    assert sorted(_skipped(caplog)) == [f"skipped siteA/card2: {NOT_FOLLOWED}", f"skipped siteC: {NOT_FOLLOWED}"]


def test_following_links_never_counts_a_file_twice(linked, tmp_path, write_tone, caplog):
    outside = write_tone(tmp_path / "elsewhere" / "20240102_000000.wav", 1.5).parent
    os.symlink(outside, linked / "siteD")
    os.symlink(linked / "siteA", outside / "back")  # from outside back into the archive
    os.symlink(".", outside / "loop")  # a loop outside the archive
    os.symlink(tmp_path, linked / "siteE")  # the folder around the archive
    write_tone(linked / "siteB" / "sub" / "20240101_020000.wav", 1.5)
    os.symlink("../siteB/sub", linked / "siteA" / "deep")  # scanned before siteB/sub is reached
    with caplog.at_level(logging.WARNING, logger="ecoae"):
        inventory = build_inventory(linked, {"follow_links": True})
    assert inventory.recordings["path"].tolist() == [
        "siteA/20240101_000000.wav", "siteB/20240101_010000.wav", "siteB/sub/20240101_020000.wav",
        "siteD/20240102_000000.wav"]
    assert inventory.quarantine.empty
    assert sorted(_skipped(caplog)) == [
        f"skipped siteA/card2: {LOOP}", f"skipped siteA/deep: {INSIDE}", f"skipped siteC: {LOOP}",
        f"skipped siteD/back: {LOOP}", f"skipped siteD/loop: {LOOP}", f"skipped siteE/archive: {LOOP}",
        f"skipped siteE/elsewhere: {LOOP}"]
    # The fingerprint walks the same way: following changes what it sees.
    assert archive_fingerprint(linked, ["wav"]) != archive_fingerprint(linked, ["wav"], follow_links=True)


def test_a_file_reached_twice_is_one_recording_the_other_path_quarantined(linked):
    os.symlink("../siteA/20240101_000000.wav", linked / "siteB" / "20240101_000000.wav")
    os.link(linked / "siteB" / "20240101_010000.wav", linked / "siteB" / "copy_20240101_010000.wav")
    inventory = build_inventory(linked)
    assert inventory.recordings["path"].tolist() == ["siteA/20240101_000000.wav", "siteB/20240101_010000.wav"]
    reasons = dict(zip(inventory.quarantine["path"], inventory.quarantine["reason"]))
    assert reasons == {
        "siteB/20240101_000000.wav": f"duplicate of siteA/20240101_000000.wav {DUPLICATE}",
        "siteB/copy_20240101_010000.wav": f"duplicate of siteB/20240101_010000.wav {DUPLICATE}",
    }
    assert inventory.quarantine["site"].tolist() == ["siteB", "siteB"]


def test_hidden_files_resource_forks_broken_links_and_pipes_are_left_out(tmp_path, write_tone, caplog):
    write_tone(tmp_path / "site" / "20240101_000000.wav", 1.5)
    (tmp_path / "site" / "._20240101_000000.wav").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    write_tone(tmp_path / "site" / ".Trashes" / "20240101_020000.wav", 1.5)
    write_tone(tmp_path / ".hidden_site" / "20240101_030000.wav", 1.5)
    os.symlink("missing.wav", tmp_path / "site" / "broken.wav")
    os.mkfifo(tmp_path / "site" / "pipe.wav")
    with caplog.at_level(logging.WARNING, logger="ecoae"):
        inventory = build_inventory(tmp_path)
    assert inventory.recordings["path"].tolist() == ["site/20240101_000000.wav"] and inventory.quarantine.empty
    skipped = [message.split(":")[0] for message in _skipped(caplog)]
    assert skipped == ["skipped site/broken.wav", "skipped site/pipe.wav"]
    assert [found.relative for found in iter_audio_files(tmp_path, ["wav"])] == ["site/20240101_000000.wav"]
