"""`mlgate init`: scaffolds a project from a model and a dataset; the first gate run decides."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import pytest

from pytest_mlgate.cli import main
from pytest_mlgate.commands.init import CI_PATHS
from pytest_mlgate.commands.templates import ci_template


@pytest.fixture
def fresh(pytester: pytest.Pytester, artifacts_dir: Path) -> Path:
    """A project with only a model file, a holdout and a pyproject.toml of its own."""
    shutil.copy(artifacts_dir / "good.skops", pytester.path / "model.skops")
    shutil.copy(artifacts_dir / "holdout.csv", pytester.path / "holdout.csv")
    (pytester.path / "pyproject.toml").write_text('[project]\nname = "credit"\n\n[tool.black]\nline-length = 100\n')
    return pytester.path


def init(root: Path, *args: str) -> int:
    return main(["init", "--dir", str(root), "--model", "model.skops", "--data", "holdout.csv",
                 "--target", "defaulted", *args])


@pytest.mark.parametrize("ci", sorted(CI_PATHS))
def test_init_on_a_fresh_project_then_the_first_gate_run_decides(fresh: Path, pytester: pytest.Pytester,
                                                                  ci: str, capsys) -> None:
    assert init(fresh, "--name", "credit-risk", "--owner", "risk@example.org", "--ci", ci) == 0
    out = capsys.readouterr().out
    assert "wrote gates/test_gates.py" in out and f"wrote {CI_PATHS[ci]}" in out
    table = tomllib.loads((fresh / "pyproject.toml").read_text())
    assert table["tool"]["black"] == {"line-length": 100}  # the rest of pyproject.toml is kept
    settings = table["tool"]["mlgate"]
    assert settings["model"] == "credit-risk" and settings["candidate"] == "model.skops"
    assert settings["datasets"] == {"holdout": "holdout.csv"} and settings["target"] == "defaulted"
    assert (fresh / "schemas" / "credit-risk.yaml").read_text().startswith("schema_type: dataframe")
    assert (fresh / CI_PATHS[ci]).read_text() == ci_template(ci)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "gates")  # as a user runs it, after init
    decision = json.loads((fresh / "reports" / "mlgate-decision.json").read_text())
    assert result.ret == 0 and decision["decision"] == "approved", result.stdout.str()[-2000:]
    gates = {g["gate"].rsplit("::", 1)[-1]: g["outcome"] for g in decision["gates"]}
    assert gates["test_roc_auc_floor"] == gates["test_holdout_matches_schema"] == "passed"
    assert all((fresh / "reports" / n).is_file() for n in ("gates.xml", "summary.md", "gates.html"))


def test_init_refuses_to_overwrite_without_force(fresh: Path, capsys) -> None:
    assert init(fresh) == 0
    suite = fresh / "gates" / "test_gates.py"
    suite.write_text("# my edits\n")
    capsys.readouterr()
    assert init(fresh) == 2
    err = capsys.readouterr().err
    assert "gates/test_gates.py" in err and "pyproject.toml" in err and "--force" in err
    assert suite.read_text() == "# my edits\n"
    assert init(fresh, "--force", "--name", "renamed") == 0
    assert "def test_roc_auc_floor" in suite.read_text()
    text = (fresh / "pyproject.toml").read_text()
    assert text.count("[tool.mlgate]") == 1 and text.count("[tool.mlgate.datasets]") == 1
    assert tomllib.loads(text)["tool"]["mlgate"]["model"] == "renamed"


def test_init_finds_the_target_when_one_column_is_not_a_feature(pytester: pytest.Pytester, tmp_path: Path,
                                                                capsys) -> None:
    import skops.io as sio
    from conftest import fit, make_frame

    frame = make_frame(600, seed=3)[["income", "debt", "age", "tenure", "defaulted"]]
    sio.dump(fit(frame, ["income", "debt", "age", "tenure"]), tmp_path / "model.skops")
    frame.to_parquet(tmp_path / "holdout.parquet")
    assert main(["init", "--dir", str(tmp_path), "--model", "model.skops", "--data", "holdout.parquet"]) == 0
    assert tomllib.loads((tmp_path / "pyproject.toml").read_text())["tool"]["mlgate"]["target"] == "defaulted"
    assert main(["init", "--dir", str(tmp_path), "--model", "missing.skops", "--data", "holdout.parquet",
                 "--force"]) == 2
    assert "--model" in capsys.readouterr().err
