"""Settings are defined once (ecoae.settings); the schemas and config.yaml follow them."""

from __future__ import annotations

import dataclasses
import json
import typing
from pathlib import Path

import pytest
import yaml

from ecoae.settings import (
    SCHEMA_SECTIONS,
    AudioSettings,
    BirdnetSettings,
    MfccSettings,
    Section,
    Settings,
    SettingsError,
    SpectrogramSettings,
    TrainingSettings,
    check_schemas,
    load_settings,
    typed_config,
)

REPO = Path(__file__).resolve().parents[1]
SCHEMAS = REPO / "workflow" / "schemas"


def _section_class(hint) -> type[Section] | None:
    """The Section class a field holds directly, in a dict of sections, or in a tuple of sections."""
    if isinstance(hint, type) and issubclass(hint, Section):
        return hint
    for argument in typing.get_args(hint):
        found = _section_class(argument)
        if found is not None:
            return found
    return None


def _compare(cls: type[Section], schema: dict, where: str) -> list[str]:
    """Differences between a settings class and its schema node, recursively."""
    problems = []
    fields = {f.name: typing.get_type_hints(cls)[f.name] for f in dataclasses.fields(cls)}
    properties = schema.get("properties", {})
    if set(fields) != set(properties):
        problems.append(f"{where}: class has {sorted(set(fields) - set(properties))} not in the schema, "
                        f"schema has {sorted(set(properties) - set(fields))} not in the class")
    if schema.get("additionalProperties") is not False:
        problems.append(f"{where}: the schema must refuse unknown keys (additionalProperties: false)")
    for name, hint in fields.items():
        inner = _section_class(hint)
        if inner is None or name not in properties:
            continue
        node = properties[name]
        node = node.get("additionalProperties", node) if typing.get_origin(hint) is dict else node
        node = node.get("items", node) if typing.get_origin(hint) is tuple else node
        problems += _compare(inner, node, f"{where}.{name}")
    return problems


def _schema(name: str) -> dict:
    return yaml.safe_load((SCHEMAS / f"{name}.schema.yaml").read_text())


def test_schemas_have_exactly_the_keys_of_the_settings_classes():
    top = _schema("config")
    for section in SCHEMA_SECTIONS:
        top["properties"][section] = _schema(section)
    assert _compare(Settings, top, "config") == []


def _keys(node) -> set[str]:
    if isinstance(node, dict):
        return set(node) | {key for value in node.values() for key in _keys(value)}
    if isinstance(node, list):
        return {key for value in node for key in _keys(value)}
    return set()


def test_schemas_hold_no_defaults():
    for path in SCHEMAS.glob("*.schema.yaml"):
        assert "default" not in _keys(yaml.safe_load(path.read_text())), path.name


def test_config_yaml_shows_the_defaults():
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    assert load_settings(config).to_json() == Settings().to_json()


def test_unknown_key_names_the_key_and_the_closest_one():
    with pytest.raises(SettingsError, match=r"unknown setting config\.mfcc\.n_mfc; did you mean 'n_mfcc'\?"):
        load_settings({"mfcc": {"n_mfc": 13}})
    with pytest.raises(SettingsError, match="unknown setting config.autoencoder.training.epoch;"):
        load_settings({"autoencoder": {"training": {"epoch": 3}}})


def test_closed_sets_and_cross_checks_are_refused():
    with pytest.raises(SettingsError, match="autoencoder.device"):
        load_settings({"autoencoder": {"device": "cpu $(touch x)"}})
    with pytest.raises(SettingsError, match="Nyquist"):
        load_settings({"audio": {"sample_rate": 16000}, "spectrogram": {"fmax": 9000}})
    with pytest.raises(SettingsError, match="partial"):
        load_settings({"segments": {"partial": "pad"}})


def test_birdnet_is_off_by_default_and_an_enabled_set_needs_its_extra(monkeypatch):
    from ecoae.features import birdnet
    from ecoae.features.registry import check_enabled_sets, enabled_sets

    assert enabled_sets(Settings()) == ["indices", "mfcc"]
    enabled = load_settings({"birdnet": {"enabled": True}})
    assert enabled_sets(enabled) == ["indices", "mfcc", "birdnet"]
    assert enabled.birdnet.to_json() == BirdnetSettings().to_json()  # on or off, never a reason to re-run
    monkeypatch.setattr(birdnet, "model_file", lambda: None)
    check_enabled_sets(Settings())
    with pytest.raises(SettingsError, match=r'^config\.birdnet\.enabled is true but .*pip install -e "\.\[birdnet\]"'):
        check_enabled_sets(enabled)
    with pytest.raises(SettingsError, match=r"birdnet\.overlap must be in \[0, 2\.9\] seconds"):
        load_settings({"birdnet": {"overlap": 2.95}})


def test_canonical_json_is_one_string_whatever_the_source():
    from_yaml = MfccSettings.from_mapping({"fmin": 0, "n_mfcc": 20})
    assert from_yaml.to_json() == MfccSettings().to_json()
    assert MfccSettings.from_mapping(json.loads(MfccSettings().to_json())) == MfccSettings()
    # Runtime keys change speed, not results: they are not part of the canonical form.
    assert "threads" not in SpectrogramSettings(threads=7).to_json()
    assert SpectrogramSettings(threads=7).to_json() == SpectrogramSettings().to_json()
    assert AudioSettings.from_mapping({"channel": 1}).to_json() == '{"channel": 1, "sample_rate": 22050}'


def test_a_setting_added_later_changes_the_canonical_form_only_away_from_the_old_behaviour():
    # training.precision arrived after models were trained in float32: at that value it must
    # not re-run their training, at any other it must.
    assert "precision" not in TrainingSettings().to_json()
    assert TrainingSettings(precision="float32").to_json() == TrainingSettings().to_json()
    bf16 = TrainingSettings(precision="bfloat16")
    assert json.loads(bf16.to_json())["precision"] == "bfloat16"
    assert TrainingSettings.from_mapping(json.loads(bf16.to_json())) == bf16
    with pytest.raises(SettingsError, match=r"training\.precision must be one of"):
        TrainingSettings(precision="float16")


def test_every_shipped_configfile_loads_over_the_defaults():
    from snakemake.utils import update_config

    for path in sorted((REPO / "config").glob("*.yaml")):
        config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
        update_config(config, yaml.safe_load(path.read_text()))
        settings = load_settings(config)
        assert settings.autoencoder.models, path.name
    sweep = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    update_config(sweep, yaml.safe_load((REPO / "config" / "feature-size-sweep.yaml").read_text()))
    sizes = {model.feature_size for model in load_settings(sweep).autoencoder.models.values()}
    assert sizes == {32, 128, 384}


def _shipped_config() -> dict:
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def test_nested_command_line_strings_become_the_declared_types():
    # What `snakemake --config segments='{"segment_seconds": 30}' ...` hands the workflow.
    config = typed_config({
        "segments": {"segment_seconds": "30", "partial": "drop"},
        "audio": {"channel": "1"},
        "spectrogram": {"fmax": "null"},
        "autoencoder": {"training": {"epochs": "3", "learning_rate": "1e-3", "channels_last": "false"},
                        "models": {"small": {"channels": ["4", "8", "8", "8"]}}},
        "evaluation": {"diel_periods": {"dawn": ["5", "8"]}, "timescales": ["segment", "1h"]},
        "inventory": {"timezone": "Europe/Paris"},
    })
    check_schemas(config, SCHEMAS)
    settings = load_settings(config)
    assert settings.segments.segment_seconds == 30.0 and settings.segments.partial == "drop"
    assert settings.audio.channel == 1 and settings.spectrogram.fmax is None
    training = settings.autoencoder.training
    assert (training.epochs, training.learning_rate, training.channels_last) == (3, 1e-3, False)
    assert settings.autoencoder.models["small"].channels == (4, 8, 8, 8)
    assert settings.evaluation.diel_periods["dawn"] == (5, 8)
    assert settings.inventory.timezone == "Europe/Paris"


def test_plain_yaml_passes_unchanged_and_meets_the_schemas():
    config = _shipped_config()
    assert typed_config(config) == config
    check_schemas(config, SCHEMAS)


def test_a_string_of_the_wrong_type_is_named():
    with pytest.raises(SettingsError, match=r"^config\.segments\.segment_seconds must be a number, not 'thirty'$"):
        typed_config({"segments": {"segment_seconds": "thirty"}})
    with pytest.raises(SettingsError, match=r"config\.autoencoder\.training\.epochs must be a whole number"):
        typed_config({"autoencoder": {"training": {"epochs": "2.5"}}})
    with pytest.raises(SettingsError, match=r"config\.spectrogram\.fmax must be a number or null"):
        typed_config({"spectrogram": {"fmax": "top"}})


def test_a_misspelt_key_gives_one_line_with_the_closest_key():
    with pytest.raises(SettingsError) as caught:
        typed_config({"mfcc": {"n_mfc": "20"}})
    assert str(caught.value) == "unknown setting config.mfcc.n_mfc; did you mean 'n_mfcc'?"
    with pytest.raises(SettingsError, match=r"unknown setting config\.resluts; did you mean 'results'\?"):
        typed_config({"resluts": "x"})


def test_a_schema_problem_is_one_line_naming_the_key():
    with pytest.raises(SettingsError) as caught:
        check_schemas({"segments": {"segment_seconds": 0}}, SCHEMAS)
    assert str(caught.value) == "config.segments.segment_seconds: 0 is less than or equal to the minimum of 0"
    with pytest.raises(SettingsError, match=r"^config\.evaluation\.label_tables\[0\]\.path: 3 is not of type 'string'$"):
        check_schemas({"evaluation": {"label_tables": [{"name": "birds", "path": 3}]}}, SCHEMAS)

