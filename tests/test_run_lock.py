"""A results folder serves one run at a time, whatever the working directory."""

from __future__ import annotations

import json
import socket
import subprocess

import numpy as np
import pytest
import soundfile as sf

from ecoae.run_lock import LOCK_NAME, RunLocked, acquire, release
from workflow_helpers import snakemake


@pytest.fixture()
def live_process():
    process = subprocess.Popen(["sleep", "300"])
    yield process
    process.kill()
    process.wait()


def _hold(results, pid: int, host: str | None = None) -> None:
    results.mkdir(parents=True, exist_ok=True)
    (results / LOCK_NAME).write_text(json.dumps({"pid": pid, "host": host or socket.gethostname(),
                                                 "workdir": "/elsewhere/checkout", "started": "2026-11-30T10:00:00+00:00"}))


def test_live_holder_refuses_and_dead_holder_is_taken_over(tmp_path, live_process):
    results = tmp_path / "results"
    _hold(results, live_process.pid)
    with pytest.raises(RunLocked, match=f"pid {live_process.pid} .*/elsewhere/checkout.*delete .*{LOCK_NAME}"):
        acquire(results)
    live_process.kill()
    live_process.wait()
    path = acquire(results)
    assert json.loads(path.read_text())["workdir"] != "/elsewhere/checkout"
    release(results)
    assert not path.exists()


def test_holder_on_another_host_is_never_taken_over(tmp_path):
    results = tmp_path / "results"
    _hold(results, 1, host="login-node-7")
    with pytest.raises(RunLocked, match="login-node-7"):
        acquire(results)
    release(results)  # not ours: stays
    assert (results / LOCK_NAME).exists()


def test_workflow_refuses_a_results_folder_in_use(tmp_path, live_process):
    archive = tmp_path / "archive" / "pond"
    archive.mkdir(parents=True)
    sf.write(archive / "20240501_000000.WAV", np.zeros(16000 * 3, dtype=np.float32), 16000)
    results = tmp_path / "results"
    _hold(results, live_process.pid)
    config = ["--config", f"archive={archive.parent}", f"results={results}"]
    refused = snakemake("--cores", "1", "segments", *config, check=False)
    assert refused.returncode != 0
    assert f"is in use by another ecoae run (pid {live_process.pid}" in refused.stderr + refused.stdout
    assert not (results / "inventory").exists()

    live_process.kill()
    live_process.wait()
    snakemake("--cores", "1", "segments", *config)
    assert (results / "inventory" / "recordings.parquet").exists() and not (results / LOCK_NAME).exists()
