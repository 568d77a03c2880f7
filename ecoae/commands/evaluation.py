"""``ecoae evaluate``: compare the feature stores (metrics, timings, figures, report)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ecoae.commands.arguments import json_object

log = logging.getLogger(__name__)


def _feature_set(text: str) -> tuple[str, str]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=DIR (e.g. indices=results/features/indices), got {text!r}")
    return name, path


def register(subparsers) -> None:
    """Add the ``evaluate`` sub-command to ``subparsers``."""
    parser = subparsers.add_parser(
        "evaluate",
        help="compare feature sets on classification tasks; write metrics, timings, figures, report.html",
        description="Compare feature stores on tasks from metadata and label tables, at several timescales, "
        "with grouped cross-validation; write metrics.csv, timings.csv, figures and report.html.",
    )
    parser.add_argument("--segments-dir", required=True, type=Path, help="segment store folder (results/segments)")
    parser.add_argument("--feature-set", action="append", type=_feature_set, required=True, metavar="NAME=DIR",
                        help="a feature store (repeat): e.g. indices=results/features/indices")
    parser.add_argument("--out-dir", required=True, type=Path, help="output folder (results/evaluation)")
    parser.add_argument("--benchmarks-dir", type=Path, help="Snakemake benchmark records (results/benchmarks)")
    parser.add_argument("--models-dir", type=Path, help="auto-encoder training outputs (results/models)")
    parser.add_argument("--settings", type=json_object, default={},
                        help="evaluation settings as JSON (config 'evaluation' section)")
    parser.add_argument("--sample-rate", type=int, help="rate all audio was read at (stated in the report)")
    parser.add_argument("--base-dir", type=Path, default=Path("."), help="folder relative label-table paths start from")
    parser.add_argument("--threads", type=int, default=1)
    parser.set_defaults(handler=evaluate)


def evaluate(args) -> int:
    """Handler of ``ecoae evaluate``."""
    from ecoae.evaluation.run import run_evaluation

    results = run_evaluation(
        args.segments_dir, dict(args.feature_set), args.out_dir, args.benchmarks_dir, args.models_dir,
        args.settings, args.sample_rate, args.threads, args.base_dir,
    )
    evaluated = (results.tasks["status"] == "evaluated").sum() if len(results.tasks) else 0
    log.info("%d task/timescale combinations evaluated, %d skipped; report: %s",
             evaluated, len(results.tasks) - evaluated, Path(args.out_dir) / "report.html")
    return 0
