"""A needs-review decision says what to do: the gates, the approvers and the exact approve command."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

GATES = """
import pytest

def test_auc_floor(candidate, holdout):
    assert candidate.metric("roc_auc", holdout) >= 0.6

@pytest.mark.gate(severity="review", owner="credit-ops")
def test_borderline(mlgate):
    mlgate.at_least("roc_auc", 0.99)
"""
APPROVERS = 'approvers = ["alice@example.org", "bob@example.org"]\nmarkdown = "reports/summary.md"\nhtml = "reports/gates.html"'


def mlgate_command() -> str:
    found = Path(sys.executable).parent / "mlgate"
    return str(found) if found.exists() else shutil.which("mlgate")


def approve_commands(text: str) -> list[str]:
    return [line.split(": ", 1)[1] for line in text.splitlines() if "approve (as one of the approvers" in line]


def test_needs_review_prints_gates_approvers_and_a_command_that_works_when_copied(project):
    project.configure(candidate="good.skops", baseline=None, extra=APPROVERS)
    project.gates(GATES)
    result = project.run()
    assert result.ret == 6 and project.decision["decision"] == "needs-review"
    sha = project.decision["artifacts"]["candidate"]["sha256"]
    result.stdout.fnmatch_lines([
        f"needs review: 1 review gate(s) failed and need an approval for candidate sha256 {sha}",
        "  - test_gates.py::test_borderline: roc_auc *",
        "  approvers: alice@example.org, bob@example.org",
    ])
    commands = approve_commands(result.stdout.str())
    assert len(commands) == 1 and f"--candidate {sha}" in commands[0]
    markdown = (project.path / "reports" / "summary.md").read_text()
    html = (project.path / "reports" / "gates.html").read_text()
    assert "### Review needed" in markdown and commands[0] in markdown
    assert 'id="approvals"' in html and shlex.quote("test_gates.py::test_borderline") in html
    assert "alice@example.org, bob@example.org" in html
    # An approver copies the command and runs it from the project directory.
    argv = shlex.split(commands[0])
    assert argv[:2] == ["mlgate", "approve"]
    done = subprocess.run([mlgate_command(), *argv[1:]], cwd=project.path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    again = project.run()
    assert again.ret == 0 and project.decision["decision"] == "approved"
    assert [a["by"] for a in project.decision["approvals_used"]] == ["alice@example.org"]
    assert project.decision["review"] is None


def test_review_gates_without_approvers_warn_at_start_and_say_nobody_can_approve(project):
    project.configure(candidate="good.skops", baseline=None)
    project.gates(GATES)
    result = project.run()
    out = result.stdout.str()
    warning = "mlgate warning: 1 review gate(s) (e.g. test_gates.py::test_borderline) but [tool.mlgate] " \
              "approvers is empty: nobody can approve them"
    assert warning in out and out.index(warning) < out.index("test_gates.py ")  # before the tests run
    assert "cannot approve: nobody can approve: [tool.mlgate] approvers is empty" in out
    assert approve_commands(out) == []
    assert project.decision["review"]["problem"].startswith("nobody can approve")


def test_no_start_up_warning_when_approvers_are_set_or_no_review_gates(project):
    project.configure(candidate="good.skops", baseline=None, extra=APPROVERS)
    project.gates(GATES)
    assert "mlgate warning" not in project.run().stdout.str()
    project.configure(candidate="good.skops", baseline=None)
    project.gates("def test_auc_floor(mlgate):\n    mlgate.at_least('roc_auc', 0.6)\n")
    assert "mlgate warning" not in project.run().stdout.str()
