"""The conda environments (for --sdm conda) agree with pyproject.toml."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"soundfile": "pysoundfile", "soxr": "soxr-python", "torch": "pytorch"}


def pyproject_bounds() -> dict[str, str]:
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    bounds = {}
    for dep in deps:
        name, spec = re.match(r"^([A-Za-z0-9_.-]+)(?:\[[^]]*\])?(.*)$", dep).groups()
        bounds[CONDA_NAMES.get(name, name)] = spec.replace(" ", "")
    return bounds


def env_bounds(path: Path) -> dict[str, str]:
    bounds = {}
    for dep in yaml.safe_load(path.read_text())["dependencies"]:
        name, _, spec = dep.partition(" ")
        bounds[name] = spec.replace(" ", "")
    return bounds


def test_every_env_pins_what_pyproject_pins():
    expected = pyproject_bounds()
    envs = sorted((REPO / "envs").glob("*.yaml"))
    assert [p.stem for p in envs] == ["autoencoder", "core", "evaluation", "features"]
    for path in envs:
        for name, spec in env_bounds(path).items():
            if name != "python":
                assert name in expected, f"{path.name}: {name} is not a dependency in pyproject.toml"
                assert spec == expected[name], f"{path.name}: {name} {spec} but pyproject says {expected[name]}"


def test_every_rule_names_an_existing_env():
    rules = "\n".join(p.read_text() for p in (REPO / "workflow" / "rules").glob("*.smk"))
    named = set(re.findall(r'conda:\s*\n\s*"\.\./\.\./envs/([a-z]+)\.yaml"', rules))
    assert named and named <= {p.stem for p in (REPO / "envs").glob("*.yaml")}
    assert rules.count("conda:") == rules.count("shell:")
