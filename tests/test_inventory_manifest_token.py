"""Re-inventories hash only the manifests of partitions whose files changed, when the cache allows it."""

from __future__ import annotations

import shutil

import pytest

import ecoae.archive.inventory as inventory_module
from ecoae.archive.inventory import MANIFEST_TOKEN_FILE, build_inventory, write_inventory


@pytest.fixture
def hashed(monkeypatch):
    """The date of each partition table hashed, in a list."""
    seen = []
    real_hash = inventory_module._content_hash

    def counting_hash(table):
        seen.append(table["date"][0].as_py())
        return real_hash(table)

    monkeypatch.setattr(inventory_module, "_content_hash", counting_hash)
    return seen


@pytest.fixture
def archive(tmp_path, write_tone):
    root = tmp_path / "archive"
    for day in ("01", "02", "03"):
        write_tone(root / "a" / f"202101{day}_000000.wav", 2.0)
    return root


def _inventory(archive, out, cache):
    return write_inventory(build_inventory(archive, cache_dir=cache), out)


def test_only_partitions_with_changed_files_are_hashed(archive, tmp_path, hashed):
    out, cache = tmp_path / "inventory", tmp_path / "cache"
    assert _inventory(archive, out, cache)["written"] == 3 and len(hashed) == 3
    manifests = sorted((out / "partitions").rglob("*.parquet"))
    stamps = [path.stat().st_mtime_ns for path in manifests]

    assert _inventory(archive, out, cache)["written"] == 0
    assert len(hashed) == 3, "nothing changed: nothing hashed"
    shutil.copy(archive / "a" / "20210102_000000.wav", archive / "a" / "20210102_010000.wav")
    assert _inventory(archive, out, cache)["written"] == 1
    assert hashed[3:] == ["2021-01-02"]
    (archive / "a" / "20210103_000000.wav").unlink()
    counts = _inventory(archive, out, cache)
    assert (counts["written"], counts["removed"], hashed[4:]) == (0, 1, [])
    assert [path.stat().st_mtime_ns for path in manifests[:1]] == stamps[:1]

    manifests[0].unlink()
    assert _inventory(archive, out, cache)["written"] == 1, "a manifest deleted by hand is written again"


def test_manifests_written_otherwise_are_all_hashed(archive, tmp_path, hashed):
    out, cache = tmp_path / "inventory", tmp_path / "cache"
    _inventory(archive, out, cache)
    write_inventory(build_inventory(archive), out)  # without the cache: the token goes
    assert not (out / "partitions" / MANIFEST_TOKEN_FILE).exists() and len(hashed) == 6
    _inventory(archive, out, cache)
    assert len(hashed) == 9
    (archive / "a" / "20210104_000000.wav").write_bytes((archive / "a" / "20210101_000000.wav").read_bytes())
    build_inventory(archive, cache_dir=cache)  # the cache moves on, the manifests are not written
    assert _inventory(archive, out, cache)["written"] == 1
    assert len(hashed) == 13, "the manifests were not written from the cache: all hashed"


def test_a_manifest_touched_since_is_hashed(archive, tmp_path, hashed):
    out, cache = tmp_path / "inventory", tmp_path / "cache"
    _inventory(archive, out, cache)
    manifest = out / "partitions" / "site=a" / "date=2021-01-02.parquet"
    manifest.write_bytes(manifest.read_bytes())
    assert _inventory(archive, out, cache)["written"] == 0
    assert hashed[3:] == ["2021-01-02"]
