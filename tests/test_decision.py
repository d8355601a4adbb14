"""The decision rule folds gate results into approved / rejected / needs-review, failing closed."""

from __future__ import annotations

from pytest_mlgate.decision import Check, GateResult, decide


def gate(outcome: str, severity: str = "block", name: str = "g") -> GateResult:
    return GateResult(f"test_x.py::{name}", outcome, severity, message=f"{name} {outcome}")


def test_all_passing_gates_approve():
    assert decide([gate("passed"), gate("passed", "review")]).status == "approved"


def test_failing_block_gate_rejects():
    decision = decide([gate("passed"), gate("failed", name="auc")])
    assert decision.status == "rejected" and decision.reasons == ["test_x.py::auc: auc failed"]


def test_failing_review_gate_needs_review_unless_approved():
    gates = [gate("passed"), gate("failed", "review", "parity")]
    assert decide(gates).status == "needs-review"
    approval = {"gate": "test_x.py::parity", "by": "alice"}
    decision = decide(gates, approved_gates={"test_x.py::parity": approval})
    assert decision.status == "approved" and decision.approvals_used == [approval]


def test_failing_warn_gate_does_not_block():
    assert decide([gate("passed"), gate("failed", "warn")]).status == "approved"


def test_errors_reject_whatever_the_severity():
    for severity in ("block", "review", "warn"):
        assert decide([gate("passed"), gate("error", severity)]).status == "rejected"


def test_no_gates_or_only_skipped_gates_reject():
    assert decide([]).reasons == ["no gates ran"]
    assert decide([gate("skipped")]).status == "rejected"


def test_interrupted_run_rejects_even_when_gates_passed():
    decision = decide([gate("passed")], interrupted="interrupted")
    assert decision.status == "rejected" and decision.reasons == ["run incomplete: interrupted"]


def test_rejection_lists_review_failures_too():
    decision = decide([gate("failed", name="a"), gate("failed", "review", "b")])
    assert decision.status == "rejected" and len(decision.reasons) == 2


def test_records_round_trip_through_json_safe_dicts():
    import json

    import numpy as np

    check = Check("auc", candidate=np.float64(0.8), baseline=float("nan"), ci=(0.1, 0.2),
                  details={"table": [{"psi": np.float32(0.5)}]})
    result = GateResult("t::g", "passed", checks=[check])
    data = json.loads(json.dumps(result.to_dict()))
    assert data["checks"][0]["baseline"] is None and data["checks"][0]["candidate"] == 0.8
    again = GateResult.from_dict(data)
    assert again.checks[0].ci == (0.1, 0.2) and again.checks[0].details["table"][0]["psi"] == 0.5
