"""The workflow on a real SLURM cluster: ``snakemake --profile profiles/slurm`` on the one-node
cluster of ``scripts/slurm-local.sh`` (slurmctld, slurmd, slurmdbd accounting, memory
enforced), against a local run of the same archive and configuration.

A two-partition archive (six real recordings) goes through three SLURM commands, all the
same command line, while the local reference run goes on beside them:

1. a bundled job is cancelled with ``scancel`` while it runs, and Snakemake is stopped
   as an operator would (Ctrl-C): snakemake-executor-plugin-slurm 2.8 does not notice
   a cancelled job (sacct says ``CANCELLED by <uid>``, which it does not match) and
   would wait for it forever;
2. the same command resumes and finishes: the per-partition jobs run bundled (two group
   jobs, not one job per partition and rule), and the job whose first attempt gets too
   little memory is killed by SLURM and resubmitted with more (the profile's
   ``* attempt`` scaling);
3. the same command once more (a dry run) finds nothing to do;

and every store equals the local run's. The evaluation is left out
(``--omit-from evaluate``): it is one job reading the stores, tested elsewhere.

Skipped with the reason when no cluster can be started here (not root, no apt-get; see
the script) or when ECOAE_SKIP_SLURM=1. The cluster is stopped afterwards unless it was
already running (or ECOAE_KEEP_SLURM=1).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from slurm_cluster import (PROFILE, REPO, SKIP_STATUS, local_resource_args, node, sacct_jobs, script, slurm,
                           slurm_env)
from test_workflow_scale import store_tables
from workflow_helpers import write_fast_config

pytestmark = pytest.mark.slow

#: Recordings copied from the shared archive: 3 of jura (one partition) and 3 of dagua's first day.
RECORDINGS = {"jura": (0, 16, 32), "dagua": (0, 8, 16)}
#: The rule whose first attempt gets too little memory (it runs once, beside the training).
STARVED_RULE = "fit_pca"
#: Per-batch rules (one site-week each here): on SLURM they run inside group jobs only.
GROUPED_RULES = ("segment", "audio_features", "images")
#: Whole run (submissions, waits, the retried jobs) in seconds; a stuck cluster fails, never hangs.
RUN_TIMEOUT = 1500


@pytest.fixture(scope="module")
def cluster():
    """The local cluster, started by the script (and stopped afterwards when this started it)."""
    if os.environ.get("ECOAE_SKIP_SLURM") == "1":
        pytest.skip("ECOAE_SKIP_SLURM=1")
    if shutil.which("bash") is None:
        pytest.skip("no bash to run scripts/slurm-local.sh")
    was_running = script("status").returncode == 0
    started = script("start")
    if started.returncode == SKIP_STATUS:
        pytest.skip(started.stderr.strip().splitlines()[-1])
    assert started.returncode == 0, f"scripts/slurm-local.sh start failed:\n{started.stdout}\n{started.stderr}"
    yield node()
    if not was_running and os.environ.get("ECOAE_KEEP_SLURM") != "1":
        script("stop")


def copy_archive(shared_data: Path, folder: Path) -> Path:
    for site, picks in RECORDINGS.items():
        (folder / site).mkdir(parents=True)
        recordings = sorted((shared_data / "archive" / site).glob("*.wav"))
        for index in picks:
            shutil.copy(recordings[index], folder / site / recordings[index].name)
    return folder


def snakemake_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(REPO),
            *args]


def wait(process: subprocess.Popen, deadline: float, what: str) -> int:
    try:
        return process.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError(f"{what} did not finish within {RUN_TIMEOUT} s") from None


def run_id(output: str) -> str | None:
    """The plugin's ID of a Snakemake run (the name of each of its SLURM jobs)."""
    match = re.search(r"SLURM run ID: (\S+)", output)
    return match[1] if match else None


def cancel_running_bundle(process: subprocess.Popen, log: Path, results: Path, deadline: float) -> str:
    """``scancel`` the partition-chain group job once it runs and has written a store; its job ID."""
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the SLURM run ended before a job could be cancelled:\n{log.read_text()[-3000:]}"
        name = run_id(log.read_text())
        if name:
            for line in slurm("squeue", "-h", "--name", name, "-o", "%i|%T|%k").splitlines():
                job, state, comment = line.split("|", 2)
                if (state == "RUNNING" and "partition_chain" in comment
                        and list(results.glob("segments/site=*/date=*/part-0.parquet"))):
                    slurm("scancel", job)
                    return job
        time.sleep(0.5)
    raise AssertionError("the partition-chain job was never seen running")


def sorted_table(table: pd.DataFrame) -> pd.DataFrame:
    key = [column for column in ("recording_id", "segment_index") if column in table.columns]
    return table.sort_values(key).reset_index(drop=True) if key else table


@pytest.fixture(scope="module")
def runs(shared_data, cluster, tmp_path_factory):
    """The local reference run and, beside it, the three SLURM commands (see the module's doc)."""
    cpus, memory = cluster
    root = tmp_path_factory.mktemp("slurm")
    archive = copy_archive(shared_data, root / "archive")
    config = ["--configfile", str(REPO / "config" / "config.yaml"), str(write_fast_config(root)),
              "--omit-from", "evaluate"]
    reference, results = root / "reference", root / "results"
    timings = {}
    start = time.monotonic()
    deadline = start + RUN_TIMEOUT

    local_log = root / "local.log"
    with open(local_log, "w") as out:
        local = subprocess.Popen(snakemake_command(
            "--cores", "2", *config, "--config", f"archive={archive}", f"results={reference}"),
            stdout=out, stderr=subprocess.STDOUT)

    # The profile as it stands, pointed at this cluster: account and partition `ecoae`, no
    # GPU, each job one CPU (so that jobs run side by side on a small CI node) and memory
    # capped at what the node can give; the starved rule gets 30 MB on its first attempt.
    mem_cap = max(1000, min(4000, memory // 2))
    resources = local_resource_args(mem_cap, cpus=1, extra_set_resources={
        STARVED_RULE: {"mem_mb": f"(30 if attempt == 1 else min(2000 * attempt, {mem_cap}))"}})
    command = snakemake_command(
        "--profile", str(REPO / "profiles" / "slurm"), *config,
        "--config", f"archive={archive}", f"results={results}", *resources,
        # The plugin waits 40 s before its first status query (fine on a big cluster);
        # here jobs take seconds.
        "--slurm-init-seconds-before-status-checks", "1",
        "--slurm-logdir", str(root / "slurm_logs"))

    first_log = root / "slurm-first.log"
    with open(first_log, "w") as out:
        first = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=slurm_env())
    cancelled = cancel_running_bundle(first, first_log, results, deadline)
    first.send_signal(signal.SIGINT)  # Ctrl-C: Snakemake cancels what it still has queued and stops
    first_code = wait(first, deadline, "the interrupted SLURM run")
    timings["first command (cancelled, interrupted)"] = time.monotonic() - start

    resumed = subprocess.run(command, capture_output=True, text=True, env=slurm_env(),
                             timeout=max(60.0, deadline - time.monotonic()))
    timings["same command (resumes)"] = time.monotonic() - start - sum(timings.values())
    again = subprocess.run([*command, "-n"], capture_output=True, text=True, env=slurm_env(), timeout=600)
    local_code = wait(local, deadline, "the local run")
    timings["total"] = time.monotonic() - start
    assert local_code == 0, f"local run failed:\n{local_log.read_text()[-4000:]}"
    print("\ntimings (s): " + ", ".join(f"{name} {seconds:.0f}" for name, seconds in timings.items()))
    return dict(reference=reference, results=results, first_code=first_code, first_log=first_log.read_text(),
                cancelled=cancelled, resumed=resumed, resumed_log=resumed.stdout + resumed.stderr,
                again=again, timings=timings)


def profile_minutes(rule: str, attempt: int) -> int:
    """A rule's runtime (minutes) in profiles/slurm at an attempt."""
    profile = yaml.safe_load(PROFILE.read_text())
    value = profile["set-resources"].get(rule, {}).get("runtime", profile["default-resources"]["runtime"])
    return int(eval(str(value), {"attempt": attempt}))


def hours(minutes: int) -> str:
    """SLURM's Timelimit format."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}:00"


def test_cancelled_job_then_the_same_command_finishes(runs):
    first = sacct_jobs(run_id(runs["first_log"]))
    print("\n".join(" ".join(job.values()) for job in first))
    cancelled = {job["JobID"]: job for job in first}[runs["cancelled"]]
    assert cancelled["State"].startswith("CANCELLED"), cancelled
    assert runs["first_code"] != 0 and "Run the same command again to resume" in runs["first_log"]
    resumed = runs["resumed"]
    assert resumed.returncode == 0, runs["resumed_log"][-6000:]
    assert "steps (100%) done" in runs["resumed_log"]
    jobs = sacct_jobs(run_id(runs["resumed_log"]))
    print("\n".join(" ".join(job.values()) for job in jobs))
    assert {job["State"].split()[0] for job in jobs} <= {"COMPLETED", "FAILED"}
    again = runs["again"].stdout + runs["again"].stderr
    assert runs["again"].returncode == 0 and "Nothing to be done" in again, again[-3000:]


def test_per_batch_jobs_run_bundled(runs):
    jobs = sacct_jobs(run_id(runs["resumed_log"]))
    comments = [job["Comment"] for job in jobs]
    # The plugin's --comment: rule_<rule>[_wildcards_...], or rule_<group>_<its rules> for a group job.
    assert not [c for c in comments if any(re.fullmatch(rf"rule_{rule}(_wildcards_.*)?", c) for rule in GROUPED_RULES)]
    assert [c.split("_")[1:3] for c in comments if "partition_chain" in c or "encode_batch" in c] == [
        ["partition", "chain"], ["encode", "batch"]], comments
    steps = int(re.findall(r"(\d+) of \d+ steps \(100%\) done", runs["resumed_log"])[-1])
    print(f"{steps} Snakemake jobs, {len(jobs)} SLURM jobs (a retry included)")
    # A bundle asks for what its members need one after another: one CPU, the largest
    # member's memory, the sum of the members' runtimes (per batch: segments, then the
    # one-pass audio features; each site's recordings here are one batch).
    chain = next(job for job in jobs if "partition_chain" in job["Comment"])
    per_batch = sum(profile_minutes(rule, 1) for rule in ("segment", "audio_features"))
    assert chain["ReqCPUS"] == "1" and chain["Timelimit"] == hours(len(RECORDINGS) * per_batch), chain


def test_job_killed_for_memory_is_resubmitted_with_more(runs):
    jobs = [job for job in sacct_jobs(run_id(runs["resumed_log"]))
            if job["Comment"].startswith(f"rule_{STARVED_RULE}")]
    assert [job["State"] for job in jobs] == ["FAILED", "COMPLETED"], jobs
    memory = [int(job["ReqMem"].rstrip("M")) for job in jobs]
    assert memory[0] == 30 and memory[1] > memory[0], jobs
    # The profile's runtime scales with the attempt too.
    assert [job["Timelimit"] for job in jobs] == [hours(profile_minutes(STARVED_RULE, a)) for a in (1, 2)], jobs


def test_stores_equal_a_local_run(runs):
    expected, got = store_tables(runs["reference"]), store_tables(runs["results"])
    assert sorted(got) == sorted(expected)
    assert any(name.startswith("features/ae-") for name in expected)
    for name, table in expected.items():
        pd.testing.assert_frame_equal(sorted_table(got[name]), sorted_table(table), check_exact=False, rtol=1e-5,
                                      obj=name)
    samples = [pd.read_parquet(r / "models" / "training_sample.parquet") for r in (runs["reference"], runs["results"])]
    pd.testing.assert_frame_equal(samples[1], samples[0])
