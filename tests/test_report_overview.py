"""The archive overview from the inventory tables: per-site table, time sources, quarantine by reason."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ecoae.evaluation import overview


def recordings() -> pd.DataFrame:
    return pd.DataFrame({
        "site": ["jura", "jura", "jura", "dagua"],
        "date": ["2017-03-25", "2017-03-25", "2017-03-28", "2017-03-26"],
        "duration": [1800.0, 1800.0, 3600.0, 1800.0],
        "time_source": ["filename:songmeter", "guano", "file_mtime", None],
    })


def test_time_source_kinds():
    kinds = [overview.time_source_kind(s) for s in ("filename:audiomoth", "guano", "audiomoth_comment",
                                                    "file_mtime", None, np.nan, "")]
    assert kinds == ["file name", "metadata", "metadata", "file mtime", "unknown", "unknown", "unknown"]


def test_site_table_counts_hours_days_gaps_and_time_sources():
    table = overview.site_table(recordings()).set_index("site")
    assert table.loc["jura", ["recordings", "hours", "days", "first", "last", "days without recordings"]].tolist() \
        == [3, 2.0, 2, "2017-03-25", "2017-03-28", 2]
    assert table.loc["jura", ["time: file name", "time: metadata", "time: file mtime", "time: unknown"]].tolist() \
        == [1, 1, 1, 0]
    assert table.loc["dagua", "time: unknown"] == 1


def test_site_table_without_optional_columns():
    table = overview.site_table(pd.DataFrame({"local_start": pd.to_datetime(["2021-01-01 05:00", "2021-01-03 06:00"])}))
    assert table["site"].tolist() == [overview.UNKNOWN_SITE]
    assert np.isnan(table["hours"].iloc[0]) and table["days"].iloc[0] == 2
    assert "time: unknown" in table and table["time: unknown"].iloc[0] == 2


def test_quarantine_grouped_by_kind_of_reason():
    quarantine = pd.DataFrame({
        "path": ["a/1.wav", "b/2.wav", "a/3.wav", "c/4.wav"], "site": ["a", "b", "a", "c"],
        "reason": ["too short: 0.5 s of audio", "too short: 0.2 s of audio",
                   "empty file (0 bytes): nothing to recover", "no start time in the file name or metadata; rename"],
    })
    table = overview.quarantine_table(quarantine, max_sites=1)
    assert table["reason"].tolist() == ["too short", "empty file", "no start time in the file name or metadata"]
    assert table["files"].tolist() == [2, 1, 1]
    assert table.loc[0, "sites"] == "a and 1 more" and table.loc[0, "detail"] == "too short: 0.5 s of audio"
    assert overview.quarantine_table(pd.DataFrame()).empty


def test_overview_sentences_and_reading(tmp_path):
    folder = tmp_path / "inventory"
    folder.mkdir()
    recordings().to_parquet(folder / "recordings.parquet")
    (folder / "quarantine.parquet").write_bytes(b"not parquet")
    archive = overview.read_archive(folder)
    assert len(archive.recordings) == 4 and archive.quarantine is None
    assert len(archive.notes) == 1 and "could not read" in archive.notes[0]
    sentences = overview.overview_sentences(archive)
    assert sentences[0] == "4 recordings, 2.5 hours of audio at 2 sites on 3 days (2017-03-25 to 2017-03-28); " \
        "the quarantine table could not be read."
    assert sentences[1] == "Start times from file name: 1, metadata: 1, file mtime: 1, unknown: 1."
    assert sentences[2].startswith("Caution: the start time of 1 recording comes from the file's modification time")


def test_recordings_kept_with_a_time_problem_are_listed():
    table = recordings().assign(time_note=["", "impossible date 2017-02-30 in the file name", None, ""])
    noted = overview.time_problem_table(table)
    assert noted[["reason", "recordings", "sites", "example"]].values.tolist() == \
        [["impossible date 2017-02-30 in the file name", 1, "jura", ""]]
    assert overview.time_problem_table(recordings()).empty
    sentences = overview.overview_sentences(overview.Archive(table, pd.DataFrame()))
    assert "1 recording kept despite a problem in the start time (listed below)." in sentences


def test_segments_left_out_are_read_beside_the_inventory_and_counted_once(tmp_path):
    from ecoae.layout import Layout
    from ecoae.problems import problem_table, write_problems

    layout = Layout(str(tmp_path / "results"))
    segments = pd.DataFrame({"recording_id": ["r1", "r1", "r2"], "segment_index": [0, 1, 0],
                             "path": ["jura/a.wav", "jura/a.wav", "jura/b.wav"], "offset": [0.0, 60.0, 0.0]})
    reasons = ["42 of 960000 samples are NaN or infinite (a damaged float recording)",
               "cannot be read (Error opening: File contains data in an unknown format.); the file changed"]
    for stage in ("indices", "mfcc"):  # the same two segments fail in both stages
        write_problems(problem_table(segments, [1, 2], reasons, stage), layout.problems(stage, "jura", "2017-03-25"))
    folder = Path(layout.inventory_dir)
    folder.mkdir(parents=True)
    recordings().to_parquet(folder / "recordings.parquet")
    pd.DataFrame({"path": [], "site": [], "reason": []}).to_parquet(folder / "quarantine.parquet")
    archive = overview.read_archive(folder)
    table = overview.problem_segment_table(archive.problems)
    assert sorted(table["reason"]) == ["42 of 960000 samples are NaN or infinite", "cannot be read"]
    assert table["segments"].sum() == 2 and set(table["sites"]) == {"jura"}
    assert overview.overview_sentences(archive)[0].endswith(
        "0 files quarantined; 2 segments left out because the audio could not be read (listed below).")


def test_sites_show_their_real_folder_name_beside_a_safe_key():
    table = recordings().assign(site=["jura", "jura", "jura", "a_b_-1f2e3d4c"],
                                site_name=["jura", "jura", "jura", "a{b}"])
    sites = overview.site_table(table)
    assert sorted(sites["site"]) == ["a{b} (key a_b_-1f2e3d4c)", "jura"]
