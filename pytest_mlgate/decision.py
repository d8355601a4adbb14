"""Check records, gate results and the rule that folds them into one decision.

Plain data only: everything here serialises to JSON so that xdist workers can ship it to the
controller and reports can be rendered again from a stored decision file.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Status = Literal["approved", "rejected", "needs-review"]
SEVERITIES: tuple[str, ...] = ("block", "review", "warn")

# Check outcomes. "not_applicable" (e.g. no baseline) and "too_small" (a slice or group below the
# minimum size) never block, but are listed in every report so nothing passes silently.
PASSED, FAILED, ERROR, NOT_APPLICABLE, TOO_SMALL = (
    "passed", "failed", "error", "not_applicable", "too_small",
)


@dataclass
class Check:
    """One measured criterion: what was compared, with which numbers, and how it came out."""

    name: str
    outcome: str = PASSED
    metric: str | None = None
    dataset: str | None = None
    candidate: float | None = None
    baseline: float | None = None
    delta: float | None = None
    threshold: str | None = None
    ci: tuple[float, float] | None = None
    message: str = ""
    kind: str = "check"
    details: dict[str, Any] = field(default_factory=dict)
    severity: str | None = None  # a failing check's own severity, used when the gate marker sets none

    @property
    def failed(self) -> bool:
        return self.outcome in (FAILED, ERROR)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ci"] = list(self.ci) if self.ci is not None else None
        return _json_safe(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Check:
        data = dict(data)
        if data.get("ci") is not None:
            data["ci"] = tuple(data["ci"])
        return cls(**data)


@dataclass
class GateResult:
    """One gate (one pytest test) with its marker settings, outcome and checks."""

    gate: str
    outcome: str
    severity: str = "block"
    category: str | None = None
    owner: str | None = None
    stage: str = "push"
    message: str = ""
    duration: float = 0.0
    checks: list[Check] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["checks"] = [check.to_dict() for check in self.checks]
        return _json_safe(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GateResult:
        data = dict(data)
        data["checks"] = [Check.from_dict(c) for c in data.get("checks", [])]
        return cls(**data)


@dataclass
class Decision:
    """The outcome of a gate run and the reasons for it."""

    status: Status
    reasons: list[str]
    gates: list[GateResult]
    approvals_used: list[dict[str, Any]] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for gate in self.gates:
            counts[gate.outcome] = counts.get(gate.outcome, 0) + 1
        return counts


def gate_severity(marker: str | None, checks: list[Check], by_checks: bool) -> str:
    """A failed gate's severity: the marker's when it sets one; else, when the gate failed only through
    its recorded checks and each failing check states a severity, the most severe of those; else block."""
    if marker is not None:
        return marker
    hints = [c.severity for c in checks if c.failed]
    if not by_checks or not hints or None in hints:
        return "block"
    return min(hints, key=SEVERITIES.index)


def decide(
    gates: list[GateResult],
    *,
    interrupted: str | None = None,
    approved_gates: dict[str, dict[str, Any]] | None = None,
) -> Decision:
    """Fold gate results into one decision, failing closed.

    A failing ``block`` gate or any error rejects; a failing ``review`` gate needs review unless
    ``approved_gates`` holds an approval for it; a failing ``warn`` gate is only reported.
    ``interrupted`` (a reason) rejects whatever the gates say, as does a run without gates.
    """
    approved_gates = approved_gates or {}
    reasons: list[str] = []
    review: list[str] = []
    used: list[dict[str, Any]] = []
    if interrupted:
        reasons.append(f"run incomplete: {interrupted}")
    if not any(g.outcome in (PASSED, FAILED, ERROR) for g in gates):
        reasons.append("no gates ran")
    errors: dict[str, list[str]] = {}  # one reason per error: a model that fails to load fails every gate
    for gate in gates:
        if gate.outcome == ERROR:
            errors.setdefault(gate.message, []).append(gate.gate)
    reasons += [f"{names[0]}: error: {message}" if len(names) == 1 else
                f"{len(names)} gates ({', '.join(names)}): error: {message}" for message, names in errors.items()]
    for gate in gates:
        if gate.outcome == FAILED and gate.severity == "block":
            reasons.append(f"{gate.gate}: {gate.message}")
        elif gate.outcome == FAILED and gate.severity == "review":
            approval = approved_gates.get(gate.gate)
            if approval is None:
                review.append(f"{gate.gate}: {gate.message} (needs approval)")
            else:
                used.append(approval)
    if reasons:
        return Decision("rejected", reasons + review, gates, used)
    if review:
        return Decision("needs-review", review, gates, used)
    return Decision("approved", [], gates, used)


def _json_safe(value: Any) -> Any:
    """Recursively turn numpy scalars and non-finite floats into JSON-safe values."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value
