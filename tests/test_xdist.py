"""pytest-xdist: workers publish gate results, the controller decides exactly as a serial run."""

from __future__ import annotations

import pytest

GATES = """
import pytest

def test_auc(candidate, holdout):
    assert candidate.metric("roc_auc", holdout) >= 0.7

def test_regression(mlgate):
    mlgate.no_regression("roc_auc", max_relative_drop=0.05)
    mlgate.no_regression("accuracy", by="region", max_absolute_drop=0.001)

@pytest.mark.gate(severity="review")
def test_borderline(mlgate):
    mlgate.at_least("f1", 0.99)

@pytest.mark.gate(severity="warn")
def test_warn(mlgate):
    mlgate.at_least("precision", 0.99)

def test_threshold(mlgate):
    mlgate.at_least("recall", 0.5, by="sex")
"""


def _comparable(decision: dict) -> dict:
    gates = sorted((g["gate"], g["outcome"], tuple((c["name"], c["outcome"], c["candidate"]) for c in g["checks"]))
                   for g in decision["gates"])
    return {"decision": decision["decision"], "reasons": sorted(decision["reasons"]), "gates": gates,
            "datasets": decision["datasets"], "artifacts": decision["artifacts"]}


@pytest.mark.parametrize("candidate", ["strong.skops", "weak.skops"])
def test_two_workers_give_the_serial_decision(project, candidate):
    project.configure(candidate=candidate, baseline="good.skops")
    project.gates(GATES)
    serial = project.run_subprocess("-p", "no:xdist")
    serial_decision, serial_junit = project.decision, project.junit
    parallel = project.run_subprocess("-n", "2")
    assert parallel.ret == serial.ret
    assert _comparable(project.decision) == _comparable(serial_decision)
    parallel.stdout.fnmatch_lines([f"*mlgate decision: {serial_decision['decision'].upper()}*"])
    strip = lambda xml: [line for line in xml.splitlines() if "time=" not in line and "timestamp" not in line]
    assert sorted(strip(project.junit)) == sorted(strip(serial_junit))


def test_review_gates_without_approvers_warn_under_xdist(project):
    """The workers collect, so the controller warns from their results, before the gate summary."""
    project.configure(candidate="good.skops", baseline=None)
    project.gates(GATES)
    result = project.run_subprocess("-p", "xdist", "-n", "2")
    out = result.stdout.str()
    warning = ("mlgate warning: 1 review gate(s) (e.g. test_gates.py::test_borderline) but [tool.mlgate] "
               "approvers is empty: nobody can approve them")
    assert out.count(warning) == 1 and out.index(warning) < out.index("mlgate gate summary")
    project.configure(candidate="good.skops", baseline=None, extra='approvers = ["alice@example.org"]')
    assert "mlgate warning" not in project.run_subprocess("-p", "xdist", "-n", "2").stdout.str()
