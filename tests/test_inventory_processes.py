"""Many files are probed by worker processes, with the same rows as threads give."""

from __future__ import annotations

import shutil

import pandas as pd

import ecoae.archive.inventory as inventory_module
from ecoae.archive.inventory import build_inventory


def test_processes_give_the_rows_threads_give(shared_data, tmp_path, monkeypatch):
    archive = tmp_path / "archive"
    shutil.copytree(shared_data / "archive", archive)
    (archive / "jura" / "20190601_000000.wav").write_bytes(b"")
    (archive / "jura" / "20190601_010000.wav").write_bytes(b"RIFF\0\0\0\0WAVEfmt ")
    threads = build_inventory(archive, threads=2)
    monkeypatch.setattr(inventory_module, "_PROCESS_MIN_FILES", 10)
    monkeypatch.setattr(inventory_module, "_CHUNK_FILES", 7)
    pools = []
    real_pool = inventory_module._pool
    monkeypatch.setattr(inventory_module, "_pool", lambda *args: pools.append(real_pool(*args)) or pools[-1])
    processes = build_inventory(archive, threads=2)
    assert [type(pool).__name__ for pool in pools] == ["ProcessPoolExecutor"]
    pd.testing.assert_frame_equal(processes.recordings, threads.recordings)
    pd.testing.assert_frame_equal(processes.quarantine, threads.quarantine)
    assert len(threads.recordings) == 120 and len(threads.quarantine) == 2
