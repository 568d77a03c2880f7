"""Tasks from metadata and user label tables (CSV, Audacity, Raven) joined to segments."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest

from ecoae.evaluation import labels
from shared_data import SHARED_DATA as DATA



def segments_frame() -> pd.DataFrame:
    """Two recordings of 150 s cut into 60 s windows (the last one 30 s), one short recording."""
    rows = []
    for rec, path, hour, duration in (("r1", "siteA/S4A_20210601_050000.wav", 5, 150.0),
                                      ("r2", "siteA/S4A_20210601_230000.wav", 23, 150.0),
                                      ("r3", "siteB/other_20210602_120000.flac", 12, 20.0)):
        offset = 0.0
        index = 0
        while offset < duration:
            length = min(60.0, duration - offset)
            local = pd.Timestamp(f"2021-06-01 {hour:02d}:00:00") + pd.Timedelta(seconds=offset)
            rows.append({"recording_id": rec, "segment_index": index, "site": path.split("/")[0],
                         "date": "2021-06-01", "local_start": local, "path": path, "offset": offset,
                         "duration": length})
            offset += length
            index += 1
    return pd.DataFrame(rows)


def test_diel_lookup_default_and_errors():
    table = labels.diel_lookup(labels.DEFAULT_DIEL_PERIODS)
    assert [table[h] for h in (0, 4, 5, 7, 8, 16, 17, 19, 20, 23)] == [
        "night", "night", "dawn", "dawn", "day", "day", "dusk", "dusk", "night", "night"]
    with pytest.raises(ValueError, match="overlap"):
        labels.diel_lookup({"a": [0, 13], "b": [12, 0]})
    with pytest.raises(ValueError, match="uncovered"):
        labels.diel_lookup({"a": [0, 12]})


def test_metadata_labels_use_local_hour_and_restrict_date_to_multi_date_sites():
    frame = labels.add_metadata_labels(segments_frame(), ["site", "diel", "date"],
                                       {"morning": [4, 12], "rest": [12, 4]}, multi_date_sites={"siteB"})
    assert list(frame["label:site"]) == ["siteA"] * 6 + ["siteB"]
    assert list(frame["label:diel"]) == ["morning"] * 3 + ["rest"] * 4
    assert frame["label:date"].isna().sum() == 6
    assert frame["label:date"].iloc[-1] == "2021-06-01"


def test_csv_table_joins_by_path_stem_and_id_with_time_overlaps(tmp_path):
    table_path = tmp_path / "species.csv"
    table_path.write_text(
        "recording,start,end,label\n"
        "siteA/S4A_20210601_050000.wav,70,80,bird\n"      # by relative path: second segment only
        "S4A_20210601_230000,,,frog\n"                    # by file stem: whole recording
        "r1,100,130,frog\n"                               # by id: 20 s in segment 1, 10 s in segment 2
        "missing_file.wav,0,1,bird\n"                     # no such recording
    )
    spec = {"name": "species", "path": str(table_path), "absent_label": "none"}
    table = labels.load_label_table(spec)
    segments = segments_frame()
    events, notes = labels.match_recordings(table, labels.recording_lookup(segments))
    assert len(events) == 3 and len(notes) == 1 and "missing_file.wav" in notes[0]
    out = labels.add_table_labels(segments, table, events)
    got = dict(zip(zip(out["recording_id"], out["segment_index"]), out["label:species"]))
    # r1 segment 1 (60-120 s): bird overlaps 10 s, frog 20 s -> frog wins.
    assert got[("r1", 0)] == "none"
    assert got[("r1", 1)] == "frog"
    assert got[("r1", 2)] == "frog"
    assert [got[("r2", i)] for i in range(3)] == ["frog"] * 3
    assert pd.isna(got[("r3", 0)])  # recording absent from the table: not part of the task


def test_min_overlap_and_no_absent_label(tmp_path):
    table_path = tmp_path / "t.tsv"
    table_path.write_text("recording\tstart\tend\tlabel\nr1\t58\t61\tbird\n")
    table = labels.load_label_table({"name": "t", "path": str(table_path), "min_overlap_seconds": 1.5})
    events, _ = labels.match_recordings(table, labels.recording_lookup(segments_frame()))
    out = labels.add_table_labels(segments_frame(), table, events)
    # 2 s overlap with segment 0, 1 s with segment 1 (below the minimum); no absent label.
    assert list(out["label:t"].iloc[:3].fillna("-")) == ["bird", "-", "-"]


@pytest.mark.skipif(not (DATA / "reference" / "spinetail.txt").exists(),
                    reason="../shared/data/reference/spinetail.txt (real Audacity label file) is absent")
def test_real_audacity_label_file_is_read_and_joined():
    source = DATA / "reference" / "spinetail.txt"
    events = labels.read_audacity_labels(source)
    assert len(events) == 18  # 18 events, their frequency lines skipped
    assert set(events["label"]) == {"SP", "CRER"}
    assert events.iloc[0].tolist() == [pytest.approx(0.101385), pytest.approx(0.367520), "SP"]
    table = labels.load_label_table({"name": "spinetail", "path": str(source), "absent_label": "absent"})
    assert set(table.events["recording"]) == {"spinetail"}  # the label file's stem
    segments = pd.DataFrame({"recording_id": "x1", "segment_index": range(4), "path": "scrub/spinetail.wav",
                             "offset": [0.0, 5.0, 10.0, 15.0], "duration": 5.0})
    matched, notes = labels.match_recordings(table, labels.recording_lookup(segments))
    assert notes == [] and len(matched) == 18
    out = labels.add_table_labels(segments, table, matched)
    # 0-5 s: SP events 0.27 + 0.28 + 0.49 s, CRER 2.53 s -> CRER; every window holds some event.
    assert out["label:spinetail"].iloc[0] == "CRER"
    assert out["label:spinetail"].notna().all()


def test_raven_selection_table(tmp_path):
    path = tmp_path / "site_rec.Table.1.selections.txt"
    path.write_text(
        "Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tLow Freq (Hz)\tHigh Freq (Hz)\tBegin File\tSpecies\n"
        "1\tSpectrogram 1\t1\t1.5\t3.0\t1000\t4000\tS4A_20210601_050000.wav\tbird\n"
        "1\tWaveform 1\t1\t1.5\t3.0\t1000\t4000\tS4A_20210601_050000.wav\tbird\n"
        "2\tSpectrogram 1\t1\t125\t140\t300\t900\tS4A_20210601_230000.wav\tfrog\n"
    )
    table = labels.load_label_table({"name": "raven", "path": str(path)})
    assert len(table.events) == 2  # the waveform view duplicate is dropped
    events, notes = labels.match_recordings(table, labels.recording_lookup(segments_frame()))
    assert notes == []
    out = labels.add_table_labels(segments_frame(), table, events)
    labelled = out.dropna(subset=["label:raven"])
    assert list(zip(labelled["recording_id"], labelled["segment_index"], labelled["label:raven"])) == [
        ("r1", 0, "bird"), ("r2", 2, "frog")]


def test_table_without_required_columns_names_the_file(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("file,species\na,b\n")
    with pytest.raises(ValueError, match="bad.csv.*'recording' and 'label'"):
        labels.load_label_table({"name": "bad", "path": str(path)})
    with pytest.raises(FileNotFoundError, match="nowhere.csv"):
        labels.load_label_table({"name": "bad", "path": str(tmp_path / "nowhere.csv")})


def test_ambiguous_file_names_are_not_matched_by_name():
    segments = pd.DataFrame({"recording_id": ["a", "b"], "path": ["s1/x.wav", "s2/x.wav"]})
    lookup = labels.recording_lookup(segments)
    assert "x.wav" not in lookup and "x" not in lookup
    assert lookup["s1/x.wav"] == "a" and lookup["b"] == "b"
    assert np.array_equal(sorted(set(lookup.values())), ["a", "b"])
