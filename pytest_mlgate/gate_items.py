"""What one test item contributes to the decision: its stage and severity, its phases' outcomes, its GateResult."""

from __future__ import annotations

import pytest

from pytest_mlgate.decision import GateResult, gate_severity
from pytest_mlgate.errors import MlgateError

RECORDER = pytest.StashKey["object"]()
WARNING = pytest.StashKey[str]()
OBSERVED = pytest.StashKey[dict]()
PHASES = pytest.StashKey[dict]()
FAILED_BY_CHECKS = pytest.StashKey[bool]()


def stages(item: pytest.Item) -> tuple[str, ...]:
    marker = item.get_closest_marker("gate")
    stage = marker.kwargs.get("stage", "push") if marker else "push"
    if stage == "both":
        return ("push", "monitor")
    return tuple(stage) if isinstance(stage, (list, tuple)) else (stage,)


def marked_severity(item: pytest.Item) -> str:
    marker = item.get_closest_marker("gate")
    return str(marker.kwargs.get("severity", "block")) if marker else "block"


def mark_warning(item: pytest.Item, report: pytest.TestReport, when: str) -> None:
    """A failing warn gate's call and teardown reports carry the warning (pytest's JUnit reads it)."""
    if marked_severity(item) != "warn":
        return
    phase, message, _ = item.stash[PHASES][when]
    if when == "call" and phase == "failed":
        item.stash[WARNING] = message
    if when in ("call", "teardown") and WARNING in item.stash:
        report.mlgate_warning = item.stash[WARNING]


def phase_outcome(report: pytest.TestReport, call: pytest.CallInfo[None]) -> tuple[str, str]:
    """(outcome, message) of one test phase, from the gate's point of view."""
    if report.passed:
        return ("passed", "")
    if report.skipped:
        reason = getattr(report, "wasxfail", None)
        if reason is not None:
            return ("skipped", f"expected failure: {reason}")
        longrepr = report.longrepr
        return ("skipped", longrepr[2] if isinstance(longrepr, tuple) else str(longrepr))
    message = first_line(call.excinfo.value) if call.excinfo else str(report.longrepr)
    if call.when == "call" and call.excinfo is not None and (
            call.excinfo.errisinstance(AssertionError) or call.excinfo.errisinstance(pytest.fail.Exception)):
        return ("failed", message)
    return ("error", message)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    if not isinstance(exc, (AssertionError, MlgateError, pytest.fail.Exception)):
        line = f"{type(exc).__name__}: {line}"
    return line if isinstance(exc, MlgateError) else line[:500]  # ours are one complete line: never cut a name


def gate_result(item: pytest.Item) -> GateResult:
    from pytest_mlgate.decision import Check

    marker = item.get_closest_marker("gate")
    options = dict(marker.kwargs) if marker else {}
    phases = item.stash.get(PHASES, {})
    outcome, message = "passed", ""
    for when in ("setup", "call", "teardown"):
        phase, text, _ = phases.get(when, ("passed", "", 0.0))
        if phase != "passed" and outcome == "passed" or phase == "error":
            outcome, message = phase, text
    recorder = item.stash.get(RECORDER, None)
    checks = list(recorder.checks) if recorder is not None else []
    severity = gate_severity(options.get("severity"), checks, item.stash.get(FAILED_BY_CHECKS, False))  # marker validated at collection
    for (role, metric, data), value in item.stash.get(OBSERVED, {}).items():
        checks.append(Check(f"{metric}@{data}" + ("" if role == "candidate" else f" ({role})"),
                            outcome if outcome in ("passed", "failed") else "error", metric=metric, dataset=data,
                            candidate=value if role == "candidate" else None,
                            baseline=value if role == "baseline" else None, kind="observed",
                            message=message if outcome == "failed" else ""))
    stage = options.get("stage", "push")
    return GateResult(item.nodeid, outcome, severity, options.get("category"), options.get("owner"),
                      stage if isinstance(stage, str) else ",".join(stage), message,
                      sum(p[2] for p in phases.values()), checks)


def exit_code(status: str, pytest_status: int, review_code: int) -> int:
    """approved -> 0, needs-review -> review_code, rejected -> pytest's failure status (at least 1)."""
    if pytest_status > 1:
        return pytest_status
    return {"approved": 0, "needs-review": review_code}.get(status, 1)
