"""Computation cost of each feature set from Snakemake's per-job benchmark records.

Snakemake writes one TSV per job (``benchmark:`` directive) with wall-clock
seconds ``s``, ``cpu_time`` and ``max_rss`` (MiB). The workflow stores them at
``benchmarks/<rule>/[<key>=<value>/]site=<site>/days=<first>_<last>.tsv`` for a job
serving a batch of partitions (:mod:`ecoae.batches`; ``date=<date>`` for one partition).
Each rule is attributed to the feature sets it serves:

- a rule named like a set (``indices``, ``mfcc``) serves that set;
- ``spectrogram(s)`` serves every image set (``ae-*`` and ``pca<k>``: the shared
  input of the encoders), and ``training_images`` is their shared one-off cost;
- ``encode_<model>``/``encode-<model>``, or ``encode`` with an ``[ae-]<model>``
  or ``model=<model>`` folder, serves ``ae-<model>`` (or the set named ``<model>``,
  e.g. ``pca32``); a bare ``encode`` serves every image set;
- ``train_<model>``, ``train/<model>.tsv`` or ``train`` is the one-off training
  (or PCA fitting) cost, reported apart;
- an explicit ``rule -> [set, ...]`` mapping from config overrides all this.

Per-partition stages are divided by the minutes of audio of the partitions
they ran on: those of the job's site with a date in its days (sum of segment
durations / 60). A job that serves several sets (the audio-feature and image jobs)
is split into its stages first, by the CPU each stage measured inside the job
(:mod:`ecoae.stage_costs`).
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import pandas as pd

from ecoae.batches import window_days
from ecoae.stage_costs import JOB, read_stage_costs, stage_shares

PER_PARTITION = "per_partition"
ONE_OFF = "one_off"


def read_benchmarks(benchmark_dir: str | Path) -> pd.DataFrame:
    """Read every benchmark TSV under ``benchmark_dir``.

    A job that serves several feature sets (one pass computing indices and MFCC and
    rendering the images; one image job encoding with every model) left its stage costs under
    ``costs/`` beside ``benchmarks/`` (:mod:`ecoae.stage_costs`); its record becomes one
    row per stage, with the job's seconds (its own CPU measure, which Snakemake's sampled
    ``cpu_time`` undercounts) divided in the measured proportions and named
    as a rule of that stage alone would be (``indices``, ``spectrograms``, ``encode`` with
    the set as model).

    Returns
    -------
    DataFrame
        Columns rule, model (or None), site, first_date, last_date (the days the job
        served; None for one-off jobs), wall_s, cpu_s, max_rss_mib, path.
    """
    rows = []
    root = Path(benchmark_dir)
    for path in sorted(root.rglob("*.tsv")):
        relative = path.relative_to(root)
        parts = relative.with_suffix("").parts
        keys = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        # A plain folder or file name after the rule names the model
        # (benchmarks/encode/ae-<model>/site=…, benchmarks/train/<model>.tsv).
        plain = [p for p in parts[1:] if "=" not in p]
        try:
            table = pd.read_csv(path, sep="\t")
        except (pd.errors.EmptyDataError, pd.errors.ParserError):
            continue
        if table.empty or "s" not in table:
            continue
        costs = read_stage_costs(root.parent / "costs" / relative)
        shares = stage_shares(costs)
        stages = [(_stage_rule(stage), share) for stage, share in shares.items()]
        stages = stages or [((parts[0], keys.get("model") or (plain[0] if plain else None)), 1.0)]
        first, last = _days_served(keys)
        for record in table.itertuples(index=False):
            for (rule, model), share in stages:
                rows.append(
                    {
                        "rule": rule,
                        "model": model,
                        "site": keys.get("site"),
                        "first_date": first,
                        "last_date": last,
                        "wall_s": float(record.s) * share,
                        # The job's own measure when it left one: Snakemake's misses each job's end.
                        "cpu_s": costs.get(JOB, float(getattr(record, "cpu_time", float("nan")))) * share,
                        "max_rss_mib": pd.to_numeric(getattr(record, "max_rss", float("nan")), errors="coerce"),
                        "path": str(path),
                    }
                )
    columns = ["rule", "model", "site", "first_date", "last_date", "wall_s", "cpu_s", "max_rss_mib", "path"]
    return pd.DataFrame(rows, columns=columns)


def _days_served(keys: dict[str, str]) -> tuple[str | None, str | None]:
    """First and last day of a job's record folders: ``days=<first>_<last>`` or ``date=<date>``."""
    if "days" in keys:
        return window_days(keys["days"])
    return keys.get("date"), keys.get("date")


def _is_image_set(name: str) -> bool:
    """Whether a feature set is encoded from the spectrogram images (``ae-*``, ``pca<k>``)."""
    return name.startswith("ae-") or re.fullmatch(r"pca\d+", name) is not None


def _stage_rule(stage: str) -> tuple[str, str | None]:
    """(rule, model) a stage of a multi-set job is reported as: encoders under ``encode``."""
    if _is_image_set(stage):
        return "encode", stage
    return stage, None


def rule_sets(rule: str, model: str | None, feature_sets: list[str],
              mapping: dict[str, list[str]] | None = None) -> tuple[list[str], str, str]:
    """Return the feature sets a benchmarked rule serves, its stage name and kind.

    Returns
    -------
    (list of str, str, str)
        Sets (empty when the rule is not a feature stage), stage label
        (e.g. ``"spectrogram"``, ``"encode"``, ``"train"``), and
        :data:`PER_PARTITION` or :data:`ONE_OFF`.
    """
    image_sets = [s for s in feature_sets if _is_image_set(s)]
    if mapping and rule in mapping:
        patterns = mapping[rule]
        return [s for s in feature_sets if any(fnmatch.fnmatch(s, p) for p in patterns)], rule, PER_PARTITION
    if rule in feature_sets:
        return [rule], rule, PER_PARTITION
    if rule in ("spectrogram", "spectrograms"):
        return image_sets, "spectrogram", PER_PARTITION
    if rule == "training_images":
        return image_sets, "training images", ONE_OFF
    match = re.fullmatch(r"(encode|train)(?:[_-](?P<model>.+))?", rule)
    if match:
        stage = match.group(1)
        name = match.group("model") or model
        kind = ONE_OFF if stage == "train" else PER_PARTITION
        if name is None:
            return image_sets, stage, kind
        bare = name.removeprefix("ae-")
        return [s for s in image_sets if s in (f"ae-{bare}", name)], stage, kind
    return [], rule, PER_PARTITION


def timing_table(benchmarks: pd.DataFrame, audio_minutes: pd.DataFrame, feature_sets: list[str],
                 mapping: dict[str, list[str]] | None = None) -> pd.DataFrame:
    """Seconds of compute per minute of audio, per feature set and stage.

    Parameters
    ----------
    benchmarks : DataFrame
        From :func:`read_benchmarks`.
    audio_minutes : DataFrame
        Columns site, date, minutes (audio per partition).
    feature_sets : list of str
    mapping : dict, optional
        Rule -> set name patterns, overriding the naming conventions.

    Returns
    -------
    DataFrame
        One row per (feature_set, stage) plus a ``total`` row per set: jobs,
        audio_minutes, wall_s, cpu_s, wall_s_per_audio_min, cpu_s_per_audio_min,
        max_rss_mib, kind. One-off stages (training) have no per-minute values
        and are not part of the total.
    """
    # Dates as ISO day strings, whatever type the store reader gave them.
    minutes = {(str(r.site), str(r.date)[:10]): float(r.minutes) for r in audio_minutes.itertuples(index=False)}
    dates_of_site: dict[str, list[str]] = {}
    for site, date in minutes:
        dates_of_site.setdefault(site, []).append(date)
    rows = []
    for (rule, model), jobs in benchmarks.groupby(["rule", benchmarks["model"].fillna("")], sort=True):
        sets, stage, kind = rule_sets(rule, model or None, feature_sets, mapping)
        for name in sets:
            row = {
                "feature_set": name, "stage": stage, "rule": rule, "kind": kind, "jobs": len(jobs),
                "wall_s": jobs["wall_s"].sum(), "cpu_s": jobs["cpu_s"].sum(), "max_rss_mib": jobs["max_rss_mib"].max(),
            }
            if kind == PER_PARTITION:
                covered = {
                    (site, date)
                    for site, first, last in zip(jobs["site"], jobs["first_date"], jobs["last_date"])
                    for date in dates_of_site.get(site, [])
                    if first <= date <= last
                }
                row["audio_minutes"] = sum(minutes.get(key, 0.0) for key in covered)
            rows.append(row)
    columns = ["feature_set", "stage", "rule", "kind", "jobs", "audio_minutes", "wall_s", "cpu_s",
               "wall_s_per_audio_min", "cpu_s_per_audio_min", "max_rss_mib"]
    table = pd.DataFrame(rows, columns=columns)
    if table.empty:
        return table
    per = table["kind"] == PER_PARTITION
    totals = (
        table[per].groupby("feature_set", as_index=False)
        .agg(jobs=("jobs", "sum"), audio_minutes=("audio_minutes", "max"), wall_s=("wall_s", "sum"),
             cpu_s=("cpu_s", "sum"), max_rss_mib=("max_rss_mib", "max"))
        .assign(stage="total", rule="", kind=PER_PARTITION)
    )
    table = pd.concat([table, totals], ignore_index=True)
    minutes_col = table["audio_minutes"].where((table["kind"] == PER_PARTITION) & (table["audio_minutes"] > 0))
    table["wall_s_per_audio_min"] = table["wall_s"] / minutes_col
    table["cpu_s_per_audio_min"] = table["cpu_s"] / minutes_col
    order = {"spectrogram": 0, "encode": 1, "total": 3, "training images": 4, "train": 5}
    table["_order"] = table["stage"].map(order).fillna(2)
    return table.sort_values(["feature_set", "_order", "rule"]).drop(columns="_order")[columns].reset_index(drop=True)
