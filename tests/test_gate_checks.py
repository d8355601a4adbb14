"""Every check of a gate is recorded and reported; row names say what was checked on what."""

from __future__ import annotations

from pytest_mlgate.decision import FAILED, PASSED, Check, gate_severity

SEVERAL = """
import pytest

def test_three(mlgate):
    mlgate.at_least("accuracy", 0.99)
    mlgate.at_least("accuracy", 0.5, "reference")
    mlgate.at_most("log_loss", 0.01)
    mlgate.check("custom", True)

def test_plain_assert(mlgate):
    mlgate.at_least("accuracy", 0.99)
    assert 1 == 2, "plain assert stops here"
    mlgate.at_least("accuracy", 0.5, "reference")

def test_same_check_twice(mlgate):
    mlgate.at_least("accuracy", 0.5)
    mlgate.at_least("accuracy", 0.6)
"""


def test_a_gate_runs_every_check_and_fails_listing_each_failing_one(project):
    project.gates(SEVERAL)
    result = project.run()
    result.assert_outcomes(failed=2, passed=1)
    gates = {g["gate"].split("::")[1]: g for g in project.decision["gates"]}
    three = gates["test_three"]
    assert [(c["name"], c["outcome"]) for c in three["checks"]] == [
        ("accuracy[holdout]", FAILED), ("accuracy[reference]", PASSED), ("log_loss[holdout]", FAILED),
        ("custom", PASSED)]
    assert three["message"].startswith("2 of 4 checks failed: [accuracy[holdout]] accuracy ")
    assert "[log_loss[holdout]] log_loss " in three["message"]
    result.stdout.fnmatch_lines(["*test_three - Failed: 2 of 4 checks failed*"])


def test_a_plain_assert_keeps_pytest_semantics(project):
    project.gates(SEVERAL)
    project.run().assert_outcomes(failed=2, passed=1)
    gate = next(g for g in project.decision["gates"] if g["gate"].endswith("test_plain_assert"))
    assert gate["outcome"] == FAILED and "plain assert stops here" in gate["message"]
    assert [c["name"] for c in gate["checks"]] == ["accuracy[holdout]"]  # the rest never ran


def test_row_names_are_unique_in_a_gate(project):
    project.gates(SEVERAL)
    project.run()
    gate = next(g for g in project.decision["gates"] if g["gate"].endswith("test_same_check_twice"))
    assert [c["name"] for c in gate["checks"]] == ["accuracy[holdout]", "accuracy[holdout] #2"]


REVIEW_HINT = """
import pytest

def test_hinted(mlgate):
    mlgate.record(mlgate_check("leak", "review"))

def test_hinted_and_blocking(mlgate):
    mlgate.record(mlgate_check("leak", "review"), mlgate_check("other", None))

@pytest.mark.gate(severity="block")
def test_marker_wins(mlgate):
    mlgate.record(mlgate_check("leak", "review"))

def test_assert_blocks(mlgate):
    mlgate.record(mlgate_check("leak", "review"))
    assert False, "a plain assert"

def mlgate_check(name, severity):
    from pytest_mlgate.decision import Check
    return Check(name, "failed", message=name, severity=severity)
"""


def test_a_failing_check_states_its_severity_when_the_marker_sets_none(project):
    project.gates(REVIEW_HINT)
    project.run().assert_outcomes(failed=4)
    severities = {g["gate"].split("::")[1]: g["severity"] for g in project.decision["gates"]}
    assert severities == {"test_hinted": "review", "test_hinted_and_blocking": "block",
                          "test_marker_wins": "block", "test_assert_blocks": "block"}


def test_gate_severity_rule():
    review, warn = Check("a", FAILED, severity="review"), Check("b", FAILED, severity="warn")
    assert gate_severity(None, [review, warn], by_checks=True) == "review"
    assert gate_severity(None, [warn, Check("c", PASSED)], by_checks=True) == "warn"
    assert gate_severity("warn", [review], by_checks=True) == "warn"
    assert gate_severity(None, [review], by_checks=False) == "block"
    assert gate_severity(None, [], by_checks=True) == "block"


def test_a_latency_limit_for_a_batch_above_the_dataset_size_is_measured_on_resampled_rows():
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from pytest_mlgate.checks.staging import latency_checks
    from pytest_mlgate.evaluate.models import Dataset, ModelUnderTest
    from pytest_mlgate.serving import inprocess

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=72), "target": rng.integers(0, 2, 72)})
    model = ModelUnderTest("candidate", LogisticRegression().fit(frame[["x"]], frame["target"]))
    data = Dataset("holdout", frame, "target")
    rows = [inprocess.predict_latency(model, data, batch, repeats=3, warmup=1) for batch in (1, 100)]
    assert [(r["batch"], r["resampled"]) for r in rows] == [(1, False), (100, True)]
    checks = latency_checks(rows, {"max_p95_ms": {1: 5000, 100: 5000}}, "holdout")
    assert [c.name for c in checks] == ["predict p95 latency[batch 1]", "predict p95 latency[batch 100]"]
    assert checks[1].details["resampled"] and checks[1].outcome == PASSED
