"""Seconds of compute per minute of audio from Snakemake benchmark records."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ecoae.evaluation import timings

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def write_benchmark(path: Path, wall: float, cpu: float, rss: float = 100.0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + f"{wall}\t0:00:01\t{rss}\t200\t90\t95\t0.1\t0.2\t50\t{cpu}\n")


def test_timing_table_follows_the_workflow_layout(tmp_path):
    root = tmp_path / "benchmarks"
    parts = [("a", "2021-06-01"), ("b", "2021-06-01")]
    for site, date in parts:
        tail = f"site={site}/date={date}.tsv"
        write_benchmark(root / "spectrograms" / tail, 2.0, 1.5)
        write_benchmark(root / "encode" / "ae-small" / tail, 1.0, 0.5)
        write_benchmark(root / "indices" / tail, 4.0, 3.0, rss=300)
        write_benchmark(root / "mfcc" / tail, 1.0, 0.8)
        write_benchmark(root / "segment" / tail, 9.0, 9.0)  # not a feature stage
    write_benchmark(root / "train" / "small.tsv", 120.0, 200.0)
    write_benchmark(root / "inventory.tsv", 5.0, 5.0)
    (root / "mfcc" / "broken.tsv").write_text("")  # an empty record is ignored
    minutes = pd.DataFrame({"site": ["a", "b"], "date": ["2021-06-01"] * 2, "minutes": [10.0, 30.0]})

    records = timings.read_benchmarks(root)
    assert set(records["rule"]) == {"spectrograms", "encode", "indices", "mfcc", "segment", "train", "inventory"}
    table = timings.timing_table(records, minutes, ["ae-small", "indices", "mfcc"])
    row = table.set_index(["feature_set", "stage"])
    assert row.loc[("ae-small", "spectrogram"), "cpu_s_per_audio_min"] == pytest.approx(3.0 / 40)
    assert row.loc[("ae-small", "encode"), "wall_s_per_audio_min"] == pytest.approx(2.0 / 40)
    assert row.loc[("ae-small", "total"), "cpu_s_per_audio_min"] == pytest.approx(4.0 / 40)
    assert row.loc[("ae-small", "train"), "wall_s"] == 120.0
    assert pd.isna(row.loc[("ae-small", "train"), "wall_s_per_audio_min"])
    assert row.loc[("indices", "total"), "cpu_s_per_audio_min"] == pytest.approx(6.0 / 40)
    assert row.loc[("indices", "total"), "max_rss_mib"] == 300
    assert row.loc[("mfcc", "total"), "audio_minutes"] == 40
    assert "segment" not in set(table["stage"])


def test_rule_mapping_conventions_and_override():
    sets = ["ae-explicit384", "ae-implicit384", "indices", "mfcc"]
    assert timings.rule_sets("encode_explicit384", None, sets)[0] == ["ae-explicit384"]
    assert timings.rule_sets("encode", "ae-implicit384", sets)[0] == ["ae-implicit384"]
    assert timings.rule_sets("encode", None, sets)[0] == ["ae-explicit384", "ae-implicit384"]
    assert timings.rule_sets("spectrograms", None, sets)[:2] == (["ae-explicit384", "ae-implicit384"], "spectrogram")
    assert timings.rule_sets("train", "explicit384", sets)[2] == timings.ONE_OFF
    assert timings.rule_sets("segment", None, sets)[0] == []
    assert timings.rule_sets("maad_alpha", None, sets, {"maad_alpha": ["indices"]})[0] == ["indices"]


def test_a_job_serving_several_sets_is_split_by_its_stage_costs(tmp_path):
    """The one-pass audio job and the image job: their CPU time is shared out as measured inside them."""
    from ecoae.layout import Layout
    from ecoae.stage_costs import read_stage_costs, write_stage_costs

    layout = Layout(str(tmp_path / "results"))
    write_benchmark(Path(layout.benchmark("audio_features", "a", "2021-05-31_2021-06-06")), 10.0, 5.0, rss=400)
    costs = Path(layout.costs("audio_features", "a", "2021-05-31_2021-06-06"))
    write_stage_costs({"decode": 1.0, "indices": 3.0, "mfcc": 1.0}, costs)
    assert "job" in read_stage_costs(costs)  # this process's CPU: replaces Snakemake's sampled figure
    costs.write_text("stage\tcpu_s\ndecode\t1\nindices\t3\nmfcc\t1\njob\t8\n")
    write_benchmark(Path(layout.benchmark("images", "a", "2021-05-31_2021-06-06")), 6.0, 4.0)
    write_stage_costs({}, layout.costs("images", "a", "2021-05-31_2021-06-06"))  # makes the folder
    Path(layout.costs("images", "a", "2021-05-31_2021-06-06")).write_text("stage\tcpu_s\nspectrograms\t1\nae-small\t2\npca8\t1\n")
    write_benchmark(Path(layout.benchmark("images", "b", "2021-05-31_2021-06-06")), 6.0, 4.0)  # no costs file: not split

    records = timings.read_benchmarks(layout.benchmarks_dir)
    cpu = records.groupby([records["rule"], records["model"].fillna(""), records["site"]])["cpu_s"].sum()
    assert cpu[("indices", "", "a")] == pytest.approx(6.0) and cpu[("mfcc", "", "a")] == pytest.approx(2.0)
    assert cpu[("spectrograms", "", "a")] == pytest.approx(1.0)
    assert cpu[("encode", "ae-small", "a")] == pytest.approx(2.0) and cpu[("encode", "pca8", "a")] == pytest.approx(1.0)
    assert cpu[("images", "", "b")] == pytest.approx(4.0)
    assert set(records.loc[records["rule"] == "indices", "max_rss_mib"]) == {400.0}
    # The batch's minutes: every partition of its site within its days, no other.
    minutes = pd.DataFrame({"site": ["a", "a", "a"], "date": ["2021-06-01", "2021-06-03", "2021-06-07"],
                            "minutes": [6.0, 4.0, 100.0]})
    table = timings.timing_table(records[records["site"] == "a"], minutes, ["ae-small", "pca8", "indices", "mfcc"])
    total = table[table["stage"] == "total"].set_index("feature_set")["cpu_s_per_audio_min"]
    assert total["indices"] == pytest.approx(0.6) and total["ae-small"] == pytest.approx(0.3)
