"""Closing the loop: a monitoring alert retrains, registers the candidate and gates it, all audited."""

from __future__ import annotations

import json
import sys

import pytest

from pytest_mlgate.commands.audit import describe
from pytest_mlgate.config import build
from pytest_mlgate.errors import ConfigError
from pytest_mlgate.lifecycle.audit import AuditLog
from pytest_mlgate.lifecycle.loop import on_alert
from pytest_mlgate.lifecycle.registry import Registry

TRAIN = """
import shutil
from pathlib import Path

runs = Path("runs.txt")
count = len(runs.read_text().splitlines()) if runs.exists() else 0
runs.write_text("run\\n" * (count + 1))
Path("out").mkdir(exist_ok=True)
shutil.copy("good.skops" if count == 0 else "strong.skops", "out/candidate.skops")  # retrained: a new model
"""
GATES = """
import pytest

def test_auc(candidate, holdout):
    assert candidate.metric("roc_auc", holdout) >= 0.6

@pytest.mark.gate(stage="monitor")
def test_live_auc(candidate, holdout):
    # stands in for a production window whose quality fell
    assert candidate.metric("roc_auc", holdout) >= 0.99
"""


def configure(project, on_alert: str = "retrain") -> None:
    project.configure(candidate="registry:credit-risk@candidate", baseline="registry:credit-risk@production", extra=(
        "[tool.mlgate.training]\n"
        f"command = ['{sys.executable}', 'train_model.py']\n"
        'inputs = ["train_model.py"]\n'
        'output = "out/candidate.skops"\n'
        "[tool.mlgate.monitor]\n"
        f'on_alert = "{on_alert}"\n'
        "[tool.mlgate.alerts]\n"
        'file = "reports/alerts.jsonl"\n'))
    (project.path / "train_model.py").write_text(TRAIN)
    project.gates(GATES)


def deploy_first_model(project) -> Registry:
    registry = Registry(project.path / ".mlgate" / "registry", AuditLog(project.path / ".mlgate" / "audit.jsonl"))
    project.run("--mlgate-baseline", "good.skops")  # trains v1 as candidate
    registry.set_alias("credit-risk", "production", "v1", by="ci", reason="first model")
    return registry


def test_an_alert_retrains_gates_the_new_candidate_and_the_audit_trail_holds_the_chain(project):
    configure(project)
    registry = deploy_first_model(project)
    (project.path / "train_model.py").write_text(TRAIN + "# tuned\n")  # changed inputs do not train a monitor run
    result = project.run("--mlgate-stage", "monitor")
    assert result.ret == 1, result.stdout.str()
    result.stdout.fnmatch_lines(["*mlgate retrain: trained v2 after the alert; push gates: approved*"])
    monitor = project.decision
    assert monitor["stage"] == "monitor" and monitor["decision"] == "rejected"
    retrain = monitor["monitor"]["retrain"]
    assert retrain["training"]["status"] == "trained" and retrain["training"]["version"] == "v2"
    assert retrain["push"]["decision"] == "approved" and retrain["push"]["exit_status"] == 0
    assert registry.index("credit-risk")["aliases"] == {"candidate": "v2", "production": "v1"}
    assert (project.path / "runs.txt").read_text().count("run") == 2  # the first model, then the alert

    pushed = json.loads((project.path / "reports" / "retrain-decision.json").read_text())
    assert pushed["stage"] == "push"
    assert pushed["artifacts"]["candidate"]["sha256"] == registry.version("credit-risk", "v2")["sha256"]
    assert [g["gate"].rpartition("::")[2] for g in pushed["gates"]] == ["test_auc"]

    entries = list(AuditLog(project.path / ".mlgate" / "audit.jsonl").entries())
    tail = [(e["event"], (e["data"] or {}).get("stage") or (e["data"] or {}).get("version")
             or (e["data"] or {}).get("to")) for e in entries if e["seq"] >= retrain["trigger"]["decision_seq"]]
    assert tail == [("decision", "monitor"), ("register", "v2"), ("train", "v2"), ("decision", "push"),
                    ("retrain", None)]
    link = entries[-1]["data"]
    assert link["trigger"]["decision_seq"] == entries[-5]["seq"] and link["push"]["audit"] == entries[-2]["seq"]
    assert "retrained after a monitoring alert" in entries[-3]["data"]["reason"]
    assert AuditLog(project.path / ".mlgate" / "audit.jsonl").verify().ok
    assert describe(entries[-1]).endswith(
        f"retrain   credit-risk  after monitoring decision {entries[-5]['seq']}: trained v2, push gates approved "
        f"(entry {entries[-2]['seq']})")

    assert project.run("--mlgate-stage", "monitor").ret == 1  # the same open condition: no second retrain
    assert project.decision["monitor"]["retrain"] == {
        "skipped": "the alert was a suppressed repeat: already retrained for this condition"}
    assert registry.index("credit-risk")["versions"][-1]["version"] == "v2"


def test_on_alert_is_validated(tmp_path):
    with pytest.raises(ConfigError, match="on_alert' must be one of none, retrain"):
        on_alert(build(tmp_path, {"monitor": {"on_alert": "page"}}))
    with pytest.raises(ConfigError, match="needs \\[tool.mlgate.training\\]"):
        on_alert(build(tmp_path, {"model": "m", "monitor": {"on_alert": "retrain"}}))
    assert on_alert(build(tmp_path, {})) == "none"


def test_a_bad_on_alert_stops_a_monitor_run_before_any_gate(project):
    configure(project, on_alert="page")
    result = project.run("--mlgate-stage", "monitor")
    assert result.ret == 4
    assert "[tool.mlgate.monitor] key 'on_alert' must be one of none, retrain, got 'page'" in result.stderr.str()
