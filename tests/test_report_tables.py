"""The report's tables: the best cell of each column marked (never a row), the cost table, the archive section."""

from __future__ import annotations

import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd

from ecoae.evaluation import overview, report, summary
from test_report_summary import scores

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


class Cells(HTMLParser):
    """Rows of the first table in a fragment: (text, marked best) per cell, the header row first."""

    def __init__(self):
        super().__init__()
        self.rows: list[list[tuple[str, bool]]] = []
        self._best = False
        self._cell: list[str] | None = None
        self._done = False

    def handle_starttag(self, tag, attrs):
        if self._done:
            return
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell, self._best = [], "best" in (dict(attrs).get("class") or "").split()

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and not self._done:
            self.rows[-1].append(("".join(self._cell), self._best))
            self._cell = None
        elif tag == "table":
            self._done = True

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def table_of(fragment: str) -> pd.DataFrame:
    """The first table of ``fragment`` as a frame of cell text, with a parallel frame of best marks in ``.attrs``."""
    parser = Cells()
    parser.feed(fragment)
    header, *body = parser.rows
    names = [text for text, _ in header]
    frame = pd.DataFrame([[text for text, _ in row] for row in body], columns=names)
    frame.attrs["best"] = pd.DataFrame([[best for _, best in row] for row in body], columns=names)
    return frame


def two_models() -> pd.DataFrame:
    """Set a best with the forest, set b best with logistic regression; logistic b's F1 below chance."""
    forest, _ = scores("site", "segment", {"a": 0.9, "b": 0.7}, spread=0.05)
    logistic = forest.assign(model="logistic", balanced_accuracy_mean=[0.6, 0.8], f1_macro_mean=[0.3, 0.45])
    return pd.concat([forest, logistic], ignore_index=True)


def test_best_is_marked_per_column_not_per_row():
    table = table_of(report.metrics_tables(two_models()))
    best = table.attrs["best"].set_axis(table["feature set"])
    assert best.loc["a"].tolist() == [False, False, True, True, False, False]
    assert best.loc["b"].tolist() == [False, False, False, False, True, False]  # its F1 0.45 < chance 0.5


def test_best_positions_ties_and_chance():
    assert report.best_positions([0.5, 0.9, 0.9, np.nan]) == {1, 2}
    assert report.best_positions([2.0, 1.0, np.nan], higher=False) == {1}
    assert report.best_positions([0.4, 0.3], above=0.5) == set()
    assert report.best_positions([np.nan]) == set()


def test_metrics_table_says_when_a_timescale_adds_no_aggregation():
    metrics, _ = scores("site", "10min", {"a": 0.9}, spread=0.05)
    tasks = pd.DataFrame({"task": ["site"], "timescale": ["10min"], "segments_per_window_median": [1.0],
                          "segments_per_window_max": [1.0]})
    assert "at 10min each window holds one segment" in report.metrics_tables(metrics, tasks)
    assert "each window holds one segment" not in report.metrics_tables(metrics)


def test_cost_table_marks_cheapest_and_best_scores_above_chance_only():
    metrics, folds = scores("site", "segment", {"a": 0.9, "b": 0.7}, spread=0.05)
    below, below_folds = scores("date", "1h", {"a": 0.2, "b": 0.3}, spread=0.05)
    metrics, folds = pd.concat([metrics, below]), pd.concat([folds, below_folds])
    timings = pd.DataFrame({"feature_set": ["a", "a", "b"], "stage": ["total", "train", "total"],
                            "kind": ["per_partition", "one_off", "per_partition"], "cpu_s": [9.0, 1035.0, 1.0],
                            "cpu_s_per_audio_min": [1.5, np.nan, 0.25]})
    html = report.cost_table_html(metrics, timings, summary.summarise(metrics, folds), ["b", "a", "<c>"],
                                  "random_forest")
    assert 'data-first-screen="cost"' in html and "<c>" not in html
    table = table_of(html)
    assert table.columns.tolist() == ["feature set", "CPU s / audio min", "one-off CPU s (training)", "site · segment",
                                      "date · 1h (no set above chance)"]
    assert table["feature set"].tolist() == ["b", "a", "<c>"]
    assert table["CPU s / audio min"].tolist() == ["0.25", "1.5", "—"]
    assert table["one-off CPU s (training)"].tolist() == ["—", "1,035", "—"]
    assert table["site · segment"].tolist() == ["0.700 ± 0.050", "0.900 ± 0.050", ""]
    best = table.attrs["best"]
    assert best["CPU s / audio min"].tolist() == [True, False, False]
    assert best["site · segment"].tolist() == [False, True, False]
    assert not best["date · 1h (no set above chance)"].any()


def test_archive_section_survives_missing_columns_and_tables(tmp_path):
    empty = overview.read_archive(tmp_path / "nowhere")
    assert len(empty.notes) == 2 and "No inventory table could be read" in report.archive_html(empty, [])
    sparse = overview.Archive(pd.DataFrame({"site": ["<b>x</b>", "y"], "path": ["a.wav", "b.wav"]}),
                              pd.DataFrame({"path": ["c.wav"]}))
    html = report.archive_html(sparse, [])
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html
    assert "2 recordings at 2 sites; 1 file quarantined." in html and "(no reason given)" in html
    assert "problem in their start time" not in html
    noted = overview.Archive(sparse.recordings.assign(time_note=["hour 25 in the file name", ""]), None)
    html = report.archive_html(noted, [])
    assert "<h3>Recordings with a problem in their start time</h3>" in html and ">hour 25 in the file name<" in html
    assert "Quarantined files" not in html


def test_first_screen_layout_is_read_from_the_dom():
    sys.path.insert(0, str(SCRIPTS))
    from screenshot_report import first_screen

    dom = '<body data-images-loaded="3/3" data-first-screen-layout="summary:150-190;cost:260-480">'
    assert first_screen(dom, 900) == {"height": 900, "elements": {"summary": [150, 190], "cost": [260, 480]},
                                      "visible": True}
    assert not first_screen(dom, 400)["visible"]
    assert not first_screen('<body data-first-screen-layout="summary:150-190">', 900)["visible"]
    assert not first_screen("<body>", 900)["visible"]
