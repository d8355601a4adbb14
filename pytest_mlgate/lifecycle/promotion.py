"""What happens after a decision: approvals for review gates, the audit entry, promotion.

Used by the plugin at session end and by ``mlgate promote``; plain functions over Settings.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pytest_mlgate.decision import FAILED, GateResult, decide
from pytest_mlgate.errors import MlgateError
from pytest_mlgate.evaluate.sources import locate
from pytest_mlgate.lifecycle import approvals
from pytest_mlgate.lifecycle.audit import open_log
from pytest_mlgate.lifecycle.backend import is_mlflow, open_backend
from pytest_mlgate.lifecycle.registry import open_registry

if TYPE_CHECKING:
    from pytest_mlgate.config import Settings

PROMOTABLE = ("approved",)


def actor() -> str:
    """Who acts: ``MLGATE_ACTOR``, else the CI actor, else the login name."""
    return os.environ.get("MLGATE_ACTOR") or os.environ.get("GITHUB_ACTOR") or getpass.getuser()


def review_approvals(settings: Settings, gates: list[GateResult],
                     candidate_sha: str | None) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """Valid approvals for the failed review gates of this candidate, and the ignored ones."""
    if not any(g.outcome == FAILED and g.severity == "review" for g in gates):
        return {}, []
    return approvals.approvals_for(open_log(settings), settings, settings.model, candidate_sha, gates)


def record_decision(settings: Settings, record: dict[str, Any]) -> dict[str, Any]:
    """Append a decision record (all gates and checks) to the audit log; returns the entry."""
    body = {k: v for k, v in record.items() if k not in ("outputs", "lifecycle")}
    return open_log(settings).append("decision", body, model=record.get("model"))


def promote(settings: Settings, record: dict[str, Any], alias: str, *, by: str, reason: str) -> dict[str, Any]:
    """Move ``alias`` to the record's candidate when its decision allows it (through the configured backend)."""
    model = record.get("model")
    if not model:
        raise MlgateError("promote: the decision names no model ([tool.mlgate] model)")
    status = record.get("decision")
    if status not in PROMOTABLE:
        raise MlgateError(f"promote: not moving {model}@{alias}: the decision is {status} "
                          f"({'; '.join(record.get('reasons') or []) or 'no reasons recorded'})")
    candidate = (record.get("artifacts") or {}).get("candidate") or {}
    if not candidate.get("sha256"):
        raise MlgateError(f"promote: the decision has no candidate sha256 ({candidate.get('error', 'not recorded')})")
    return open_backend(settings).promote(record, alias, start=record.get("aliases_at_start"), by=by, reason=reason)


def alias_snapshot(settings: Settings) -> dict[str, Any] | None:
    """The model's aliases as the run starts, so promotion can refuse an alias that moved meanwhile.

    Only taken for the MLflow backend (the file registry moves aliases under its own lock).
    """
    if not settings.model or not is_mlflow(settings):
        return None
    try:
        return {"aliases": open_backend(settings, audit=False).aliases(settings.model)}
    except MlgateError as exc:
        return {"error": str(exc)}


def redecide(settings: Settings, record: dict[str, Any]) -> dict[str, Any]:
    """A stored needs-review decision re-folded with the approvals recorded since; others unchanged."""
    if record.get("decision") != "needs-review":
        return record
    gates = [GateResult.from_dict(g) for g in record.get("gates", [])]
    sha256 = ((record.get("artifacts") or {}).get("candidate") or {}).get("sha256")
    used, ignored = review_approvals(settings, gates, sha256)
    decision = decide(gates, approved_gates=used)
    return {**record, "decision": decision.status, "reasons": decision.reasons,
            "approvals_used": decision.approvals_used, "approvals_ignored": ignored}


def after_decision(settings: Settings, record: dict[str, Any],
                   render: Callable[[dict[str, Any]], dict[str, str]] | None = None) -> dict[str, Any]:
    """Audit the decision and, with ``promote`` set, move the alias; returns what happened.

    Errors do not raise: they are returned under ``error`` so the caller can fail the run.
    """
    outcome: dict[str, Any] = {}
    try:
        entry = record_decision(settings, record)
        outcome["audit"] = entry["seq"]
        logged = open_backend(settings, audit=False).log_decision(record, entry, render)  # before any alias moves
        if logged:
            outcome["mlflow"] = logged
        if settings.promote and record.get("stage") != "push":
            outcome["refused"] = f"{record.get('model')}@{settings.promote} not moved: only push runs promote"
        elif settings.promote and record.get("decision") not in PROMOTABLE:
            outcome["refused"] = (f"{record.get('model')}@{settings.promote} not moved: "
                                  f"the decision is {record.get('decision')}")
        elif settings.promote:
            outcome["promotion"] = promote(settings, record, settings.promote, by=actor(),
                                           reason=f"gate run approved ({record.get('git_commit') or 'no git commit'})")
    except MlgateError as exc:
        outcome["error"] = str(exc)
    except OSError as exc:  # an unwritable audit log or registry, a lock held too long
        outcome["error"] = f"{exc.filename or 'registry/audit'}: {exc.strerror or type(exc).__name__}"
    return outcome


def session_approvals(settings: Settings, gates: list[GateResult]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Approvals for a gate run: bound to the candidate's current sha256 (none if it cannot be read)."""
    if not settings.candidate:
        return {}, []
    try:
        sha256 = locate("candidate", settings.candidate, settings).sha256
    except MlgateError:
        return {}, []
    return review_approvals(settings, gates, sha256)


def owner_of(settings: Settings) -> str | None:
    """The configured owner, else the owner recorded in the registry for the model."""
    if settings.owner or not settings.model:
        return settings.owner
    return open_backend(settings, audit=False).owner(settings.model)


def start_session(settings: Settings) -> dict[str, Any] | None:
    """Run the training trigger if configured; an error is returned, not raised (the run fails closed)."""
    if not settings.section("training"):
        return None
    from pytest_mlgate.lifecycle.training import maybe_train

    try:
        return maybe_train(settings, open_registry(settings))
    except MlgateError as exc:
        return {"status": "error", "error": str(exc)}
    except OSError as exc:
        return {"status": "error", "error": f"training: {exc.filename or 'registry'}: {exc.strerror or exc}"}


def summary_lines(record: dict[str, Any]) -> list[str]:
    """Terminal lines about training, the audit entry and promotion of a finished run."""
    lines = []
    training = record.get("training")
    if training:
        lines.append(f"mlgate training: {training['status']}"
                     + (f" ({training['version']})" if training.get("version") else "")
                     + (f": {training['error']}" if training.get("error") else ""))
    for approval in record.get("approvals_used") or []:
        lines.append(f"mlgate approval used: {approval['gate']} approved by {approval['by']}: {approval['reason']}")
    for approval in record.get("approvals_ignored") or []:
        lines.append(f"mlgate approval ignored: {approval.get('gate')} by {approval.get('by')}: {approval['ignored']}")
    lifecycle = record.get("lifecycle") or {}
    if "audit" in lifecycle:
        lines.append(f"mlgate audit: decision appended as entry {lifecycle['audit']}")
    if "mlflow" in lifecycle:
        logged = lifecycle["mlflow"]
        lines.append(f"mlgate mlflow: decision logged as run {logged['run_id']}"
                     + (f", tags on model version {logged['model_version']}" if logged.get("model_version") else ""))
    event = lifecycle.get("promotion")
    if event:
        lines.append(f"mlgate promoted {record.get('model')}@{event['alias']}: "
                     f"{event['from'] or 'none'} -> {event['to']}")
    if "refused" in lifecycle:
        lines.append(f"mlgate promotion refused: {lifecycle['refused']}")
    if "error" in lifecycle:
        lines.append(f"mlgate error: {lifecycle['error']}")
    return lines
