"""End to end: decisions audited, promotion only when allowed, approvals bound to approver, sha and gate."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from pytest_mlgate.cli import main
from pytest_mlgate.config import build
from pytest_mlgate.lifecycle.approvals import gate_matches
from pytest_mlgate.lifecycle.audit import AuditLog
from pytest_mlgate.lifecycle.registry import Registry

GATES = """
import pytest

def test_auc_floor(candidate, holdout):
    assert candidate.metric("roc_auc", holdout) >= {floor}

@pytest.mark.gate(severity="review")
def test_borderline(candidate, holdout):
    assert candidate.metric("roc_auc", holdout) >= {review}
"""
APPROVERS = 'approvers = ["alice", "bob"]'


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def setup(project, floor: float = 0.6, review: float = 0.6, owner: bool = True) -> None:
    project.configure(candidate="good.skops", baseline=None, extra=APPROVERS)
    if not owner:
        path = project.path / "pyproject.toml"
        path.write_text(path.read_text().replace('owner = "risk-ml@example.org"\n', ""))
    project.gates(GATES.format(floor=floor, review=review))


def registry(project) -> Registry:
    return Registry(project.path / ".mlgate" / "registry")


def audit(project) -> AuditLog:
    return AuditLog(project.path / ".mlgate" / "audit.jsonl")


def cli(project, *args: str) -> int:
    return main([*args, "--config", str(project.path / "pyproject.toml")])


def production(project) -> str | None:
    reg = registry(project)
    return reg.index("credit-risk")["aliases"].get("production") if "credit-risk" in reg.models() else None


def test_approved_run_is_audited_and_promoted(project, monkeypatch):
    monkeypatch.setenv("MLGATE_ACTOR", "ci-bot")
    setup(project)
    result = project.run("--mlgate-promote", "production")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*mlgate audit: decision appended as entry 1*",
                                 "*mlgate promoted credit-risk@production: none -> v1*"])
    entry = registry(project).version("credit-risk", "production")
    assert entry["sha256"] == sha(project.path / "good.skops") and entry["owner"] == "risk-ml@example.org"
    events = [(e["event"], e["data"].get("to") or e["data"].get("version") or e["data"].get("decision"))
              for e in audit(project).entries()]
    assert events == [("decision", "approved"), ("register", "v1"), ("promote", "v1")]
    metadata = entry["metadata"]
    assert metadata["decision"] == "approved" and metadata["datasets"]["holdout"]["rows"] == 2000
    assert metadata["metrics"]["roc_auc@holdout"] > 0.6
    decision = audit(project).find("decision")[0]["data"]
    assert decision["owner"] == "risk-ml@example.org"
    assert [c["candidate"] > 0.6 for g in decision["gates"] for c in g["checks"]] == [True, True]
    assert project.decision["lifecycle"]["promotion"]["by"] == "ci-bot"
    assert audit(project).verify().ok


def test_rejected_run_is_not_promoted(project):
    setup(project, floor=0.99)
    result = project.run("--mlgate-promote", "production")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*promotion refused: credit-risk@production not moved: the decision is rejected*"])
    assert production(project) is None
    assert [e["event"] for e in audit(project).entries()] == ["decision"]
    assert cli(project, "promote") == 2  # the CLI refuses the same recorded decision


def test_unapproved_review_needs_review_and_is_not_promoted(project):
    setup(project, review=0.99)
    result = project.run("--mlgate-promote", "production")
    assert result.ret == 6
    assert project.decision["decision"] == "needs-review"
    assert project.decision["lifecycle"]["refused"].endswith("the decision is needs-review")
    assert production(project) is None


def test_approval_turns_review_into_approved_and_promotes(project, capsys):
    setup(project, review=0.99)
    candidate = sha(project.path / "good.skops")
    assert cli(project, "approve", "--candidate", candidate, "--gate", "test_borderline", "--by", "alice",
               "--reason", "AUC 0.8 accepted for this release") == 0
    result = project.run("--mlgate-promote", "production")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["mlgate approval used: test_borderline approved by alice: AUC 0.8 accepted*"])
    decision = project.decision
    assert decision["decision"] == "approved"
    assert [(a["by"], a["gate"], a["candidate"]) for a in decision["approvals_used"]] == [
        ("alice", "test_borderline", candidate)]
    assert production(project) == "v1"
    promote = audit(project).find("promote")[0]["data"]
    assert promote["approvals"][0]["reason"] == "AUC 0.8 accepted for this release"


def test_cli_promote_after_late_approval(project, capsys):
    setup(project, review=0.99)
    assert project.run().ret == 6
    assert cli(project, "promote") == 2
    assert "the decision is needs-review" in capsys.readouterr().err
    candidate = sha(project.path / "good.skops")
    nodeid = "test_approvals.py::test_borderline".replace("test_approvals", "test_gates")
    assert cli(project, "approve", "--candidate", candidate, "--gate", nodeid, "--by", "bob",
               "--reason", "reviewed") == 0
    assert cli(project, "promote", "--by", "bob") == 0
    assert "promoted credit-risk@production: none -> v1 (decision approved)" in capsys.readouterr().out
    assert production(project) == "v1"


def test_approval_by_non_approver_is_refused_and_ignored(project, capsys):
    setup(project, review=0.99)
    candidate = sha(project.path / "good.skops")
    assert cli(project, "approve", "--candidate", candidate, "--gate", "test_borderline", "--by", "mallory",
               "--reason", "trust me") == 2
    assert "'mallory' is not an approver (approvers: alice, bob)" in capsys.readouterr().err
    # written straight into the log, bypassing the command: still not used
    audit(project).append("approval", {"model": "credit-risk", "candidate": candidate, "gate": "test_borderline",
                                       "by": "mallory", "reason": "trust me", "at": "2026-11-27T00:00:00+00:00"},
                          model="credit-risk")
    assert project.run().ret == 6
    ignored = project.decision["approvals_ignored"]
    assert [(a["by"], a["ignored"]) for a in ignored] == [("mallory", "'mallory' is not an approver")]


def test_signed_approvals_forged_and_unsigned_refused(project, monkeypatch):
    setup(project, review=0.99)
    candidate = sha(project.path / "good.skops")
    approve = ["approve", "--candidate", candidate, "--gate", "test_borderline", "--reason", "ok"]
    assert cli(project, *approve, "--by", "alice") == 0  # unsigned: no key yet
    monkeypatch.setenv("MLGATE_APPROVAL_KEY", "attacker-key")
    assert cli(project, *approve, "--by", "bob") == 0  # signed with the wrong key
    monkeypatch.setenv("MLGATE_APPROVAL_KEY", "real-key")
    result = project.run()
    assert result.ret == 6
    result.stdout.fnmatch_lines(["mlgate approval ignored: test_borderline by alice: unsigned while *",
                                 "mlgate approval ignored: test_borderline by bob: signature does not match *"])
    reasons = {a["by"]: a["ignored"] for a in project.decision["approvals_ignored"]}
    assert reasons == {"alice": "unsigned while MLGATE_APPROVAL_KEY is set",
                       "bob": "signature does not match (forged or altered)"}
    assert cli(project, *approve, "--by", "alice") == 0  # signed with the real key
    assert project.run().ret == 0
    assert project.decision["approvals_used"][0]["signature"]


def test_approval_for_another_sha_is_ignored(project):
    setup(project, review=0.99)
    other = sha(project.path / "weak.skops")
    assert cli(project, "approve", "--candidate", other, "--gate", "test_borderline", "--by", "alice",
               "--reason", "approved the old candidate") == 0
    assert project.run().ret == 6
    assert project.decision["approvals_used"] == [] and project.decision["approvals_ignored"] == []


def test_owner_comes_from_the_registry_when_not_configured(project):
    setup(project, owner=False)
    settings = build(project.path, {"registry": ".mlgate/registry"})
    Registry(settings.path(settings.registry)).register("credit-risk", project.path / "good.skops",
                                                        owner="registry-owner@example.org")
    project.run()
    assert project.decision["owner"] == "registry-owner@example.org"


def test_registry_baseline_and_candidate_references_in_a_gate_run(project):
    reg = registry(project)
    reg.register("credit-risk", project.path / "strong.skops", owner="o")
    reg.register("credit-risk", project.path / "good.skops", owner="o")
    reg.set_alias("credit-risk", "production", "v1", by="me", reason="first")
    reg.register("credit-holdout", project.path / "holdout.csv", owner="data-team")
    project.configure(candidate="registry:credit-risk@v2", baseline="registry:credit-risk@production",
                      datasets='holdout = "registry:credit-holdout@v1"')
    project.gates("""
def test_regression(mlgate):
    mlgate.no_regression("roc_auc", max_relative_drop=0.5)
""")
    assert project.run().ret == 0
    artifacts = project.decision["artifacts"]
    assert (artifacts["candidate"]["version"], artifacts["baseline"]["version"]) == ("v2", "v1")
    assert artifacts["holdout"]["version"] == "v1" and project.decision["datasets"]["holdout"]["rows"] == 2000
    tampered, _ = reg.artifact("credit-risk", "v1")
    tampered.chmod(0o644)
    tampered.write_bytes(b"not a model")
    result = project.run()
    assert result.ret == 1 and project.decision["decision"] == "rejected"
    assert "artifact tampered" in json.dumps(project.decision["gates"])


@pytest.mark.parametrize(("approved", "nodeid", "match"), [
    ("test_gates.py::test_x", "test_gates.py::test_x", True),
    ("test_x", "test_gates.py::test_x", True),
    ("test_x", "test_gates.py::test_x[a-1]", True),
    ("test_x[a-1]", "test_gates.py::test_x[a-1]", True),
    ("test_x", "test_gates.py::test_xy", False),
    ("test_gates.py::test_y", "test_gates.py::test_x", False),
])
def test_gate_matching(approved, nodeid, match):
    assert gate_matches(approved, nodeid) is match


def test_an_audit_log_that_is_a_directory_is_a_usage_error_before_any_gate(project):
    setup(project)
    (project.path / "audit-dir").mkdir()
    path = project.path / "pyproject.toml"
    path.write_text(path.read_text().replace("[tool.mlgate]\n", '[tool.mlgate]\naudit = "audit-dir"\n'))
    result = project.run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: mlgate config: 'audit' = 'audit-dir' is a directory; give a file path"])
    assert project.decision["decision"] == "rejected"
    assert "'audit' = 'audit-dir' is a directory" in project.decision["reasons"][0]


def test_monitoring_runs_never_promote(project):
    project.configure(candidate="good.skops", baseline=None, extra='stage = "monitor"')
    project.gates("""
import pytest

@pytest.mark.gate(stage="monitor")
def test_live_auc(candidate, holdout):
    assert candidate.metric("roc_auc", holdout) >= 0.6
""")
    result = project.run("--mlgate-promote", "production")
    assert result.ret == 0 and project.decision["decision"] == "approved"
    assert project.decision["lifecycle"]["refused"] == "credit-risk@production not moved: only push runs promote"
    assert production(project) is None
