"""The local one-node SLURM cluster of ``scripts/slurm-local.sh`` for tests, and how to point
``profiles/slurm`` at it.

The profile's ``default-resources`` and ``set-resources`` name a site's account and
partitions and a GPU; on the command line each of those keys replaces the profile's whole
entry, so :func:`local_resource_args` rewrites the profile's own entries for this cluster
(account and partition ``ecoae``, no GPU, CPUs and memory capped at what the node has) and
keeps everything else, the ``* attempt`` scaling included.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "slurm-local.sh"
PROFILE = REPO / "profiles" / "slurm" / "config.yaml"
#: Exit status of the script when no cluster can be set up here (not root, no apt-get).
SKIP_STATUS = 77
PARTITION = ACCOUNT = "ecoae"


def state_dir() -> Path:
    return Path(os.environ.get("ECOAE_SLURM_DIR", "/tmp/ecoae-slurm"))


def slurm_env() -> dict[str, str]:
    """The environment for SLURM commands (and Snakemake) talking to the local cluster."""
    return {**os.environ, "SLURM_CONF": str(state_dir() / "etc" / "slurm.conf")}


def script(command: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run ``scripts/slurm-local.sh COMMAND``."""
    return subprocess.run(["bash", str(SCRIPT), command], capture_output=True, text=True, timeout=timeout,
                          env=slurm_env())


def slurm(*args: str, check: bool = True) -> str:
    """Output of a SLURM command (``sinfo``, ``sacct``, ``scancel``...) on the local cluster."""
    result = subprocess.run(list(args), capture_output=True, text=True, timeout=60, env=slurm_env())
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed: {result.stderr}")
    return result.stdout


def node() -> tuple[int, int]:
    """CPUs and memory (MB) of the cluster's one node."""
    cpus, memory = slurm("sinfo", "-h", "-N", "-p", PARTITION, "-o", "%c %m").split()[:2]
    return int(cpus), int(memory.rstrip("+"))


def _local_value(key: str, value, cpus: int, mem_cap_mb: int):
    if key == "slurm_account":
        return ACCOUNT
    if key == "slurm_partition":
        return PARTITION
    if key in ("gpu", "gpus"):
        return 0
    if key in ("cpus_per_task", "cpus_per_gpu"):
        return min(int(value), cpus)
    if key == "mem_mb":
        return f"min({value}, {mem_cap_mb})"
    return value


def local_resource_args(mem_cap_mb: int, cpus: int, extra_set_resources: dict[str, dict] | None = None,
                        profile: Path = PROFILE) -> list[str]:
    """``--default-resources`` and ``--set-resources`` arguments: the profile's, for the local cluster.

    ``extra_set_resources`` (``{rule: {resource: value}}``) replace single entries after that.
    """
    config = yaml.safe_load(Path(profile).read_text())
    defaults = {key: _local_value(key, value, cpus, mem_cap_mb)
                for key, value in config.get("default-resources", {}).items()}
    per_rule = {rule: {key: _local_value(key, value, cpus, mem_cap_mb) for key, value in entries.items()}
                for rule, entries in config.get("set-resources", {}).items()}
    for rule, entries in (extra_set_resources or {}).items():
        per_rule.setdefault(rule, {}).update(entries)
    return (["--default-resources", *(f"{key}={value}" for key, value in defaults.items()),
             "--set-resources", *(f"{rule}:{key}={value}" for rule, entries in per_rule.items()
                                  for key, value in entries.items())])


def sacct_jobs(run_id: str) -> list[dict[str, str]]:
    """One row per SLURM job (``sacct -X``) of a Snakemake run (the plugin names jobs after the run ID)."""
    fields = ["JobID", "State", "ReqMem", "ReqCPUS", "Timelimit", "Elapsed", "Comment"]
    output = slurm("sacct", "-X", "-n", "--parsable2", "--starttime", "now-1days", "--name", run_id,
                   "--format", ",".join(fields))
    return [dict(zip(fields, line.split("|"))) for line in output.splitlines() if line.strip()]
