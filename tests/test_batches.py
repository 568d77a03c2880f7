"""Batches of partitions: the windows of days a workflow job serves, and its record."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from ecoae.batches import group_batches, segment_files, window_days, window_label, write_batch_record
from ecoae.layout import Layout, manifest_partition


def test_a_seven_day_window_is_the_iso_week():
    for offset in range(800):
        day = date(2023, 12, 1) + timedelta(days=offset)
        year, week, _ = day.isocalendar()
        monday = date.fromisocalendar(year, week, 1)
        assert window_label(day.isoformat(), 7) == f"{monday}_{monday + timedelta(days=6)}"


@pytest.mark.parametrize("days_per_job", [1, 3, 7, 30])
def test_windows_tile_the_calendar(days_per_job):
    labels = [window_label((date(2024, 2, 20) + timedelta(days=n)).isoformat(), days_per_job) for n in range(90)]
    spans = [tuple(date.fromisoformat(day) for day in window_days(label)) for label in labels]
    for day_number, (first, last) in enumerate(spans):
        day = date(2024, 2, 20) + timedelta(days=day_number)
        assert first <= day <= last and (last - first).days == days_per_job - 1
    # Consecutive windows meet without a gap or an overlap.
    distinct = sorted(set(spans))
    assert all(after[0] - before[1] == timedelta(days=1) for before, after in zip(distinct, distinct[1:]))


def test_group_batches_by_site_and_window():
    partitions = [("pond", "2024-05-01"), ("pond", "2024-05-06"), ("pond", "2024-05-05"), ("reed", "2024-05-02")]
    assert group_batches(partitions, 7) == {
        ("pond", "2024-04-29_2024-05-05"): ["2024-05-01", "2024-05-05"],
        ("pond", "2024-05-06_2024-05-12"): ["2024-05-06"],
        ("reed", "2024-04-29_2024-05-05"): ["2024-05-02"],
    }
    assert len(group_batches(partitions, 1)) == 4


@pytest.mark.parametrize("label", ["2024-05-01", "2024-05-01_", "2024-13-01_2024-13-07"])
def test_a_malformed_window_is_refused(label):
    with pytest.raises(ValueError):
        window_days(label)


def test_bad_days_per_job_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        window_label("2024-05-01", 0)


def test_batch_record_lists_its_partitions(tmp_path):
    layout = Layout(str(tmp_path))
    path = layout.batch_record("segment", "pond", "2024-04-29_2024-05-05")
    write_batch_record([("pond", "2024-05-01"), ("pond", "2024-05-05")], path)
    assert path.endswith("batches/segment/site=pond/days=2024-04-29_2024-05-05.tsv")
    record = pd.read_csv(path, sep="\t", dtype=str)
    assert record.to_dict("list") == {"site": ["pond", "pond"], "date": ["2024-05-01", "2024-05-05"]}
    assert [p.name for p in (tmp_path / "batches" / "segment" / "site=pond").iterdir()] == [
        "days=2024-04-29_2024-05-05.tsv"]  # no temporary file left behind


def test_manifest_partition_reads_the_layout_back(tmp_path):
    layout = Layout(str(tmp_path / "results"))
    assert manifest_partition(layout.manifest("site with space", "2024-05-01")) == ("site with space", "2024-05-01")
    with pytest.raises(ValueError, match="not a partition manifest"):
        manifest_partition(tmp_path / "recordings.parquet")


def test_a_job_reads_the_segment_files_of_its_segment_batch(tmp_path):
    layout = Layout(str(tmp_path / "results"))
    record = layout.batch_record("segment", "pond", "2024-04-29_2024-05-05")
    write_batch_record([("pond", "2024-05-01"), ("pond", "2024-05-05")], record)
    assert segment_files([], record, layout.results) == [
        layout.segments("pond", "2024-05-01"), layout.segments("pond", "2024-05-05")]
    assert segment_files(["a/part-0.parquet"], None, layout.results) == ["a/part-0.parquet"]
    for segments, batch in (([], None), (["a/part-0.parquet"], record)):
        with pytest.raises(ValueError, match="not both and not neither"):
            segment_files(segments, batch, layout.results)
