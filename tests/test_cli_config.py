"""What the console shows for config given on Snakemake's command line (dry runs, seconds)."""

from __future__ import annotations

from workflow_helpers import planned_jobs, snakemake


def test_nested_override_on_the_command_line_is_accepted(tmp_path):
    run = snakemake("-n", "--config", f"results={tmp_path}", 'segments={"segment_seconds": 30}',
                    'autoencoder={"training": {"epochs": 3, "channels_last": false}}', check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    assert planned_jobs(run.stdout)["inventory"] == 1


def test_a_misspelt_key_stops_the_run_with_one_line(tmp_path):
    run = snakemake("-n", "--config", f"results={tmp_path}", "resluts=x", check=False)
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert "unknown setting config.resluts; did you mean 'results'?" in output
    assert "schema" not in output and len(output.splitlines()) <= 6, output


def test_a_value_out_of_range_names_the_key_without_the_schema(tmp_path):
    run = snakemake("-n", "--config", f"results={tmp_path}", 'mfcc={"n_mfcc": 0}', check=False)
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert "config.mfcc.n_mfcc: 0 is less than the minimum of 1" in output
    assert "schema" not in output and len(output.splitlines()) <= 6, output
