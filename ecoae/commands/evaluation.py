"""``ecoae evaluate``: compare the feature stores (metrics, timings, figures, report)."""

from __future__ import annotations

import logging
from pathlib import Path

from ecoae.commands.arguments import json_object, section_help

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    """Add the ``evaluate`` sub-command to ``subparsers``."""
    parser = subparsers.add_parser(
        "evaluate",
        help="compare feature sets on classification tasks; write metrics, timings, figures, report.html",
        description="Compare the feature stores of a results folder on tasks from metadata and label tables, "
        "at several timescales, with grouped cross-validation; write metrics.csv, timings.csv, figures and "
        "report.html into <results>/evaluation.",
    )
    parser.add_argument("--results", required=True, type=Path, help="the workflow's results folder")
    parser.add_argument("--feature-set", action="extend", nargs="+", required=True, metavar="NAME",
                        help="feature sets to compare, e.g. indices mfcc; each store is <results>/features/NAME")
    parser.add_argument("--settings", type=json_object, default={}, help=section_help("evaluation"))
    parser.add_argument("--audio", type=json_object, default={},
                        help=section_help("audio", "its sample rate is stated in the report"))
    parser.add_argument("--base-dir", type=Path, default=Path("."), help="folder relative label-table paths start from")
    parser.add_argument("--threads", type=int, default=1, help="worker threads of the evaluation (default 1)")
    parser.set_defaults(handler=evaluate)


def evaluate(args) -> int:
    """Handler of ``ecoae evaluate``."""
    from ecoae.evaluation.run import run_evaluation
    from ecoae.layout import Layout
    from ecoae.settings import AudioSettings

    layout = Layout(str(args.results))
    partition_list = Path(layout.partitions)
    results = run_evaluation(
        layout.store_dir("segments"),
        {name: layout.store_dir(name) for name in args.feature_set},
        layout.evaluation_dir,
        layout.benchmarks_dir,
        layout.models_dir,
        args.settings,
        AudioSettings.from_mapping(args.audio, "audio").sample_rate,
        args.threads,
        args.base_dir,
        partition_list if partition_list.exists() else None,
    )
    evaluated = (results.tasks["status"] == "evaluated").sum() if len(results.tasks) else 0
    log.info("%d task/timescale combinations evaluated, %d skipped; report: %s",
             evaluated, len(results.tasks) - evaluated, Path(layout.evaluation_dir) / "report.html")
    return 0
