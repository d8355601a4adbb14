"""Settings: CLI > pytest ini > [tool.mlgate] > defaults, and one-line errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_mlgate.config import Settings, build, read_pyproject
from pytest_mlgate.errors import ConfigError


def test_layers_merge_in_priority_order(tmp_path):
    settings = build(tmp_path, {"model": "from-pyproject", "owner": "a", "datasets": {"holdout": "h.csv"}},
                     {"owner": "from-ini", "datasets": ["current=c.csv"]}, {"owner": "from-cli", "model": None})
    assert settings.model == "from-pyproject"
    assert settings.owner == "from-cli"
    assert settings.datasets == {"holdout": "h.csv", "current": "c.csv"}
    assert settings.path("h.csv") == tmp_path / "h.csv"


def test_defaults(tmp_path):
    settings = build(tmp_path)
    assert settings == Settings(root=tmp_path)
    assert settings.decision == "reports/mlgate-decision.json" and settings.confidence == 0.95


@pytest.mark.parametrize(("layer", "message"), [
    ({"modle": "x"}, "mlgate config: unknown key 'modle' (known: "),
    ({"confidence": 1.5}, "mlgate config: 'confidence' must be a number in [0.5, 0.9999], got 1.5"),
    ({"bootstrap": "many"}, "mlgate config: 'bootstrap' must be an integer in [10, 100000], got 'many'"),
    ({"sensitive": 3}, "mlgate config: 'sensitive' must be a list of names, got 3"),
    ({"datasets": ["holdout"]}, "mlgate config: 'datasets' entries must look like NAME=VALUE, got 'holdout'"),
    ({"stage": "prod"}, "mlgate config: 'stage' must be one of push, monitor, got 'prod'"),
    ({"schema_null_tolerance": 1.5}, "mlgate config: 'schema_null_tolerance' must be a number in [0.0, 1.0], got 1.5"),
    ({"candidate": ""}, "mlgate config: 'candidate' must be a non-empty string, got ''"),
    ({"staging": "serve"}, "mlgate config: [tool.mlgate.staging] must be a table"),
])
def test_bad_values_name_the_key(tmp_path, layer, message):
    with pytest.raises(ConfigError) as excinfo:
        build(tmp_path, layer)
    assert "\n" not in str(excinfo.value)
    assert str(excinfo.value).startswith(message), str(excinfo.value)


def test_sub_tables_are_kept_for_their_modules(tmp_path):
    settings = build(tmp_path, {"staging": {"command": "serve {model}"}}, {"staging": {"timeout": 5}})
    assert settings.section("staging") == {"command": "serve {model}", "timeout": 5}
    assert settings.section("training") == {}


def test_invalid_toml_names_the_file(tmp_path: Path):
    path = tmp_path / "pyproject.toml"
    path.write_text("[tool.mlgate\nmodel = 1")
    with pytest.raises(ConfigError, match="pyproject.toml is not valid TOML"):
        read_pyproject(path)


def test_cli_beats_ini_beats_pyproject_in_a_real_run(project):
    project.pytester.makeini("[pytest]\nmlgate_owner = ini-owner\nmlgate_model = ini-model\n")
    project.gates("def test_ok(mlgate_config):\n    assert mlgate_config.model == 'ini-model'\n"
                  "    assert mlgate_config.owner == 'cli-owner'\n"
                  "    assert mlgate_config.target == 'defaulted'\n")
    result = project.run("--mlgate-config", "pyproject.toml", "--mlgate-owner", "cli-owner")
    result.assert_outcomes(passed=1)
    assert project.decision["owner"] == "cli-owner"


def test_cli_dataset_and_candidate_options(project):
    project.gates("""
def test_ok(candidate, scoring, mlgate_config):
    assert mlgate_config.candidate == "strong.skops"
    assert len(scoring) == 2000
""")
    result = project.run("--mlgate-candidate", "strong.skops", "--mlgate-dataset", "scoring=holdout.csv")
    result.assert_outcomes(passed=1)
    assert project.decision["artifacts"]["candidate"]["path"].endswith("strong.skops")


def test_bad_config_is_a_one_line_usage_error(project):
    project.configure(extra='confidence = "high"')
    project.gates("def test_ok():\n    pass\n")
    result = project.run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: mlgate config: 'confidence' must be a number in [[]0.5, 0.9999], got 'high'"])


def test_boolean_keys_are_command_line_flags(project):
    project.gates("def test_ok(mlgate_config):\n    assert mlgate_config.auto_rollback is True\n")
    project.run("--mlgate-auto-rollback").assert_outcomes(passed=1)
