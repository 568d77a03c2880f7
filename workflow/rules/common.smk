# Settings, layout and input functions shared by every rule file. Settings come from
# ecoae.settings (the only defaults), paths from ecoae.layout (the only place a path is
# spelled); each rule passes the canonical JSON of the sections it depends on as params,
# so a changed setting re-runs exactly what depends on it.
import json
import re
import shlex
import shutil
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

from ecoae.features.registry import AUDIO_FEATURE_SETS, check_enabled_sets, enabled_sets
from ecoae.archive.fingerprint import archive_fingerprint, config_fingerprint
from ecoae.batches import group_batches
from ecoae.layout import Layout, read_partition_list
from ecoae.settings import SettingsError, check_schemas, load_settings, typed_config

# Nested --config values arrive as strings; a bad key or value stops the run with one line.
try:
    config.update(typed_config(config))
    check_schemas(config, Path(workflow.basedir) / "workflow" / "schemas")
    S = load_settings(config)
    # An enabled set whose optional extra is missing (birdnet) stops the run here, in one line.
    check_enabled_sets(S)
except SettingsError as error:
    raise WorkflowError(
        f"{error} (config/config.yaml, a --configfile or --config)"
    ) from None
L = Layout(S.results)


def ecoae_command():
    """How rules call the ecoae CLI: the running Python, or the conda env's with this checkout on PYTHONPATH."""
    if "conda" in str(workflow.deployment_settings.deployment_method).lower():
        return f"PYTHONPATH={shlex.quote(workflow.basedir)}${{PYTHONPATH:+:$PYTHONPATH}} python -m ecoae"
    return f"{shlex.quote(sys.executable)} -m ecoae"


# Used directly in every rule's shell command (not a param): which Python runs ecoae
# is not a result-changing setting, and a param would re-run everything after a new venv.
# Each part of it is already quoted by ecoae_command.
ECOAE = ecoae_command()
DEMO = not S.archive
ARCHIVE = str(Path(S.archive or "demo_archive").resolve())
if not DEMO and not Path(ARCHIVE).is_dir():
    raise WorkflowError(
        f"config archive: {ARCHIVE} is not a folder; pass --config archive=/path/to/recordings"
        " (or leave archive empty to run the demo archive)"
    )


wildcard_constraints:
    site=r"[^/]+",
    date=r"\d{4}-\d{2}-\d{2}",
    days=r"\d{4}-\d{2}-\d{2}_\d{4}-\d{2}-\d{2}",


_fingerprint = {}


def inventory_fingerprint(wildcards):
    """What the inventory depends on: the demo settings, or the archive's file listing.

    Computed once per Snakemake run: Snakemake expands a job's params both while it
    plans and when it runs the job, and at a million files the walk takes seconds.
    """
    if "value" not in _fingerprint:
        _fingerprint["value"] = (
            config_fingerprint(S.demo.canonical())
            if DEMO
            # The walk's file list is kept in the inventory cache, so the inventory
            # job reads it instead of walking the archive again.
            else archive_fingerprint(
                ARCHIVE,
                list(S.inventory.extensions),
                S.inventory.follow_links,
                listing_dir=L.inventory_cache,
            )
        )
    return _fingerprint["value"]


_partition_cache = {}


def partitions():
    """(site, date) of every partition, read from the inventory checkpoint's list."""
    listing = checkpoints.inventory.get().output.partitions
    stamp = Path(listing).stat().st_mtime_ns
    if _partition_cache.get("stamp") != stamp:
        keys = read_partition_list(listing)
        _partition_cache.update(
            stamp=stamp, keys=keys, batches=group_batches(keys, S.jobs.days_per_job)
        )
    return _partition_cache["keys"]


def batches():
    """(site, window) -> dates: the per-partition jobs run once per batch (ecoae.batches)."""
    partitions()
    return _partition_cache["batches"]


def per_batch(path_of):
    """Input function: ``path_of(site, days)`` for every batch of the archive."""

    def expand_batches(wildcards):
        return [path_of(site, days) for site, days in batches()]

    return expand_batches


def in_batch(path_of):
    """Input function: ``path_of(site, date)`` for every partition of the job's batch."""

    def expand_batch(wildcards):
        key = (wildcards.site, wildcards.days)
        if key not in batches():
            raise WorkflowError(
                f"no partition of site {wildcards.site!r} falls in {wildcards.days}"
                f" ({L.partitions} lists the partitions; jobs.days_per_job is {S.jobs.days_per_job})"
            )
        return [path_of(wildcards.site, date) for date in batches()[key]]

    return expand_batch


# Targets of the default rule; each rule file appends what it adds.
TARGETS = []


def all_targets(wildcards):
    return [path for target in TARGETS for path in target(wildcards)]


# Feature sets compared by the evaluation, in order; each rule file adds its own.
FEATURE_SETS = []


# --------------------------------------------------------------- auto-encoder stage
AE = S.autoencoder
TRAINED_MODELS = AE.trained_models()
# Training and encoding claim the workstation's one GPU (profiles/default declares
# gpu: 1) only where there is one, so CPU-only machines run encode jobs side by side.
GPU_JOBS = int(AE.device != "cpu" and shutil.which("nvidia-smi") is not None)


def _model_regex(names):
    return "|".join(re.escape(name) for name in names) or "^$"


def model_checkpoint(name):
    """The model.pt of an auto-encoder: the configured one, or the one trained here."""
    return AE.models[name].checkpoint or L.model_file("model.pt", name)


# Image feature set -> its model file: every auto-encoder, then every PCA baseline.
IMAGE_MODEL_FILES = {
    **{f"ae-{name}": model_checkpoint(name) for name in AE.models},
    **{name: L.model_file("model.npz", name) for name in S.pca.models()},
}
IMAGE_SETS = list(IMAGE_MODEL_FILES)


def model_reports(wildcards):
    """Quality tables of the models fitted here, and the auto-encoders' training figures."""
    figures = ("loss_curve.png", "reconstructions.png", "quality.tsv")
    return [
        L.model_file(name, model) for model in TRAINED_MODELS for name in figures
    ] + [L.model_file("quality.tsv", model) for model in S.pca.models()]


# --------------------------------------------------------------- audio feature sets
# Only enabled sets are computed and compared (birdnet is off by default).
AUDIO_SETS = enabled_sets(S)
# Canonical JSON of each set's config section, in one param: a changed setting re-runs
# the partition's audio-feature job (which computes every set in one pass).
audio_feature_sections = json.dumps(
    {
        name: json.loads(AUDIO_FEATURE_SETS[name].settings(S).to_json())
        for name in AUDIO_SETS
    },
    sort_keys=True,
)
# The same pass renders the spectrogram images when image sets are configured (the
# image job then only encodes): the option and its value, or nothing.
image_render_arguments = (
    ["--spectrograms", S.spectrogram.to_json()] if IMAGE_SETS else []
)
# Worker processes of that job: the largest of the sets' (and the rendering's) threads.
audio_feature_threads = max(
    [AUDIO_FEATURE_SETS[name].settings(S).threads for name in AUDIO_SETS]
    + ([S.spectrogram.threads] if IMAGE_SETS else [])
    or [1]
)


# --------------------------------------------------------------- evaluation
# Batch jobs that write feature stores; each rule file adds its own.
FEATURE_JOBS = []


def evaluation_inputs(wildcards):
    """Every batch record of every feature job, and the training figures of models trained here."""
    paths = [
        L.batch_record(step, site, days)
        for step in FEATURE_JOBS
        for site, days in batches()
    ]
    return paths + model_reports(wildcards)
