"""Drift methods that need rows (``cvm``, alibi-detect detectors) on streamed datasets: run on the
datasets' seeded samples of ``sample_rows`` rows, and every check says so."""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_scenarios import TINY_BUDGET, workspace, write_project, write_regression_project

from pytest_mlgate.gates import MlGate

ROWS = 3000


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_project(tmp_path_factory.mktemp("sampled"), rows=ROWS)


def cvm_gates(ws, target: str = "defaulted") -> list:
    gate = MlGate("g", ws)
    for call in (lambda: gate.no_drift("reference", "current", method="cvm"),
                 lambda: gate.no_prediction_drift("reference", "current", method="cvm"),
                 lambda: gate.no_label_drift("reference", "current", method="cvm")):
        try:
            call()
        except AssertionError:
            pass  # a failing check is recorded
    return gate.checks


def tables(checks: list) -> list:
    return [(c.name, c.outcome, c.candidate, c.details["drifted"], c.details["table"]) for c in checks]


def test_a_sample_as_large_as_the_data_gives_the_in_memory_result(project: Path) -> None:
    expected = cvm_gates(workspace(project))
    got = cvm_gates(workspace(project, memory_budget=TINY_BUDGET, sample_rows=10 * ROWS))
    assert workspace(project, memory_budget=TINY_BUDGET).dataset("current").streamed
    assert [c.outcome for c in expected] == ["failed", "failed", "passed"]  # income and the score shift
    assert tables(got) == tables(expected)
    income = next(row for row in got[0].details["table"] if row.get("feature") == "income")
    assert income["test"] == "cvm"


def test_a_smaller_sample_is_stated_on_every_check(project: Path) -> None:
    checks = cvm_gates(workspace(project, memory_budget=TINY_BUDGET, sample_rows=500))
    assert len(checks) == 3
    for check in checks:
        assert check.details["sampled_rows"] == 500
        assert f"uniform sample of 500 of {ROWS} rows" in check.message
    assert "income" in checks[0].details["drifted"]


def test_the_ks_family_on_streamed_data_is_still_folded_not_sampled(project: Path) -> None:
    ws = workspace(project, memory_budget=TINY_BUDGET, sample_rows=500)
    checks = MlGate("g", ws).no_drift("reference", "holdout")
    assert "sampled_rows" not in checks[0].details
    assert ws.dataset("holdout").sample_reads == 0


def test_a_float_target_is_tested_with_cvm_on_the_sample(tmp_path: Path) -> None:
    root = write_regression_project(tmp_path, rows=ROWS)
    expected = MlGate("g", workspace(root, target="amount")).no_label_drift("reference", "current", method="cvm")
    got = MlGate("g", workspace(root, target="amount", memory_budget=TINY_BUDGET, sample_rows=10 * ROWS)
                 ).no_label_drift("reference", "current", method="cvm")
    assert tables(got) == tables(expected)
    assert got[0].details["table"][0]["test"] == "cvm"
