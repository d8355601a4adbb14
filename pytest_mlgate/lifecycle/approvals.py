"""Manual approvals of review gates, bound to a model, an exact candidate (sha256) and a gate.

Approvals are entries of the audit log (event ``approval``). Only people listed in
``[tool.mlgate] approvers`` may approve. When ``MLGATE_APPROVAL_KEY`` is set, approvals are signed
with HMAC-SHA256 and an unsigned or wrongly signed approval is rejected. An approval for another
sha256 is ignored, so an approval expires as soon as the candidate changes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from typing import TYPE_CHECKING, Any

from pytest_mlgate.errors import MlgateError
from pytest_mlgate.records import now

if TYPE_CHECKING:
    from pytest_mlgate.config import Settings
    from pytest_mlgate.decision import GateResult
    from pytest_mlgate.lifecycle.audit import AuditLog

KEY_ENV = "MLGATE_APPROVAL_KEY"
SIGNED_FIELDS = ("model", "candidate", "gate", "by", "reason", "at")
SHA256 = re.compile(r"[0-9a-f]{64}")


def signature(approval: dict[str, Any], key: str) -> str:
    """HMAC-SHA256 over the approval's bound fields."""
    body = json.dumps({f: approval.get(f) for f in SIGNED_FIELDS}, sort_keys=True, separators=(",", ":"))
    return hmac.new(key.encode("utf-8"), body.encode("utf-8"), hashlib.sha256).hexdigest()


def approve(log: AuditLog, settings: Settings, *, model: str, candidate: str, gate: str, by: str,
            reason: str) -> dict[str, Any]:
    """Record an approval in the audit log, signed when ``MLGATE_APPROVAL_KEY`` is set."""
    candidate = candidate.strip().lower()
    if not SHA256.fullmatch(candidate):
        raise MlgateError(f"approve: --candidate must be a sha256 (64 hex digits), got {candidate!r}")
    if by not in settings.approvers:
        allowed = ", ".join(settings.approvers) or "nobody ([tool.mlgate] approvers is empty)"
        raise MlgateError(f"approve: {by!r} is not an approver (approvers: {allowed})")
    for flag, value in (("--gate", gate), ("--reason", reason), ("--model", model)):
        if not value or not value.strip():
            raise MlgateError(f"approve: {flag} must not be empty")
    approval = {"model": model, "candidate": candidate, "gate": gate, "by": by, "reason": reason, "at": now()}
    key = os.environ.get(KEY_ENV)
    if key:
        approval["signature"] = signature(approval, key)
    log.append("approval", approval, model=model)
    return approval


def problem(approval: dict[str, Any], settings: Settings) -> str | None:
    """Why an approval cannot be used (not an approver, unsigned, forged), or None when valid."""
    if approval.get("by") not in settings.approvers:
        return f"{approval.get('by')!r} is not an approver"
    key = os.environ.get(KEY_ENV)
    if key:
        sig = approval.get("signature")
        if not sig:
            return f"unsigned while {KEY_ENV} is set"
        if not hmac.compare_digest(str(sig), signature(approval, key)):
            return "signature does not match (forged or altered)"
    return None


def gate_matches(approved: str, nodeid: str) -> bool:
    """An approval's gate may be the test's node id or its function name (with or without params)."""
    name = nodeid.rsplit("::", 1)[-1]
    return approved in (nodeid, name, name.split("[", 1)[0])


def approvals_for(log: AuditLog, settings: Settings, model: str | None, candidate: str | None,
                  gates: list[GateResult]) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """Approvals that apply to this run: (gate nodeid -> approval, ignored approvals with a reason).

    Only approvals for this model and this exact candidate sha256 count; the latest valid one
    per gate wins. Invalid ones for this candidate are returned with their reason.
    """
    used: dict[str, dict[str, Any]] = {}
    ignored: list[dict[str, Any]] = []
    if not model or not candidate or not log.path.exists():
        return used, ignored
    for entry in log.find("approval", model=model):
        approval = entry.get("data") or {}
        if approval.get("candidate") != candidate or approval.get("model") != model:
            continue  # bound to another candidate or model (the entry's own model field is not signed)
        reason = problem(approval, settings)
        if reason:
            ignored.append({**approval, "ignored": reason})
            continue
        for gate in gates:
            if gate_matches(str(approval.get("gate")), gate.gate):
                used[gate.gate] = approval
    return used, ignored
