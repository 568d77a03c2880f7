# Configuration, paths and input functions shared by every rule file.
import csv
import json
import shlex
import sys
from pathlib import Path

from snakemake.utils import validate

from ecoae.archive.fingerprint import archive_fingerprint, config_fingerprint

validate(config, "../schemas/config.schema.yaml")
for _section in ("spectrogram", "autoencoder", "indices", "mfcc", "evaluation"):
    _schema = Path(workflow.basedir) / "workflow" / "schemas" / f"{_section}.schema.yaml"
    if _schema.exists():
        validate(config[_section], str(_schema))

def ecoae_command():
    """How rules call the ecoae CLI: the running Python, or the conda env's with this checkout on PYTHONPATH."""
    if "conda" in str(workflow.deployment_settings.deployment_method).lower():
        return f"PYTHONPATH={shlex.quote(workflow.basedir)}${{PYTHONPATH:+:$PYTHONPATH}} python -m ecoae"
    return f"{shlex.quote(sys.executable)} -m ecoae"


# Used directly in every rule's shell command (not a param): which Python runs ecoae
# is not a result-changing setting, and a param would re-run everything after a new venv.
ECOAE = ecoae_command()
DEMO = not config["archive"]
ARCHIVE = str(Path(config["archive"] or "demo_archive").resolve())
RESULTS = config["results"].rstrip("/")
PARTITION = "site={site}/date={date}"


wildcard_constraints:
    site=r"[^/]+",
    date=r"\d{4}-\d{2}-\d{2}",


def log_path(rule_name, per_partition=True):
    """Log file of a rule, per partition unless the rule runs once."""
    tail = f"/{PARTITION}.log" if per_partition else ".log"
    return f"{RESULTS}/logs/{rule_name}{tail}"


def benchmark_path(rule_name, per_partition=True):
    """Snakemake benchmark record of a rule (read by the evaluation's timing table)."""
    tail = f"/{PARTITION}.tsv" if per_partition else ".tsv"
    return f"{RESULTS}/benchmarks/{rule_name}{tail}"


def inventory_fingerprint(wildcards):
    """What the inventory depends on: the demo settings, or the archive's file listing."""
    if DEMO:
        return config_fingerprint(config["demo"])
    return archive_fingerprint(ARCHIVE, config["inventory"]["extensions"])


_partition_cache = {}


def partitions():
    """(site, date) of every partition, read from the inventory checkpoint's list."""
    listing = checkpoints.inventory.get().output.partitions
    stamp = Path(listing).stat().st_mtime_ns
    if _partition_cache.get("stamp") != stamp:
        with open(listing, newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        _partition_cache.update(stamp=stamp, keys=[(r["site"], r["date"]) for r in rows])
    return _partition_cache["keys"]


def per_partition(pattern):
    """Input function: ``pattern`` formatted for every partition of the archive."""

    def expand_partitions(wildcards):
        return [pattern.format(site=site, date=date) for site, date in partitions()]

    return expand_partitions


# Targets of the default rule; each rule file appends what it adds.
TARGETS = []


def all_targets(wildcards):
    return [path for target in TARGETS for path in target(wildcards)]


# Feature stores for the evaluation: set name -> per-partition Parquet path pattern
# (with {site} and {date}); each feature rule file registers its sets here.
FEATURE_SETS = {}
