"""The inventory cache: unchanged files are not probed again, even after Snakemake cleared the outputs."""

from __future__ import annotations

import logging
import os
import shutil

import pandas as pd
import pytest

import ecoae.archive.inventory as inventory_module
from ecoae.archive.inventory import CACHE_FILE, build_inventory, write_inventory
from ecoae.cli import main


@pytest.fixture
def probes(monkeypatch):
    """The paths probed, in a list."""
    seen = []
    real_probe = inventory_module.probe

    def counting_probe(path, *args):
        seen.append(path.name)
        return real_probe(path, *args)

    monkeypatch.setattr(inventory_module, "probe", counting_probe)
    return seen


@pytest.fixture
def archive(tmp_path, write_tone):
    root = tmp_path / "archive"
    write_tone(root / "a" / "20210101_000000.wav", 2.0)
    write_tone(root / "b" / "20210101_000000.wav", 2.0)
    (root / "b" / "20210101_010000.wav").write_bytes(b"")  # quarantined
    return root


def test_unchanged_files_are_taken_from_the_cache(archive, tmp_path, probes):
    cache = tmp_path / "cache"
    first = build_inventory(archive, cache_dir=cache)
    assert len(probes) == 3 and (cache / CACHE_FILE).exists()
    stamp = (cache / CACHE_FILE).stat().st_mtime_ns
    again = build_inventory(archive, cache_dir=cache)
    assert len(probes) == 3, "nothing probed again"
    pd.testing.assert_frame_equal(again.recordings, first.recordings)
    pd.testing.assert_frame_equal(again.quarantine, first.quarantine)
    assert (cache / CACHE_FILE).stat().st_mtime_ns == stamp, "an unchanged inventory leaves the cache alone"

    os.utime(archive / "a" / "20210101_000000.wav", ns=(10**18, 10**18))  # changed: probed again
    shutil.copy(archive / "b" / "20210101_000000.wav", archive / "b" / "20210102_000000.wav")
    (archive / "b" / "20210101_010000.wav").unlink()
    third = build_inventory(archive, cache_dir=cache)
    assert sorted(probes[3:]) == ["20210101_000000.wav", "20210102_000000.wav"]
    assert third.recordings["path"].tolist() == [
        "a/20210101_000000.wav", "b/20210101_000000.wav", "b/20210102_000000.wav"]
    assert third.quarantine.empty
    build_inventory(archive, cache_dir=cache)
    assert len(probes) == 5


def test_other_settings_do_not_use_the_cache(archive, tmp_path, probes):
    cache = tmp_path / "cache"
    build_inventory(archive, cache_dir=cache)
    build_inventory(archive, {"timezone": "Europe/Paris"}, cache_dir=cache)
    assert len(probes) == 6
    build_inventory(archive, {"timezone": "Europe/Paris"}, min_seconds=3.0, cache_dir=cache)
    assert len(probes) == 9


def test_a_damaged_cache_is_ignored(archive, tmp_path, probes, caplog):
    cache = tmp_path / "cache"
    build_inventory(archive, cache_dir=cache)
    (cache / CACHE_FILE).write_bytes(b"PAR1 not really")
    with caplog.at_level(logging.WARNING, logger="ecoae"):
        inventory = build_inventory(archive, cache_dir=cache)
    assert len(probes) == 6 and len(inventory.recordings) == 2
    assert any("ignoring the inventory cache" in r.getMessage() for r in caplog.records)
    build_inventory(archive, cache_dir=cache)
    assert len(probes) == 6, "the cache was rewritten"


def test_the_command_keeps_its_cache_when_the_outputs_are_deleted(archive, tmp_path, probes, caplog):
    out, cache = tmp_path / "results" / "inventory", tmp_path / "results" / ".cache" / "inventory"
    command = ["inventory", str(archive), "--out-dir", str(out), "--cache-dir", str(cache)]
    assert main(command) == 0
    shutil.rmtree(out)  # what Snakemake does to a checkpoint's outputs before it runs again
    with caplog.at_level(logging.INFO, logger="ecoae"):
        assert main(command) == 0
    assert len(probes) == 3
    assert any("(3 unchanged since the last inventory)" in r.getMessage() for r in caplog.records)
    assert (out / "recordings.parquet").exists()


def test_write_inventory_after_a_cached_build_writes_nothing_new(archive, tmp_path):
    out, cache = tmp_path / "inventory", tmp_path / "cache"
    assert write_inventory(build_inventory(archive, cache_dir=cache), out)["written"] == 2
    assert write_inventory(build_inventory(archive, cache_dir=cache), out)["written"] == 0


def test_a_damaged_or_deleted_manifest_is_written_again(archive, tmp_path):
    out, cache = tmp_path / "inventory", tmp_path / "cache"
    write_inventory(build_inventory(archive, cache_dir=cache), out)
    manifest_a = out / "partitions" / "site=a" / "date=2021-01-01.parquet"
    manifest_b = out / "partitions" / "site=b" / "date=2021-01-01.parquet"
    manifest_a.write_bytes(b"PAR1")
    manifest_b.unlink()
    assert write_inventory(build_inventory(archive, cache_dir=cache), out)["written"] == 2
    assert len(pd.read_parquet(manifest_a)) == 1 and len(pd.read_parquet(manifest_b)) == 1


def test_a_cache_that_cannot_be_written_does_not_stop_the_inventory(archive, tmp_path, caplog):
    blocked = tmp_path / "not_a_folder"
    blocked.write_text("")
    with caplog.at_level(logging.WARNING, logger="ecoae"):
        inventory = build_inventory(archive, cache_dir=blocked / "cache")
    assert len(inventory.recordings) == 2
    assert any("could not be written" in r.getMessage() for r in caplog.records)
