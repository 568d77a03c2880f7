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


#: Import name of each conda package the envs may list.
IMPORT_NAMES = {
    "numpy": "numpy", "scipy": "scipy", "pandas": "pandas", "pyarrow": "pyarrow", "pysoundfile": "soundfile",
    "soxr-python": "soxr", "tqdm": "tqdm", "librosa": "librosa", "matplotlib": "matplotlib", "pytorch": "torch",
    "dask": "dask", "scikit-learn": "sklearn", "scikit-maad": "maad", "threadpoolctl": "threadpoolctl",
    "scikit-image": "skimage", "jsonschema": "jsonschema", "pyyaml": "yaml",
}

#: Run in a fresh interpreter: ecoae's own modules may import only the env's packages.
BLOCKER = """
import importlib.abc, sys
BLOCKED = set(sys.argv[1].split(","))
class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top not in BLOCKED:
            return None
        frame = sys._getframe(1)
        while frame and frame.f_globals.get("__name__", "").startswith(("importlib", "_frozen_importlib")):
            frame = frame.f_back
        importer = frame.f_globals.get("__name__", "") if frame else ""
        if importer.startswith("ecoae"):
            raise ImportError(f"{importer} imports {name}, which its rule's conda env does not have")
        return None
sys.meta_path.insert(0, Blocker())
for module in sys.argv[2].split(","):
    importlib.import_module(module)
"""


def rule_commands() -> dict[str, set[str]]:
    """Env name -> the ``ecoae`` sub-commands its rules run."""
    commands: dict[str, set[str]] = {}
    for path in (REPO / "workflow" / "rules").glob("*.smk"):
        for block in re.split(r"\n(?=\s*(?:rule|checkpoint) )", path.read_text()):
            env = re.search(r'"\.\./\.\./envs/([a-z]+)\.yaml"', block)
            command = re.search(r'"\{ECOAE\} ([a-z-]+)', block)
            if env and command:
                commands.setdefault(env[1], set()).add(command[1])
    return commands


def command_modules(command: str) -> set[str]:
    """The ecoae modules a sub-command can reach: its module and every ecoae module that module imports.

    Sub-commands import their heavy modules inside the handler; every import of the
    command's module counts (a command module serves the rules of one env).
    """
    import ast
    import importlib

    from ecoae.cli import build_parser
    from ecoae.features.registry import AUDIO_FEATURE_SETS

    subparsers = next(a for a in build_parser()._subparsers._group_actions if a.dest == "command")
    module = subparsers.choices[command].get_default("handler").__module__
    # audio-features imports each registered set's module by name (the registry).
    extra = {entry.module for entry in AUDIO_FEATURE_SETS.values()} if command == "audio-features" else set()
    tree = ast.parse(Path(importlib.import_module(module).__file__).read_text())
    imported = {node.module for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ecoae")}
    return {module} | imported | extra


def test_each_rule_imports_only_what_its_conda_env_has():
    import subprocess
    import sys

    dependencies = set(IMPORT_NAMES.values())
    commands = rule_commands()
    assert set(commands) == {"core", "autoencoder", "features", "evaluation"}
    for env, names in commands.items():
        available = {IMPORT_NAMES[name] for name in env_bounds(REPO / "envs" / f"{env}.yaml") if name != "python"}
        modules = sorted({module for command in names for module in command_modules(command)})
        blocked = sorted(dependencies - available)
        result = subprocess.run([sys.executable, "-c", BLOCKER, ",".join(blocked), ",".join(modules)],
                                capture_output=True, text=True, cwd=REPO)
        assert result.returncode == 0, f"env {env} ({', '.join(sorted(names))}):\n{result.stderr[-2000:]}"
