"""The archive listing kept by the fingerprint: the inventory reads it instead of walking the archive,
only when it is the listing of the fingerprint it is told, and never misses a change."""

from __future__ import annotations

import json
import logging
import os
import shutil

import pandas as pd
import pyarrow.parquet as pq
import pytest

import ecoae.archive.inventory as inventory_module
from ecoae.archive.fingerprint import (
    LISTING_FILE, NOT_FOLLOWED, archive_fingerprint, iter_audio_files, read_listing, scan_archive,
)
from ecoae.archive.inventory import MANIFEST_TOKEN_FILE, build_inventory, write_inventory
from ecoae.cli import main
from ecoae.settings import InventorySettings

EXTENSIONS = list(InventorySettings().extensions)


@pytest.fixture
def archive(tmp_path, write_tone):
    root = tmp_path / "archive"
    write_tone(root / "a" / "20210101_000000.wav", 2.0)
    write_tone(root / "a" / "20210102_000000.wav", 2.0)
    write_tone(root / "b" / "20210101_000000.wav", 2.0)
    (root / "b" / "20210101_010000.wav").write_bytes(b"")  # quarantined
    return root


@pytest.fixture
def walks(monkeypatch):
    """The archives the inventory walked itself, in a list."""
    seen = []
    real_scan = inventory_module.scan_archive

    def counting_scan(archive, *args, **kwargs):
        seen.append(archive)
        return real_scan(archive, *args, **kwargs)

    monkeypatch.setattr(inventory_module, "scan_archive", counting_scan)
    return seen


@pytest.fixture
def probes(monkeypatch):
    """The archive-relative paths probed, in a list."""
    seen = []
    real_probe = inventory_module.probe

    def counting_probe(path, *args):
        seen.append(f"{path.parent.name}/{path.name}")
        return real_probe(path, *args)

    monkeypatch.setattr(inventory_module, "probe", counting_probe)
    return seen


def _fingerprint(archive, cache, follow_links=False):
    return archive_fingerprint(archive, EXTENSIONS, follow_links, listing_dir=cache)


def test_every_kind_of_change_changes_the_fingerprint(archive):
    def fingerprint():
        return archive_fingerprint(archive, EXTENSIONS)

    first = fingerprint()
    seen = {first}
    assert fingerprint() == first, "an untouched archive keeps its fingerprint"
    shutil.copy(archive / "a" / "20210101_000000.wav", archive / "a" / "20210103_000000.wav")  # new
    seen.add(fingerprint())
    os.rename(archive / "a" / "20210103_000000.wav", archive / "a" / "20210104_000000.wav")  # renamed
    seen.add(fingerprint())
    with open(archive / "a" / "20210104_000000.wav", "ab") as handle:  # resized
        handle.write(b"\0\0")
    seen.add(fingerprint())
    os.utime(archive / "a" / "20210104_000000.wav", ns=(10**18, 10**18))  # touched
    seen.add(fingerprint())
    (archive / "a" / "20210104_000000.wav").unlink()  # removed: the archive is as it was
    assert fingerprint() == first
    (archive / "a" / "notes.txt").write_text("not audio")  # not an audio file: no change
    (archive / "a" / ".hidden.wav").write_bytes(b"")  # hidden: no change
    assert fingerprint() == first
    (archive / "b" / "20210101_010000.wav").unlink()  # removed
    seen.add(fingerprint())
    assert len(seen) == 6


def test_scan_archive_is_the_walk_of_iter_audio_files(archive, tmp_path, write_tone):
    write_tone(tmp_path / "outside" / "20210105_000000.wav", 1.0)
    os.symlink(tmp_path / "outside" / "20210105_000000.wav", archive / "a" / "20210105_000000.wav")
    os.symlink(tmp_path / "outside", archive / "c")
    skipped = []
    listing = scan_archive(archive, EXTENSIONS, on_skip=lambda *entry: skipped.append(entry))
    assert list(listing.files()) == list(iter_audio_files(archive, EXTENSIONS))
    assert listing.relative[-1] == "b/20210101_010000.wav" and "a/20210105_000000.wav" in listing.relative
    assert listing.skipped == skipped == [("c", NOT_FOLLOWED)]


def test_the_inventory_reads_the_listing_of_its_fingerprint(archive, tmp_path, walks):
    cache = tmp_path / "cache"
    walked = build_inventory(archive, cache_dir=tmp_path / "other")
    assert len(walks) == 1
    fingerprint = _fingerprint(archive, cache)
    assert (cache / LISTING_FILE).exists()
    listed = build_inventory(archive, cache_dir=cache, fingerprint=fingerprint)
    assert len(walks) == 1, "the archive was not walked again"
    pd.testing.assert_frame_equal(listed.recordings, walked.recordings)
    pd.testing.assert_frame_equal(listed.quarantine, walked.quarantine)
    assert listed.recordings["path"].tolist() == ["a/20210101_000000.wav", "a/20210102_000000.wav",
                                                  "b/20210101_000000.wav"]


def test_a_listing_is_used_only_under_its_own_fingerprint(archive, tmp_path, walks):
    cache = tmp_path / "cache"
    fingerprint = _fingerprint(archive, cache)
    build_inventory(archive, cache_dir=cache, fingerprint="0" * 64)  # another fingerprint: walked
    build_inventory(archive, cache_dir=cache)  # no fingerprint: walked
    build_inventory(archive, {"follow_links": True}, cache_dir=cache, fingerprint=fingerprint)  # another walk
    build_inventory(archive, {"extensions": ["wav", "mp3"]}, cache_dir=cache, fingerprint=fingerprint)
    assert len(walks) == 4
    assert read_listing(cache, fingerprint, archive, EXTENSIONS, False) is not None
    assert read_listing(cache, fingerprint, archive.parent, EXTENSIONS, False) is None  # another archive
    (cache / LISTING_FILE).write_bytes(b"ARROW1 damaged")
    assert build_inventory(archive, cache_dir=cache, fingerprint=fingerprint).recordings.shape[0] == 3
    assert len(walks) == 5, "a damaged listing is walked around"


def test_a_file_changed_after_the_fingerprint_is_seen(archive, tmp_path, probes):
    cache = tmp_path / "cache"
    before = _fingerprint(archive, cache)
    build_inventory(archive, cache_dir=cache, fingerprint=before)
    assert len(probes) == 4
    changed = archive / "a" / "20210101_000000.wav"
    os.utime(changed, ns=(10**18, 10**18))
    # Told the old fingerprint, the inventory is the one of the archive that fingerprint saw...
    stale = build_inventory(archive, cache_dir=cache, fingerprint=before)
    assert len(probes) == 4
    # ...which Snakemake re-runs, as the fingerprint it computes now is another one.
    after = _fingerprint(archive, cache)
    assert after != before
    fresh = build_inventory(archive, cache_dir=cache, fingerprint=after)
    assert probes[4:] == ["a/20210101_000000.wav"]
    mtimes = dict(zip(fresh.recordings["path"], fresh.recordings["file_mtime_ns"]))
    assert mtimes["a/20210101_000000.wav"] == 10**18
    assert stale.recordings["file_mtime_ns"].tolist() != fresh.recordings["file_mtime_ns"].tolist()
    # Without a fingerprint, the walk sees it too.
    os.utime(changed, ns=(2 * 10**18, 2 * 10**18))
    walked = build_inventory(archive, cache_dir=cache)
    assert probes[5:] == ["a/20210101_000000.wav"]
    assert 2 * 10**18 in walked.recordings["file_mtime_ns"].tolist()


def test_new_and_removed_files_after_the_fingerprint(archive, tmp_path, probes):
    cache = tmp_path / "cache"
    build_inventory(archive, cache_dir=cache, fingerprint=_fingerprint(archive, cache))
    shutil.copy(archive / "a" / "20210101_000000.wav", archive / "b" / "20210102_000000.wav")
    (archive / "a" / "20210102_000000.wav").unlink()
    inventory = build_inventory(archive, cache_dir=cache, fingerprint=_fingerprint(archive, cache))
    assert probes[4:] == ["b/20210102_000000.wav"]
    assert inventory.recordings["path"].tolist() == ["a/20210101_000000.wav", "b/20210101_000000.wav",
                                                     "b/20210102_000000.wav"]
    assert inventory.quarantine["path"].tolist() == ["b/20210101_010000.wav"]


def test_links_left_out_are_reported_again_from_the_listing(archive, tmp_path, caplog):
    os.symlink(archive / "a", archive / "c")
    cache = tmp_path / "cache"
    fingerprint = _fingerprint(archive, cache)
    with caplog.at_level(logging.WARNING, logger="ecoae"):
        build_inventory(archive, cache_dir=cache, fingerprint=fingerprint)
    assert [r.getMessage() for r in caplog.records if r.getMessage().startswith("skipped ")] == [
        f"skipped c: {NOT_FOLLOWED}"]


def test_duplicates_from_a_listing(archive, tmp_path):
    os.link(archive / "a" / "20210101_000000.wav", archive / "b" / "20210105_000000.wav")  # one file, two paths
    cache = tmp_path / "cache"
    inventory = build_inventory(archive, cache_dir=cache, fingerprint=_fingerprint(archive, cache))
    assert "b/20210105_000000.wav" not in inventory.recordings["path"].tolist()
    reasons = dict(zip(inventory.quarantine["path"], inventory.quarantine["reason"]))
    assert reasons["b/20210105_000000.wav"].startswith("duplicate of a/20210101_000000.wav")


def test_the_command_takes_the_fingerprint(archive, tmp_path, walks, caplog):
    out, cache = tmp_path / "results" / "inventory", tmp_path / "results" / ".cache" / "inventory"
    fingerprint = _fingerprint(archive, cache)
    command = ["inventory", str(archive), "--out-dir", str(out), "--cache-dir", str(cache),
               "--settings", json.dumps({"extensions": EXTENSIONS}), "--fingerprint", fingerprint]
    with caplog.at_level(logging.INFO, logger="ecoae"):
        assert main(command) == 0
    assert walks == []
    assert any("archive listing taken from the fingerprint" in r.getMessage() for r in caplog.records)
    assert len(pd.read_parquet(out / "recordings.parquet")) == 3


def test_manifests_written_by_threads_are_those_one_thread_writes(archive, tmp_path):
    one, many = tmp_path / "one", tmp_path / "many"
    for out, threads in ((one, 1), (many, 4)):
        counts = write_inventory(build_inventory(archive, cache_dir=out / "cache"), out, threads)
        assert counts == {"partitions": 3, "written": 3, "removed": 0}
    manifests = sorted(path.relative_to(one) for path in one.glob("partitions/site=*/date=*.parquet"))
    assert manifests == sorted(path.relative_to(many) for path in many.glob("partitions/site=*/date=*.parquet"))
    for relative in manifests:
        assert pq.read_table(one / relative).equals(pq.read_table(many / relative))
    token = json.loads((many / "partitions" / MANIFEST_TOKEN_FILE).read_text())
    assert sorted(token["manifests"]) == sorted(str(path.relative_to("partitions")) for path in manifests)
    assert all(stamp for stamp in token["manifests"].values())
    inventory = build_inventory(archive, cache_dir=many / "cache")
    assert write_inventory(inventory, many, 4)["written"] == 0
