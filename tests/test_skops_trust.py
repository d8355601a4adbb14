"""Loading .skops files: tree models load with their trees checked, everything else untrusted is
named once per file, and ``mlgate trust`` reviews the types and writes the ones to trust."""

from __future__ import annotations

import tomllib

import pytest
import skops.io as sio
from conftest import make_frame
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier

from pytest_mlgate.cli import main
from pytest_mlgate.errors import MlgateError
from pytest_mlgate.evaluate import skops_files

FEATURES = ["income", "debt", "age", "tenure"]
PREDICTOR = "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"
GATES = """
def test_auc(candidate, holdout):
    assert candidate.metric("roc_auc", holdout) >= 0.7

def test_accuracy(mlgate):
    mlgate.at_least("accuracy", 0.6)

def test_no_regression(mlgate):
    mlgate.no_regression("roc_auc", max_relative_drop=0.1)
"""


def _forest():
    frame = make_frame(600, seed=3)
    return RandomForestClassifier(n_estimators=8, max_depth=4, random_state=0).fit(frame[FEATURES], frame["defaulted"])


def test_a_random_forest_loads_without_trusting_anything(project):
    sio.dump(_forest(), project.path / "forest.skops")
    assert skops_files.untrusted_types(project.path / "forest.skops") == [skops_files.TREE]
    project.configure(candidate="forest.skops", baseline="forest.skops")
    project.gates(GATES)
    result = project.run()
    assert project.decision["decision"] == "approved", project.decision["reasons"]
    assert result.ret == 0


def test_a_tampered_tree_is_refused_in_one_reason_for_every_gate(project):
    forest = _forest()
    tree = forest.estimators_[3].tree_
    state = tree.__getstate__()
    nodes = state["nodes"].copy()
    nodes["left_child"][0] = 0  # the root points back at itself: an endless walk at the first prediction
    tree.__setstate__({**state, "nodes": nodes})
    sio.dump(forest, project.path / "forest.skops")
    project.configure(candidate="forest.skops", baseline="good.skops")
    project.gates(GATES)
    project.run()
    record = project.decision
    assert record["decision"] == "rejected" and record["counts"] == {"error": 3}
    assert record["reasons"] == [
        "3 gates (test_gates.py::test_auc, test_gates.py::test_accuracy, test_gates.py::test_no_regression): "
        f"error: model {project.path / 'forest.skops'}: refused, its trees are malformed: "
        "DecisionTreeClassifier: 1 node(s) link outside the tree or backwards"]


def test_other_untrusted_types_are_named_with_the_command_to_review_them(tmp_path):
    frame = make_frame(300, seed=4)
    model = HistGradientBoostingClassifier(max_iter=5).fit(frame[FEATURES], frame["defaulted"])
    sio.dump(model, tmp_path / "hgb.skops")
    with pytest.raises(MlgateError) as info:
        skops_files.load(tmp_path / "hgb.skops")
    assert str(info.value) == (f"model {tmp_path / 'hgb.skops'}: 1 untrusted type(s): {PREDICTOR}; review them with "
                               f"`mlgate trust {tmp_path / 'hgb.skops'}` and list the ones you trust in "
                               "[tool.mlgate] skops_trusted")
    assert skops_files.load(tmp_path / "hgb.skops", (PREDICTOR,)).n_iter_ == model.n_iter_


def test_trust_prints_the_types_and_write_adds_the_refused_ones(project, capsys, monkeypatch):
    frame = make_frame(300, seed=4)
    model = HistGradientBoostingClassifier(max_iter=5).fit(frame[FEATURES], frame["defaulted"])
    sio.dump(model, project.path / "hgb.skops")
    project.configure(candidate="hgb.skops", baseline="good.skops", extra="# reviewed types go below\n")
    project.gates(GATES)
    monkeypatch.chdir(project.path)
    assert main(["trust", "hgb.skops"]) == 0
    out = capsys.readouterr().out
    assert f"  {PREDICTOR}  (refused)" in out and "mlgate trust hgb.skops --write" in out
    project.run()
    assert project.decision["decision"] == "rejected"

    assert main(["trust", "hgb.skops", "--write"]) == 0
    assert "added 1 type(s) to [tool.mlgate] skops_trusted" in capsys.readouterr().out
    text = (project.path / "pyproject.toml").read_text()
    assert "# reviewed types go below" in text
    assert tomllib.loads(text)["tool"]["mlgate"]["skops_trusted"] == [PREDICTOR]
    assert main(["trust", "hgb.skops", "--write"]) == 0
    assert "nothing to add" in capsys.readouterr().out
    project.run()
    assert project.decision["decision"] == "approved", project.decision["reasons"]


def test_trust_refuses_a_file_that_is_not_skops(tmp_path, capsys):
    (tmp_path / "model.skops").write_bytes(b"not a zip")
    assert main(["trust", str(tmp_path / "model.skops")]) == 2
    assert "cannot read as a .skops file" in capsys.readouterr().err


def test_every_refused_type_is_named_in_one_message(tmp_path, monkeypatch):
    sio.dump(_forest(), tmp_path / "forest.skops")
    found = [skops_files.TREE, "mypackage.Scaler", "mypackage.Model"]
    monkeypatch.setattr(skops_files, "untrusted_types", lambda path: sorted(found))
    with pytest.raises(MlgateError, match=r"2 untrusted type\(s\): mypackage.Model, mypackage.Scaler; review them"):
        skops_files.load(tmp_path / "forest.skops", ("other.Type",))
