"""Training progress on the console: one whole line per evaluation, the full log in the log file."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from ecoae.commands.console import output_to_file, write_line
from ecoae.features.autoencoder import Architecture
from ecoae.features.spectrogram import ImageRecipe, write_spectrograms
from ecoae.features.training import progress_line, train_autoencoder
from ecoae.settings import TrainingSettings

SMALL = Architecture("explicit", 8, channels=(4, 8, 8, 8))
FAST = {"min_steps": 4, "max_steps": 4, "evaluations": 2, "batch_size": 8, "epochs": 1, "channels_last": False}


def _row(step: int, seconds: float, validation: float = 0.0029) -> dict:
    return {"step": step, "epoch": step / 62.5, "train_loss": 0.0031042, "validation_loss": validation,
            "learning_rate": 2.9e-3, "seconds": seconds}


def test_progress_line_shows_losses_and_the_time_left():
    line = progress_line("explicit384", _row(400, 45.0), 2000)
    assert line == ("[train explicit384] step 400/2000  epoch 6.4  train 0.00310  val 0.00290  lr 2.9e-03"
                    "  ~3 min left")
    assert progress_line("m", _row(100, 4.0), 2000).endswith("~76 s left")
    assert progress_line("m", _row(100, 600.0), 2000).endswith("~3.2 h left")


def test_progress_line_without_validation_and_at_the_end():
    assert "val" not in progress_line("m", _row(10, 1.0, validation=math.nan), 20)
    assert progress_line("m", _row(20, 120.0), 20).endswith("done in 2 min")
    assert progress_line("m", _row(10, 30.0), 20, stopping=True).endswith("early stop after 30 s")


def _images(count: int = 24, recordings: int = 6) -> tuple[pd.DataFrame, np.ndarray]:
    keys = pd.DataFrame({
        "recording_id": [f"site/rec{n % recordings}.wav" for n in range(count)],
        "segment_index": np.arange(count, dtype="int32") // recordings,
        "start_time": pd.date_range("2024-05-01", periods=count, freq="min", tz="UTC"),
        "duration": 60.0,
    })
    return keys, np.random.default_rng(0).integers(0, 255, (count, 128, 128), dtype=np.uint8)


def test_every_evaluation_is_reported_and_the_early_stop_is_flagged():
    keys, images = _images()
    validation = keys["recording_id"].isin(["site/rec0.wav"]).to_numpy()
    seen = []
    settings = TrainingSettings(**{**FAST, "max_steps": 12, "min_steps": 12, "evaluations": 6,
                                   "patience": 1, "min_delta": 1.0})
    _model, history = train_autoencoder(images, validation, SMALL, settings, "cpu", progress=False,
                                        on_evaluation=lambda row, steps, stopping: seen.append((row, steps, stopping)))
    # min_delta 1.0: no evaluation after the first counts as better, so patience 1 stops at the second.
    assert [row for row, _, _ in seen] == history and len(history) == 2
    assert [(steps, stopping) for _, steps, stopping in seen] == [(12, False), (12, True)]


def test_output_to_file_keeps_the_console_for_whole_lines(tmp_path, capfd):
    log = tmp_path / "logs" / "train.log"
    # What the process writes to its stdout and stderr (logging, warnings, libraries) goes to the log.
    with output_to_file(log) as console:
        os.write(1, b"to the log\n")
        os.write(2, b"also to the log\n")
        write_line(console, "[train m] step 1/2")
    os.write(2, b"after\n")
    out, err = capfd.readouterr()
    assert err == "[train m] step 1/2\nafter\n" and out == ""
    assert log.read_text() == "to the log\nalso to the log\n"


@pytest.fixture(scope="module")
def training_images(tmp_path_factory):
    path = tmp_path_factory.mktemp("images") / "training_images.parquet"
    keys, images = _images()
    write_spectrograms(path, keys, images, ImageRecipe())
    return path


def _train(images, out_dir, *extra: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "ecoae", "train", str(images), "--out-dir", str(out_dir),
               "--model", json.dumps({"channels": [4, 8, 8, 8], "feature_size": 8}),
               "--training", json.dumps(FAST), "--device", "cpu", *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


def test_train_with_log_shows_one_line_per_evaluation_and_logs_the_rest(training_images, tmp_path):
    log = tmp_path / "logs" / "train" / "small.log"
    run = _train(training_images, tmp_path / "small", "--log", str(log))
    assert run.returncode == 0, run.stderr + (log.read_text() if log.exists() else "")
    lines = run.stderr.splitlines()
    assert len(lines) == 2 and all(line.startswith("[train small] step ") for line in lines), run.stderr
    assert "step 2/4" in lines[0] and "left" in lines[0] and "step 4/4" in lines[1] and "done in" in lines[1]
    assert run.stdout == ""
    text = log.read_text()
    assert "model written to" in text and lines[0] in text and lines[1] in text
    assert (tmp_path / "small" / "model.pt").is_file()
