"""The tests' shared recordings: found beside the repository or where ECOAE_TEST_DATA says."""

from __future__ import annotations

from shared_data import BESIDE_THE_REPOSITORY, ENVIRONMENT_VARIABLE, missing_reason, shared_data_folder


def test_the_environment_variable_names_the_folder(tmp_path):
    assert shared_data_folder({ENVIRONMENT_VARIABLE: str(tmp_path)}) == tmp_path.resolve()


def test_without_the_variable_the_folder_beside_the_repository_is_used():
    assert shared_data_folder({}) == BESIDE_THE_REPOSITORY
    assert shared_data_folder({ENVIRONMENT_VARIABLE: ""}) == BESIDE_THE_REPOSITORY


def test_the_skip_reason_names_the_path_tried_and_the_variable(tmp_path):
    reason = missing_reason(tmp_path)
    assert str(tmp_path / "archive") in reason
    assert ENVIRONMENT_VARIABLE in reason
