"""Every sub-command and every option of the ``ecoae`` command line says what it is for."""

from __future__ import annotations

import argparse

import pytest

from ecoae.cli import build_parser, main


def _sub_commands(parser: argparse.ArgumentParser) -> list[tuple[str, str | None, argparse.ArgumentParser]]:
    """``(name, help, parser)`` of each sub-command of ``parser``."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            return [(name, helps.get(name), sub_parser) for name, sub_parser in action.choices.items()]
    return []


def _undocumented(parser: argparse.ArgumentParser, name: str) -> list[str]:
    """Arguments of ``parser`` and its sub-commands, recursively, that have no help text."""
    skipped = (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)
    missing = [f"{name} {'/'.join(action.option_strings) or action.dest}" for action in parser._actions
               if not isinstance(action, skipped) and not (action.help or "").strip()]
    for command, summary, sub_parser in _sub_commands(parser):
        if not (summary or "").strip():
            missing.append(f"{name} {command}")
        missing += _undocumented(sub_parser, f"{name} {command}")
    return missing


def _option(command: str, option: str) -> argparse.Action:
    parser = next(sub_parser for name, _, sub_parser in _sub_commands(build_parser()) if name == command)
    return next(action for action in parser._actions if option in action.option_strings)


def test_every_sub_command_and_option_has_help_text():
    assert _undocumented(build_parser(), "ecoae") == []


def test_settings_options_list_their_keys_and_name_their_schema():
    for command, option, section, schema in [
        ("inventory", "--settings", "inventory", "config"),
        ("spectrograms", "--settings", "spectrogram", "spectrogram"),
        ("train", "--training", "autoencoder.training", "autoencoder"),
        ("mfcc", "--settings", "mfcc", "mfcc"),
        ("evaluate", "--settings", "evaluation", "evaluation"),
    ]:
        action = _option(command, option)
        assert f'config section "{section}"' in action.help, (command, option)
        assert f"workflow/schemas/{schema}.schema.yaml" in action.help, (command, option)
    keys = _option("inventory", "--settings").help
    assert "site_pattern" in keys and "missing_time" in keys


def test_help_of_a_sub_command_prints(capsys):
    with pytest.raises(SystemExit) as done:
        main(["inventory", "--help"])
    assert done.value.code == 0
    assert "workflow/schemas/config.schema.yaml" in capsys.readouterr().out
