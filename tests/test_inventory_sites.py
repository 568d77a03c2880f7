"""Any site folder name works: the partition key is a safe form of it, the name is kept."""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from ecoae.archive.inventory import build_inventory, safe_site_key, write_inventory
from ecoae.layout import Layout, partition_of

UNSAFE = ["<script>alert(1)", "a{b}c", "50%", "x=y", "a/b", "a b ", " lead", "{}", "%41", "..", "a\nb", "é=è"]
SAFE = ["wetland", "forêt_été", "Site 2", "a.b+c-d", "S4A03895", "北京", "_x"]


@pytest.mark.parametrize("name", SAFE)
def test_a_safe_name_is_its_own_key(name):
    assert safe_site_key(name) == name


def test_unsafe_names_get_distinct_keys_that_paths_and_snakemake_accept():
    keys = [safe_site_key(name) for name in UNSAFE]
    assert len(set(keys)) == len(UNSAFE)
    for key in keys:
        assert re.fullmatch(r"\w[\w .+-]*", key) and not key.endswith(" ")
        assert safe_site_key(key) == key  # a key is safe, so stable
    assert safe_site_key("a{b}c").startswith("a_b_c-") and safe_site_key("{}").startswith("site-")
    assert re.fullmatch(r"x_y-[0-9a-f]{8}", safe_site_key("x=y"))


def test_strange_folder_names_become_partition_keys(tmp_path, write_tone):
    archive, out = tmp_path / "archive", tmp_path / "inventory"
    names = ["<script>alert(1)", "a{b}c", "50%", "x=y", "plain"]
    for name in names:
        write_tone(archive / name / "20240101_000000.wav", 1.5)
    (archive / "x=y" / "20240101_010000.wav").write_bytes(b"")
    inventory = build_inventory(archive, {"site_timezones": {"x=y": "Europe/Paris",
                                                             safe_site_key("50%"): "America/Bogota"}})
    rows = inventory.recordings.set_index("site_name")
    assert sorted(rows.index) == sorted(names)
    assert rows.loc["plain", "site"] == "plain"
    assert {rows.loc[name, "site"] for name in names} == {safe_site_key(name) for name in names}
    # site_timezones names a site by its folder name or by its key.
    assert rows.loc["x=y", "timezone"] == "Europe/Paris" and rows.loc["50%", "timezone"] == "America/Bogota"
    assert rows.loc["a{b}c", "timezone"] == "UTC"
    assert inventory.quarantine["site"].tolist() == [safe_site_key("x=y")]

    write_inventory(inventory, out)
    root = out / "partitions"
    manifests = sorted(path.relative_to(root).as_posix() for path in root.rglob("*.parquet"))
    assert manifests == sorted(f"site={safe_site_key(name)}/date=2024-01-01.parquet" for name in names)


def test_keys_survive_hive_partition_paths(tmp_path):
    """pyarrow reads back exactly the key from ``site=<key>`` (no %-decoding surprises)."""
    keys = sorted({safe_site_key(name) for name in UNSAFE + SAFE})
    layout = Layout(str(tmp_path))
    for key in keys:
        path = tmp_path / layout.segments(key, "2024-01-01").removeprefix(f"{tmp_path}/")
        path.parent.mkdir(parents=True)
        pq.write_table(pa.table({"x": [1]}), path)
        assert partition_of(path) == (key, "2024-01-01")
    read = ds.dataset(tmp_path / "segments", partitioning="hive").to_table()
    assert sorted(read["site"].to_pylist()) == keys
