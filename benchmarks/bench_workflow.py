"""Whole-workflow cost on generated 48 kHz archives: CPU seconds per audio minute per stage, against the naive recipe.

Archives (issue 14), generated from the real recordings of ``../shared/data/archive``
(or ``$ECOAE_TEST_DATA/archive``): each source site's recordings are resampled to 48 kHz
(libsoxr HQ) and joined into one loop; every generated file is a stretch of that loop
from a seeded random start, at a seeded random gain (-12 to 0 dB), written as 16-bit PCM
WAV named the AudioMoth way (``<site>/YYYYMMDD_HHMMSS.WAV``, start time from the name):

* ``a``, AudioMoth schedule: 1-min files every 10 min (144 a day), 2 sites x 2 days;
* ``b``, long files: 10-min files, 6 a site-day (02:00, 06:00, ... 22:00), 2 sites x 2 days.

Each archive goes through the real workflow, ``snakemake --cores 2`` on this repository's
Snakefile, with every default feature set and a small training budget (``--configfile``
in the scratch folder: 50 optimiser steps): training is a one-off cost shown apart, and the
per-partition encoding cost depends on the network, not on how long it trained.

What is measured
----------------
* per stage: jobs, CPU s (exact, see below), CPU s per audio minute, share of the run's
  CPU, peak RSS (max over jobs, from Snakemake's ``benchmark:`` records) and wall s (sum
  over jobs). A job is named by its log path under ``<results>/logs/``, which ecoae's
  layout spells like its record under ``<results>/benchmarks/``; the stage is that path
  without the ``site=…/date=…`` tail, so the table follows whatever rules exist. Stages
  run per partition (site/date) make the headline figure; the others (inventory,
  training, PCA fit, evaluation, ...) are one-off and shown apart. Audio minutes = sum
  of the segment store's ``duration`` / 60.
* each job's exact CPU time, read as Snakemake reaps it (:func:`watch_jobs`), and the
  whole ``snakemake`` command's wall and CPU time (``getrusage(RUSAGE_CHILDREN)`` delta:
  every job, worker and Snakemake itself). Snakemake's own records (``record_cpu_s``)
  sample a job's CPU time every 0.5 s (every 30 s after its first 15 s) and keep the
  last sample, so they miss the end of each job: up to 30 s of a long one.
* the naive per-segment recipe, in this process, single-threaded (BLAS and torch on one
  thread, which spends the least CPU), on ``--naive-minutes`` of the same segments spread
  over the archive, timed per step with ``time.process_time`` after one untimed warm-up
  segment: ``librosa.load`` at 22 050 Hz (offset/duration of the segment; loaded once
  and shared by the steps below); ``maad.features.all_temporal_alpha_indices`` +
  ``maad.sound.spectrogram`` + ``maad.features.all_spectral_alpha_indices``
  (:func:`ecoae.features.indices.maad_recipe_indices`); ``librosa.feature.mfcc`` + mean
  and std; ``librosa.stft`` dB image resized to 128x128 (PIL bilinear); each trained
  auto-encoder of the run, one image per forward pass; each fitted PCA, one image per
  projection.
* the physical floor: decode + resample to 22 050 Hz of every file of the archive with
  ecoae's reader (:func:`ecoae.archive.audio.load_audio`: libsndfile + libsoxr HQ).

Usage::

    python benchmarks/bench_workflow.py [--archives a b] [--sites 2 --days 2] [--files-per-day N]
        [--naive-minutes 20] [--cores 2] [--scratch DIR] [--keep] [--out tables.md|.json]

Quick check: ``--archives a --sites 1 --days 1 --files-per-day 6 --naive-minutes 2``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from bench_autoencoder import naive_encode  # noqa: E402  (sibling scripts in benchmarks/)
from bench_memory import rule_of  # noqa: E402
from ecoae.archive.audio import load_audio  # noqa: E402
from ecoae.evaluation.timings import ONE_OFF, PER_PARTITION, read_benchmarks  # noqa: E402
from ecoae.features.indices import maad_recipe_indices  # noqa: E402
from ecoae.features.spectrogram import IMAGE_SIZE, ImageRecipe  # noqa: E402
from ecoae.layout import PART_FILE, Layout  # noqa: E402
from ecoae.store import read_partition  # noqa: E402
from ecoae.stage_costs import JOB, read_stage_costs  # noqa: E402
from tests.shared_data import ENVIRONMENT_VARIABLE, shared_data_folder  # noqa: E402

#: Rate of every generated file, and the rate the workflow (and the naive recipe) reads at.
ARCHIVE_RATE = 48000
READ_RATE = 22050
FIRST_DAY = datetime(2024, 5, 1)
GAIN_DB = (-12.0, 0.0)
#: The bench config: a small training budget (the per-partition figure excludes training).
BENCH_CONFIG = {"autoencoder": {"training": {"min_steps": 50, "max_steps": 50, "evaluations": 2}}}


@dataclass(frozen=True)
class ArchiveLayout:
    """A recording schedule: file length and the start of each file within a day.

    Parameters
    ----------
    name : str
        Short name used on the command line (``a``, ``b``).
    title : str
        What the layout is, for the printed header.
    file_seconds : int
        Length of every file.
    starts : tuple of int
        Start of each file of a day, in seconds after midnight.
    """

    name: str
    title: str
    file_seconds: int
    starts: tuple[int, ...]

    def day_starts(self, files_per_day: int | None) -> list[int]:
        """The day's starts, or ``files_per_day`` of them evenly spread (for a quick check)."""
        if not files_per_day or files_per_day >= len(self.starts):
            return list(self.starts)
        picks = np.linspace(0, len(self.starts) - 1, files_per_day).round().astype(int)
        return [self.starts[i] for i in picks]


LAYOUTS = {
    "a": ArchiveLayout("a", "AudioMoth schedule: 48 kHz, 1-min files every 10 min", 60, tuple(range(0, 86400, 600))),
    "b": ArchiveLayout("b", "long files: 48 kHz, 10-min files, 6 per site-day", 600,
                       tuple(range(2 * 3600, 86400, 4 * 3600))),
}


@dataclass
class WorkflowRun:
    """What one ``snakemake`` command cost, from outside, and each of its jobs.

    Attributes
    ----------
    wall_s, cpu_s : float
        Wall time and CPU time of the command with all its descendants (rusage).
    jobs : DataFrame
        One row per job seen: key (its log path under ``logs/`` without ``.log``, or
        ``(no log)``), cpu_s (exact, from Snakemake's reaping, see :func:`watch_jobs`),
        wall_s (seen to reaped, within one sampling interval), shared (jobs reaped in the
        same interval, whose CPU is split afterwards).
    snakemake_cpu_s : float
        Snakemake's own process (DAG, scheduling, benchmark sampling, onsuccess).
    unseen_cpu_s : float
        Children reaped before they were ever seen (shorter than one sampling interval).
    watcher_cpu_s : float
        CPU seconds this process spent following the jobs (not part of the command's).
    load_before, load_after : tuple of float
        Load average.
    """

    wall_s: float
    cpu_s: float
    jobs: pd.DataFrame
    snakemake_cpu_s: float
    unseen_cpu_s: float
    watcher_cpu_s: float
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]


# ----------------------------------------------------------------------------- machine


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (``unknown`` elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def load_text(load: tuple[float, float, float] | None = None) -> str:
    """Load average (1, 5, 15 min) as text: now, or the given triple."""
    return " ".join(f"{value:.2f}" for value in (load or os.getloadavg()))


# ----------------------------------------------------------------------------- archives


def source_loops(archive: Path, rate: int = ARCHIVE_RATE) -> dict[str, np.ndarray]:
    """Each source site's recordings, resampled to ``rate`` and joined in file order.

    Parameters
    ----------
    archive : Path
        The real archive: one folder per site of WAV files.
    rate : int
        Target sample rate in Hz.

    Returns
    -------
    dict
        Source folder name -> float32 samples.
    """
    loops = {}
    for folder in sorted(path for path in archive.iterdir() if path.is_dir()):
        files = sorted(path for path in folder.iterdir() if path.suffix.lower() == ".wav")
        if files:
            loops[folder.name] = np.concatenate([load_audio(path, rate) for path in files])
    if not loops:
        raise SystemExit(f"no WAV recordings under {archive}")
    return loops


def tile(loop: np.ndarray, start: int, frames: int, gain_db: float) -> np.ndarray:
    """``frames`` samples of ``loop`` from ``start`` (wrapping around), at ``gain_db``, clipped to int16 range."""
    samples = np.take(loop, np.arange(start, start + frames), mode="wrap") * np.float32(10 ** (gain_db / 20))
    return np.clip(samples, -1.0, 32767 / 32768)


def generate_archive(root: Path, layout: ArchiveLayout, loops: dict[str, np.ndarray], sites: int, days: int,
                     files_per_day: int | None = None, seed: int = 0) -> int:
    """Write an archive of ``sites`` x ``days`` following ``layout`` under ``root``.

    Site ``k`` draws from source loop ``k`` modulo the number of sources and is named
    ``site<k+1>-<source>``; files are 16-bit PCM at :data:`ARCHIVE_RATE` named
    ``YYYYMMDD_HHMMSS.WAV`` (AudioMoth), starting on :data:`FIRST_DAY`.

    Returns
    -------
    int
        Number of files written.
    """
    rng = np.random.default_rng(seed)
    frames = layout.file_seconds * ARCHIVE_RATE
    names = list(loops)
    written = 0
    for k in range(sites):
        source = names[k % len(names)]
        folder = root / f"site{k + 1}-{source}"
        folder.mkdir(parents=True, exist_ok=True)
        for day in range(days):
            for second in layout.day_starts(files_per_day):
                stamp = FIRST_DAY + timedelta(days=day, seconds=second)
                samples = tile(loops[source], int(rng.integers(len(loops[source]))), frames, rng.uniform(*GAIN_DB))
                sf.write(folder / f"{stamp:%Y%m%d_%H%M%S}.WAV", samples, ARCHIVE_RATE, subtype="PCM_16")
                written += 1
    return written


# ----------------------------------------------------------------------------- the workflow


def write_bench_config(folder: Path) -> Path:
    """The ``--configfile`` of the bench runs (:data:`BENCH_CONFIG`; JSON is YAML)."""
    path = folder / "bench_config.yaml"
    path.write_text(json.dumps(BENCH_CONFIG, indent=2) + "\n")
    return path


TICKS = os.sysconf("SC_CLK_TCK")
#: Seconds between two looks at Snakemake's children.
WATCH_INTERVAL = 0.05
#: Key of Snakemake's children that name no log (its own helper commands).
NO_LOG = "(other children of snakemake)"


def process_cpu(pid: int) -> tuple[float, float] | None:
    """CPU seconds of a process and of its children it has reaped (``/proc/<pid>/stat``), or None when gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS, (int(fields[13]) + int(fields[14])) / TICKS


def child_pids(pid: int) -> set[int]:
    """Live and zombie children of every thread of ``pid``."""
    found: set[int] = set()
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for thread in threads:
        try:
            found.update(int(child) for child in Path(f"/proc/{pid}/task/{thread}/children").read_text().split())
        except OSError:
            continue
    return found


def job_key(pid: int, logs_dir: str) -> str:
    """A job's log path under ``logs_dir`` without ``.log``, read from its command line (:data:`NO_LOG` when none)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return NO_LOG
    prefix = logs_dir.rstrip("/") + "/"
    for argument in argv:
        try:
            tokens = shlex.split(argument)
        except ValueError:
            tokens = argument.split()
        for token in tokens:
            if token.startswith(prefix) and token.endswith(".log"):
                return token[len(prefix):-len(".log")]
    return NO_LOG


def watch_jobs(process: subprocess.Popen, logs_dir: str) -> tuple[list[dict], float, float]:
    """Follow a running Snakemake until it exits; the exact CPU time of each job it ran.

    Snakemake runs every job as a child process (``bash -c``) and reaps it when it ends;
    reaping adds the job's whole CPU time (its workers included) to Snakemake's
    ``cutime``/``cstime``. Every :data:`WATCH_INTERVAL` seconds this reads Snakemake's
    reaped-children CPU and its list of children; the CPU added between two looks
    belongs to the children that disappeared between them. A look is kept only when
    the CPU reading did not change while the children were listed, so both describe
    the same moment. Unlike Snakemake's own benchmark sampling, nothing of a job's
    end is missed. The process is reaped here after a last look at its final record.

    Returns
    -------
    (list of dict, float, float)
        Groups of jobs reaped within one interval (``cpu_s``, ``jobs``: list of
        ``(key, wall_s)``), Snakemake's own CPU seconds, and CPU seconds of children
        that were reaped before they were ever seen.
    """
    seen: dict[int, tuple[str, float]] = {}
    groups, unseen, own, reaped = [], 0.0, 0.0, 0.0
    while True:
        exited = os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        first = process_cpu(process.pid)
        children = child_pids(process.pid)
        second = process_cpu(process.pid)
        if second is None:
            break
        if first != second:  # a job was reaped while the children were listed: look again
            continue
        now = time.perf_counter()
        for pid in children:
            # A child seen between fork and exec still shows Snakemake's command line: read it again later.
            if pid not in seen or seen[pid][0] == NO_LOG:
                seen[pid] = (job_key(pid, logs_dir), seen.get(pid, (None, now))[1])
        own, added = second[0], second[1] - reaped
        reaped = second[1]
        gone = [seen.pop(pid) for pid in list(seen) if pid not in children]
        if gone:
            groups.append({"cpu_s": added, "jobs": [(key, now - began) for key, began in gone]})
        elif added > 0:
            unseen += added
        if exited:
            break
        time.sleep(WATCH_INTERVAL)
    process.wait()
    return groups, own, unseen


def split_groups(groups: list[dict], weights: dict[str, float]) -> pd.DataFrame:
    """One row per job: a group's CPU split over its jobs by ``weights`` (Snakemake's records), else evenly."""
    rows = []
    for group in groups:
        keys = [key for key, _ in group["jobs"]]
        shares = np.array([weights.get(key, 0.0) for key in keys], dtype=float)
        shares = shares / shares.sum() if len(keys) > 1 and shares.sum() > 0 else np.full(len(keys), 1 / len(keys))
        for (key, wall), share in zip(group["jobs"], shares):
            rows.append({"key": key, "cpu_s": group["cpu_s"] * share, "wall_s": wall, "shared": len(keys) > 1})
    return pd.DataFrame(rows, columns=["key", "cpu_s", "wall_s", "shared"])


def run_workflow(archive: Path, results: Path, configfile: Path, cores: int, log: Path) -> WorkflowRun:
    """Run the whole workflow on ``archive`` into ``results``, timing the command and each job.

    Raises
    ------
    SystemExit
        When Snakemake fails, with the end of its output (all of it is in ``log``).
    """
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(REPO),
               "--cores", str(cores), "--configfile", str(configfile),
               "--config", f"archive={archive}", f"results={results}"]
    layout = Layout(str(results))
    load_before = os.getloadavg()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    watcher = time.process_time()
    with open(log, "w") as handle:
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, cwd=REPO)
        try:
            groups, own, unseen = watch_jobs(process, f"{layout.results}/logs")
        finally:
            if process.poll() is None:
                process.terminate()
                process.wait()
    wall = time.perf_counter() - started
    watcher = time.process_time() - watcher
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if process.returncode:
        raise SystemExit(f"snakemake failed ({process.returncode}); {log} ends:\n" + log.read_text()[-4000:])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    records = job_records(results)
    jobs = split_groups(groups, dict(zip(records["key"], records["cpu_s"])))
    return WorkflowRun(wall, cpu, jobs, own, unseen, watcher, load_before, os.getloadavg())


def segment_table(results: Path, columns: list[str] | None = None) -> pd.DataFrame:
    """Every partition of the run's segment store (``site`` and ``date`` from the folders)."""
    files = sorted(Path(Layout(str(results)).store_dir("segments")).glob(f"site=*/date=*/{PART_FILE}"))
    if not files:
        raise SystemExit(f"no segment store under {results}")
    return pd.concat([read_partition(path, columns) for path in files], ignore_index=True)


def job_records(results: Path) -> pd.DataFrame:
    """Snakemake's benchmark records of the run, one row per job: key, cpu_s, wall_s, max_rss_mib.

    The key is the record's path under ``benchmarks/`` without ``.tsv``: the same as
    the job's log path under ``logs/`` (ecoae's layout names both after one step). Rows
    that :func:`~ecoae.evaluation.timings.read_benchmarks` splits by stage are summed back
    into their job.
    """
    folder = Path(Layout(str(results)).benchmarks_dir)
    records = read_benchmarks(folder)
    records["key"] = [str(Path(path).relative_to(folder).with_suffix("")) for path in records["path"]]
    return records.groupby("key", as_index=False).agg(cpu_s=("cpu_s", "sum"), wall_s=("wall_s", "sum"),
                                                      max_rss_mib=("max_rss_mib", "max"))


def job_parts(results: Path, keys) -> pd.DataFrame:
    """CPU seconds that parts of a job measured themselves, for jobs that wrote them.

    A job serving several stages (decode, indices, MFCC; rendering, encoders) may write
    ``costs/<key>.tsv`` beside ``benchmarks/`` (columns stage, cpu_s). Jobs without one
    have no rows.

    Returns
    -------
    DataFrame
        Columns key, part, cpu_s.
    """
    folder = Path(Layout(str(results)).costs_dir)
    rows = []
    for key in keys:
        costs = read_stage_costs(folder / f"{key}.tsv")
        costs.pop(JOB, None)  # the job's own total: this script measures every job's CPU itself
        rows += [{"key": key, "part": part, "cpu_s": seconds} for part, seconds in costs.items()]
    return pd.DataFrame(rows, columns=["key", "part", "cpu_s"])


def stage_of(key: str) -> tuple[str, str]:
    """Stage (the key without its ``site=…/days=…`` tail) and kind (per partition when it has one) of a job key."""
    stage = rule_of(Path(key + ".tsv"), Path("."))
    return stage, PER_PARTITION if "site=" in key else ONE_OFF


def part_rows(stage: str, jobs: pd.DataFrame, parts: pd.DataFrame) -> list[dict]:
    """Rows ``<stage>: <part>`` for the parts a stage's jobs measured, and the rest of those jobs' CPU."""
    keys = set(jobs.loc[jobs["stage"] == stage, "key"])
    mine = parts[parts["key"].isin(keys)]
    if mine.empty:
        return []
    rows = [{"stage": f"  {stage}: {part}", "kind": "part", "cpu_s": seconds}
            for part, seconds in mine.groupby("part", sort=False)["cpu_s"].sum().items()]
    whole = jobs.loc[jobs["key"].isin(set(mine["key"])), "cpu_s"].sum()
    rows.append({"stage": f"  {stage}: rest (start, imports, reading tables, writing)", "kind": "part",
                 "cpu_s": whole - mine["cpu_s"].sum()})
    return rows


def stage_table(run: WorkflowRun, records: pd.DataFrame, audio_minutes: float,
                parts: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per-stage cost, per-partition stages first, with subtotals and Snakemake's own share.

    Per-partition stages whose jobs measured their parts (:func:`job_parts`) are
    followed by one row per part (kind ``part``, not counted again in the totals).

    Returns
    -------
    DataFrame
        Columns stage, kind, jobs, cpu_s (exact), record_cpu_s (Snakemake's sampled
        ``cpu_time``), cpu_s_per_audio_min, share (of the command's CPU),
        peak_rss_mib (max over the stage's jobs), wall_s (sum over its jobs).
    """
    jobs = run.jobs.merge(records[["key", "cpu_s", "max_rss_mib"]].rename(columns={"cpu_s": "record_cpu_s"}),
                          on="key", how="outer")
    jobs[["stage", "kind"]] = [stage_of(key) for key in jobs["key"]]
    table = (jobs.groupby(["kind", "stage"], as_index=False)
             .agg(jobs=("key", "size"), cpu_s=("cpu_s", "sum"), record_cpu_s=("record_cpu_s", "sum"),
                  records=("record_cpu_s", "count"), peak_rss_mib=("max_rss_mib", "max"), wall_s=("wall_s", "sum")))
    table["record_cpu_s"] = table["record_cpu_s"].where(table["records"] > 0)  # no record at all: blank, not 0
    rows = []
    for kind, label in ((PER_PARTITION, "per-partition total"), (ONE_OFF, "one-off total")):
        part = table[table["kind"] == kind].sort_values("cpu_s", ascending=False)
        for row in part.to_dict("records"):
            rows.append(row)
            if parts is not None and kind == PER_PARTITION:
                rows += part_rows(row["stage"], jobs, parts)
        rows.append({"stage": label, "kind": kind, **part[["jobs", "cpu_s", "record_cpu_s", "wall_s"]].sum(),
                     "peak_rss_mib": part["peak_rss_mib"].max()})
    rows += [{"stage": "snakemake itself", "kind": "", "cpu_s": run.snakemake_cpu_s},
             {"stage": "children too short to be seen", "kind": "", "cpu_s": run.unseen_cpu_s},
             {"stage": "snakemake command", "kind": "", "jobs": len(jobs), "cpu_s": run.cpu_s, "wall_s": run.wall_s}]
    out = pd.DataFrame(rows)
    out["cpu_s_per_audio_min"] = np.where(out["kind"].isin([PER_PARTITION, "part"]), out["cpu_s"] / audio_minutes, np.nan)
    out["share"] = out["cpu_s"] / run.cpu_s
    return out[["stage", "kind", "jobs", "cpu_s", "record_cpu_s", "cpu_s_per_audio_min", "share",
                "peak_rss_mib", "wall_s"]]


# ----------------------------------------------------------------------------- naive recipe and floor


def spread_segments(segments: pd.DataFrame, minutes: float) -> pd.DataFrame:
    """About ``minutes`` of audio in whole segments, evenly spread over the archive's segments."""
    ordered = segments.sort_values(["site", "path", "offset"]).reset_index(drop=True)
    wanted = int(np.ceil(minutes * 60 / max(ordered["duration"].median(), 1e-9)))
    if wanted >= len(ordered):
        return ordered
    return ordered.iloc[np.linspace(0, len(ordered) - 1, wanted).round().astype(int)].reset_index(drop=True)


def trained_models(results: Path) -> tuple[dict, dict]:
    """The run's auto-encoders (``models/*/model.pt``) and PCAs (``models/*/model.npz``), by model name."""
    from ecoae.features.pca import load_pca
    from ecoae.features.training import load_checkpoint

    models = Path(Layout(str(results)).models_dir)
    encoders = {path.parent.name: load_checkpoint(path)[0] for path in sorted(models.glob("*/model.pt"))}
    pcas = {path.parent.name: load_pca(path)[:2] for path in sorted(models.glob("*/model.npz"))}
    return encoders, pcas


def naive_mfcc(samples: np.ndarray, rate: int) -> np.ndarray:
    """``librosa.feature.mfcc`` (20 coefficients), then each coefficient's mean and std."""
    import librosa

    mfcc = librosa.feature.mfcc(y=samples, sr=rate, n_mfcc=20)
    return np.concatenate([mfcc.mean(axis=1), mfcc.std(axis=1)])


def naive_image(samples: np.ndarray, recipe: ImageRecipe) -> np.ndarray:
    """``librosa.stft`` power in dB, scaled to uint8 and resized to 128x128 (PIL bilinear)."""
    import librosa
    from PIL import Image

    power = np.abs(librosa.stft(samples, n_fft=recipe.n_fft, hop_length=recipe.hop_length)) ** 2
    decibels = librosa.power_to_db(power, ref=1.0, top_db=None)
    scaled = np.clip((decibels - recipe.db_floor) / (recipe.db_ceiling - recipe.db_floor), 0, 1)
    picture = Image.fromarray((scaled[::-1] * 255).astype(np.uint8)).resize((IMAGE_SIZE, IMAGE_SIZE), Image.BILINEAR)
    return np.asarray(picture)


def naive_pca(image: np.ndarray, mean: np.ndarray, components: np.ndarray) -> np.ndarray:
    """One image projected as ``sklearn.decomposition.PCA.transform`` does: ``(x - mean) @ components.T``."""
    return (image.reshape(1, -1).astype(np.float32) / 255.0 - mean) @ components.T


def naive_segment(row, archive: Path, encoders: dict, pcas: dict, recipe: ImageRecipe,
                  seconds: dict[str, float] | None = None) -> None:
    """Run every naive step on one segment, adding each step's CPU seconds to ``seconds``."""
    import librosa

    seconds = {} if seconds is None else seconds

    def step(name, function, *args, **kwargs):
        began = time.process_time()
        result = function(*args, **kwargs)
        seconds[name] = seconds.get(name, 0.0) + time.process_time() - began
        return result

    samples, rate = step("librosa.load (22 050 Hz)", librosa.load, archive / row.path, sr=READ_RATE,
                         offset=float(row.offset), duration=float(row.duration))
    step("maad temporal + spectrogram + spectral indices", maad_recipe_indices, samples.astype(np.float64), rate)
    step("librosa.feature.mfcc + mean/std", naive_mfcc, samples, rate)
    image = step("STFT dB image resized to 128x128", naive_image, samples, recipe)
    for name, model in encoders.items():
        step(f"encode ae-{name}, 1 image per call", naive_encode, model, image[None])
    for name, (mean, components) in pcas.items():
        step(f"project {name}, 1 image per call", naive_pca, image, mean, components)


def naive_recipe(segments: pd.DataFrame, archive: Path, results: Path) -> dict[str, float]:
    """CPU seconds of each naive step over ``segments`` (one warm-up segment first, untimed).

    BLAS and torch run on one thread: the least CPU time for the same work.
    """
    import torch
    from threadpoolctl import threadpool_limits

    encoders, pcas = trained_models(results)
    recipe = ImageRecipe()
    torch.set_num_threads(1)
    seconds: dict[str, float] = defaultdict(float)
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        naive_segment(next(segments.itertuples()), archive, encoders, pcas, recipe)
        for row in segments.itertuples():
            naive_segment(row, archive, encoders, pcas, recipe, seconds)
    return dict(seconds)


def decode_floor(archive: Path) -> tuple[float, float]:
    """CPU seconds and audio minutes of reading every file of ``archive`` at 22 050 Hz with ecoae's reader."""
    cpu = minutes = 0.0
    for path in sorted(archive.glob("*/*.WAV")):
        began = time.process_time()
        samples = load_audio(path, READ_RATE)
        cpu += time.process_time() - began
        minutes += len(samples) / READ_RATE / 60
    return cpu, minutes


# ----------------------------------------------------------------------------- one archive


def bench_archive(layout: ArchiveLayout, loops: dict[str, np.ndarray], scratch: Path, args) -> dict:
    """Generate one archive, run the workflow, the naive recipe and the floor on it.

    Returns
    -------
    dict
        Everything printed about the archive (tables as DataFrames).
    """
    archive, results = scratch / f"archive_{layout.name}", scratch / f"results_{layout.name}"
    began = time.perf_counter()
    files = generate_archive(archive, layout, loops, args.sites, args.days, args.files_per_day, args.seed)
    generated = time.perf_counter() - began
    print(f"  archive {layout.name}: {files} files written in {generated:.0f} s; running snakemake "
          f"(load {load_text()})", file=sys.stderr, flush=True)
    run = run_workflow(archive, results, write_bench_config(scratch), args.cores, scratch / f"snakemake_{layout.name}.log")
    segments = segment_table(results, ["path", "offset", "duration"])
    minutes = segments["duration"].sum() / 60
    records = job_records(results)
    stages = stage_table(run, records, minutes, job_parts(results, run.jobs["key"]))
    print(f"  archive {layout.name}: workflow done in {run.wall_s:.0f} s; naive recipe (load {load_text()})",
          file=sys.stderr, flush=True)
    subset = spread_segments(segments, args.naive_minutes)
    naive = naive_recipe(subset, archive, results)
    floor_cpu, floor_minutes = decode_floor(archive)
    return {"layout": layout, "files": files, "segments": len(segments), "audio_minutes": minutes, "run": run,
            "stages": stages, "naive": naive, "naive_minutes": subset["duration"].sum() / 60,
            "naive_segments": len(subset), "floor_cpu_s": floor_cpu, "floor_minutes": floor_minutes}


def summary(result: dict) -> dict[str, float]:
    """The headline numbers of one archive."""
    stages = result["stages"].set_index("stage")
    per_minute = stages.loc["per-partition total", "cpu_s"] / result["audio_minutes"]
    naive = sum(result["naive"].values()) / result["naive_minutes"]
    one_off = stages.loc["one-off total", "cpu_s"]
    training = result["stages"][(result["stages"]["kind"] == ONE_OFF)
                                & result["stages"]["stage"].str.startswith("train")]["cpu_s"].sum()
    return {
        "audio minutes (segment store)": result["audio_minutes"],
        "ecoae per-partition CPU s / audio min (target <= 0.24)": per_minute,
        "realtime factor per core, 60 / that (target >= 250)": 60 / per_minute,
        "  the same with Snakemake's own CPU added, CPU s / audio min":
            per_minute + result["run"].snakemake_cpu_s / result["audio_minutes"],
        "naive recipe: audio minutes of its subset": result["naive_minutes"],
        "naive CPU s / audio min": naive,
        "speed-up over naive, naive / ecoae (target >= 6)": naive / per_minute,
        "decode + resample to 22 050 Hz, CPU s / audio min (floor)": result["floor_cpu_s"] / result["floor_minutes"],
        "wall s of the snakemake command": result["run"].wall_s,
        "CPU s of the snakemake command (rusage)": result["run"].cpu_s,
        "one-off CPU s (all one-off stages)": one_off,
        "  of which training (train* stages) CPU s": training,
    }


# ----------------------------------------------------------------------------- printing


def markdown(frame: pd.DataFrame, formats: dict[str, str]) -> str:
    """A DataFrame as a Markdown table, numbers formatted per column (blank for NaN)."""
    def cell(column, value):
        if isinstance(value, float) and np.isnan(value):
            return ""
        return format(value, formats.get(column, "")) if column in formats else str(value)

    lines = ["| " + " | ".join(frame.columns) + " |",
             "|" + "|".join("---:" if column in formats else "---" for column in frame.columns) + "|"]
    lines += ["| " + " | ".join(cell(c, v) for c, v in zip(frame.columns, row)) + " |"
              for row in frame.itertuples(index=False)]
    return "\n".join(lines)


STAGE_FORMATS = {"jobs": ".0f", "cpu_s": ".1f", "record_cpu_s": ".1f", "cpu_s_per_audio_min": ".4f", "share": ".1%",
                 "peak_rss_mib": ".0f", "wall_s": ".1f"}


def archive_report(result: dict) -> str:
    """The tables of one archive as Markdown."""
    layout, run = result["layout"], result["run"]
    naive = pd.DataFrame({"step": list(result["naive"]), "cpu_s": list(result["naive"].values())})
    naive.loc[len(naive)] = ["naive total", naive["cpu_s"].sum()]
    naive["cpu_s_per_audio_min"] = naive["cpu_s"] / result["naive_minutes"]
    return "\n".join([
        f"### archive {layout.name}: {layout.title}",
        "",
        f"{result['files']} files, {result['segments']} segments, {result['audio_minutes']:.1f} audio minutes; "
        f"load average {load_text(run.load_before)} before the run, {load_text(run.load_after)} after; "
        f"following the jobs cost this script {run.watcher_cpu_s:.1f} CPU s (not in the table)",
        "",
        markdown(result["stages"], STAGE_FORMATS),
        "",
        f"naive recipe on {result['naive_segments']} segments ({result['naive_minutes']:.1f} audio minutes), "
        "one process, one thread:",
        "",
        markdown(naive, {"cpu_s": ".2f", "cpu_s_per_audio_min": ".4f"}),
    ])


def summary_report(results: list[dict]) -> str:
    """The headline numbers of every archive side by side, as Markdown."""
    rows = [summary(result) for result in results]
    names = [f"archive {result['layout'].name}" for result in results]
    lines = ["| | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for key in rows[0]:
        lines.append(f"| {key} | " + " | ".join(f"{row[key]:.4g}" for row in rows) + " |")
    return "\n".join(lines)


def header(args) -> str:
    """Machine, load and what the run does."""
    return "\n".join([
        f"ecoae workflow benchmark, {time.strftime('%Y-%m-%d %H:%M')}",
        f"machine: {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {cpu_model()}; "
        f"load average {load_text()} at start",
        f"snakemake --cores {args.cores}, default feature sets; training budget cut to "
        f"{BENCH_CONFIG['autoencoder']['training']['max_steps']} steps (--configfile; training is one-off, outside "
        "the per-minute figure)",
        f"layout: {args.sites} site(s) x {args.days} day(s)"
        + (f", {args.files_per_day} file(s) per site-day" if args.files_per_day else "")
        + f"; sources {args.data / 'archive'}",
        "CPU s per job: exact, read as Snakemake reaps the job (record_cpu_s: Snakemake's own sampled "
        "cpu_time, which misses each job's end); snakemake command: getrusage of the whole command",
    ])


def write_out(path: Path, text: str, results: list[dict]) -> None:
    """The report as Markdown (``.md``) or the tables as JSON (any other suffix)."""
    if path.suffix == ".md":
        path.write_text(text + "\n")
        return
    payload = [{"archive": result["layout"].name, "summary": summary(result),
                "stages": result["stages"].to_dict("records"), "naive_cpu_s": result["naive"]}
               for result in results]
    path.write_text(json.dumps(payload, indent=2, default=float) + "\n")


def parse_arguments() -> argparse.Namespace:
    """Command-line options (defaults: the issue's layouts)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archives", nargs="+", choices=sorted(LAYOUTS), default=sorted(LAYOUTS))
    parser.add_argument("--sites", type=int, default=2)
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--files-per-day", type=int, default=None,
                        help="at most this many files per site-day, evenly spread over the schedule (quick checks)")
    parser.add_argument("--naive-minutes", type=float, default=20, help="audio minutes the naive recipe runs on")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=shared_data_folder(),
                        help=f"shared data folder (default ${ENVIRONMENT_VARIABLE} or ../shared/data)")
    parser.add_argument("--scratch", type=Path, default=None, help="folder for archives and results (default: a temp folder)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder (always kept when a run fails)")
    parser.add_argument("--out", type=Path, default=None, help="also write the report (.md) or the tables (.json)")
    return parser.parse_args()


def main() -> int:
    args = parse_arguments()
    if not (args.data / "archive").is_dir():
        print(f"real recordings not found at {args.data / 'archive'}; set {ENVIRONMENT_VARIABLE}", file=sys.stderr)
        return 1
    text = header(args)
    print(text, flush=True)
    scratch = args.scratch or Path(tempfile.mkdtemp(prefix="ecoae-bench-workflow-"))
    scratch.mkdir(parents=True, exist_ok=True)
    finished = False
    try:
        loops = source_loops(args.data / "archive")
        results = [bench_archive(LAYOUTS[name], loops, scratch, args) for name in args.archives]
        finished = True
    finally:
        if args.keep or not finished:  # a failed run keeps its logs
            print(f"scratch kept: {scratch}", file=sys.stderr)
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    body = "\n\n".join([archive_report(result) for result in results]
                       + ["### summary\n\n" + summary_report(results),
                          f"load average {load_text()} at end"])
    print("\n" + body)
    if args.out:
        write_out(args.out, text + "\n\n" + body, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
