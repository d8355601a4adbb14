"""The training trigger: retrain and register only when the recorded input hashes change."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pytest_mlgate.config import build
from pytest_mlgate.errors import ConfigError
from pytest_mlgate.lifecycle.registry import Registry
from pytest_mlgate.lifecycle.training import combined, input_hashes, options

TRAIN = """
import shutil, sys
from pathlib import Path

Path("out").mkdir(exist_ok=True)
with open("runs.txt", "a") as fh:
    fh.write("run\\n")
shutil.copy(Path(sys.argv[1]), Path("out/candidate.skops"))
"""
GATE = """
def test_auc(candidate, holdout):
    assert candidate.metric("roc_auc", holdout) >= 0.6
"""


def configure(project, source: str = "good.skops", command: str | None = None) -> None:
    command = command or f"['{sys.executable}', 'train_model.py', '{source}']"
    project.configure(candidate="registry:credit-risk@candidate", baseline=None, extra=(
        "[tool.mlgate.training]\n"
        f"command = {command}\n"
        'inputs = ["train_model.py", "train.parquet"]\n'
        'output = "out/candidate.skops"\n'))
    (project.path / "train_model.py").write_text(TRAIN)
    project.gates(GATE)


def runs(project) -> int:
    path = project.path / "runs.txt"
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_retrains_only_when_inputs_change(project):
    configure(project)
    result = project.run()
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["*mlgate training: trained (v1)*"])
    assert runs(project) == 1
    decision = project.decision
    assert decision["training"]["status"] == "trained"
    assert decision["artifacts"]["candidate"]["version"] == "v1"
    registry = Registry(project.path / ".mlgate" / "registry")
    entry = registry.version("credit-risk", "candidate")
    assert set(entry["metadata"]["training"]["inputs"]) == {"train_model.py", "train.parquet"}

    assert project.run().ret == 0
    assert runs(project) == 1 and project.decision["training"] == {
        "status": "skipped", "inputs_sha256": entry["metadata"]["training"]["inputs_sha256"], "version": "v1"}

    (project.path / "train_model.py").write_text(TRAIN + "# tuned\n")
    assert project.run().ret == 0
    assert runs(project) == 2
    assert project.decision["training"]["status"] == "trained"
    assert project.decision["training"]["previous"] == "v1"
    assert registry.version("credit-risk", "candidate")["version"] == "v2"
    assert [h["action"] for h in registry.index("credit-risk")["history"]] == ["train", "train"]


def test_failed_training_rejects(project):
    configure(project, command=f"['{sys.executable}', '-c', 'raise SystemExit(\"no GPU today\")']")
    result = project.run()
    assert result.ret == 1
    reasons = project.decision["reasons"]
    assert reasons[0].startswith("run incomplete: training failed: training: command")
    assert "exited 1: no GPU today" in reasons[0]


def test_training_config_is_validated(tmp_path: Path):
    def settings(table):
        return build(tmp_path, {"model": "m", "training": table})

    assert options(settings({})) is None
    with pytest.raises(ConfigError, match=r"\[tool.mlgate.training\] key 'inputs'"):
        options(settings({"command": "make", "output": "m.skops"}))
    with pytest.raises(ConfigError, match=r"\[tool.mlgate.training\] unknown key 'outputs'"):
        options(settings({"command": "make", "inputs": ["a"], "outputs": "m.skops"}))
    with pytest.raises(ConfigError, match="key 'command'"):
        options(settings({"command": "", "inputs": ["a"], "output": "m.skops"}))


def test_input_hashes_walk_directories(tmp_path: Path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("a")
    (tmp_path / "data.csv").write_text("x\n1\n")
    settings = build(tmp_path, {})
    before = input_hashes(settings, ["src", "data.csv"])
    assert sorted(before) == ["data.csv", "src/a.py"]
    (tmp_path / "src" / "b.py").write_text("b")
    after = input_hashes(settings, ["src", "data.csv"])
    assert combined(after) != combined(before) and len(after) == 3


def test_under_xdist_only_the_controller_trains(project):
    configure(project)
    project.pytester.makepyfile(test_more=GATE.replace("test_auc", "test_auc_again"))
    result = project.run("-n", "1")
    assert result.ret == 0, result.stdout.str()
    assert runs(project) == 1
    assert project.decision["artifacts"]["candidate"]["version"] == "v1"
    assert len(project.decision["gates"]) == 2
