"""What a monitoring run does after its decision: resolve or raise alerts, roll production back.

Called by the plugin at session end in the monitor stage (``--mlgate-stage monitor``); plain
functions over Settings and the decision record, so they run and are tested without pytest.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pytest_mlgate.errors import MlgateError
from pytest_mlgate.monitoring import alerts

if TYPE_CHECKING:
    from pytest_mlgate.config import Settings

ACTOR = "mlgate monitor"
def options(settings: Settings) -> dict[str, Any]:
    """The validated ``[tool.mlgate.monitor]`` table (checked at start-up, whichever the stage)."""
    from pytest_mlgate.lifecycle.loop import on_alert
    from pytest_mlgate.monitoring.anytime import MonitorOptions

    return {"sequential": MonitorOptions.from_settings(settings), "on_alert": on_alert(settings)}


def after_run(settings: Settings, record: dict[str, Any],
              hook: Callable[[alerts.Alert], Any] | None = None) -> dict[str, Any] | None:
    """Approved: close the model's open alerts. Otherwise roll back (auto_rollback and rejected) and alert.

    Returns what happened, JSON-able, for the decision record; ``None`` outside the monitor stage.
    Nothing here changes the decision: failures are reported in the returned data.
    """
    if settings.stage != "monitor":
        return None
    if record["decision"] == "approved":
        try:
            return {"resolved": alerts.resolve(settings, settings.model)}
        except (MlgateError, OSError) as exc:  # an unreadable state file or a lock that timed out
            return {"resolved": 0, "error": str(exc)}
    rollback = None
    if settings.auto_rollback and record["decision"] == "rejected":
        withheld = without_evidence(settings, record)
        rollback = {"withheld": withheld} if withheld else roll_back(settings, record)
    alert = build_alert(record, rollback, str(settings.path(settings.decision)))
    try:
        report = alerts.dispatch(alert, settings, hook)
    except (MlgateError, OSError) as exc:  # an unreadable state file or a lock that timed out
        report = {"sent": False, "suppressed": False, "error": str(exc), "deliveries": []}
    return {"alert": report, "rollback": rollback, "text": alert.text}


def without_evidence(settings: Settings, record: dict[str, Any]) -> str | None:
    """Why a rejection does not justify a rollback: with ``[tool.mlgate.monitor] rollback_on =
    "evidence"`` (the default) only a failing anytime-valid check in a blocking gate does, since a
    fixed-sample test re-run every day fails on noise sooner or later. ``None`` when it does."""
    from pytest_mlgate.monitoring.anytime import MonitorOptions

    if MonitorOptions.from_settings(settings).rollback_on == "any":
        return None
    for gate in record["gates"]:
        if gate["severity"] == "block" and gate["outcome"] in ("failed", "error") and any(
                c["outcome"] == "failed" and (c.get("details") or {}).get("anytime_valid") for c in gate["checks"]):
            return None
    return ("no blocking gate failed on anytime-valid evidence (sequential checks); a fixed-sample failure "
            "alerts but does not move production ([tool.mlgate.monitor] rollback_on = \"any\" to change)")


def build_alert(record: dict[str, Any], rollback: dict[str, Any] | None = None,
                decision_file: str | None = None) -> alerts.Alert:
    """The alert for a decision record: its failing gates with their messages, and the rollback."""
    failing = [{"gate": g["gate"], "severity": g["severity"], "outcome": g["outcome"], "message": g["message"]}
               for g in record["gates"] if g["outcome"] in ("failed", "error")]
    found = record.get("artifacts") or {}
    production = found.get("baseline") or found.get("candidate") or {}
    return alerts.Alert(
        model=record.get("model"), decision=record["decision"], stage=record.get("stage", "monitor"),
        reasons=list(record.get("reasons") or []), failing=failing,
        production={k: production.get(k) for k in ("spec", "version", "sha256")},
        rollback=rollback, decision_file=decision_file)


def roll_back(settings: Settings, record: dict[str, Any]) -> dict[str, Any]:
    """Move the production alias back to its previous version, through the configured registry backend.

    Refuses, with the reason under ``error``, when production is not a registry alias or moved
    since the run loaded it (so a concurrent promotion is never undone blindly).
    """
    from pytest_mlgate.lifecycle.backend import open_backend

    spec = settings.baseline
    try:
        found = production_alias(spec, settings)
        if isinstance(found, str):
            return {"error": found}
        name, alias = found
        backend = open_backend(settings)
        evaluated = ((record.get("artifacts") or {}).get("baseline") or {}).get("version")
        current = backend.aliases(name).get(alias)
        if evaluated is None or current != evaluated:
            return {"model": name, "alias": alias,
                    "error": f"{name}@{alias} is {current} but the run evaluated {evaluated}; nothing rolled back"}
        reason = f"monitoring run rejected {name}@{alias} ({current}): " + "; ".join(record.get("reasons") or [])[:500]
        event = backend.rollback(name, alias, expected=current, by=ACTOR, reason=reason)
    except (MlgateError, OSError) as exc:  # OSError: e.g. the registry lock timed out
        return {"error": f"{type(exc).__name__}: {exc}" if isinstance(exc, OSError) else str(exc)}
    return {"model": name, "alias": alias, "from": event["from"], "to": event["to"], "at": event["at"]}


def production_alias(spec: str | None, settings: Settings) -> tuple[str, str] | str:
    """(model, alias) of a baseline given as a registry alias, or why it cannot be rolled back."""
    from pytest_mlgate.lifecycle.backend import is_mlflow
    from pytest_mlgate.lifecycle.registry import PREFIX, VERSION, parse_reference

    if spec and spec.startswith("models:/") and is_mlflow(settings):
        from pytest_mlgate.evaluate.frameworks.mlflow_source import parse

        name, alias, _ = parse(spec)
    elif spec and spec.startswith(PREFIX) and not is_mlflow(settings):
        name, alias = parse_reference(spec)
        alias = None if VERSION.fullmatch(alias) else alias
    else:
        return f"production (baseline = {spec!r}) is not a registry alias; nothing rolled back"
    if alias is None:
        return f"production is pinned to {spec}, not an alias; nothing rolled back"
    return name, alias


def summary_lines(outcome: dict[str, Any] | None) -> list[str]:
    """Terminal lines for what :func:`after_run` did."""
    if not outcome:
        return []
    if "resolved" in outcome:
        return [f"mlgate monitor: production approved; {outcome['resolved']} open alert condition(s) resolved"
                + (f" (alert state error: {outcome['error']})" if outcome.get("error") else "")]
    lines = []
    if outcome.get("rollback"):
        lines.append(f"mlgate monitor: {alerts.rollback_text(outcome['rollback'])}")
    report = outcome["alert"]
    if report.get("error"):
        lines.append(f"mlgate alert: NOT sent: {report['error']}")
    elif report["suppressed"]:
        lines.append(f"mlgate alert: suppressed, same condition already alerted ({report['count']} occurrences, "
                     f"key {report['key']})")
    else:
        for delivery in report["deliveries"]:
            status = "delivered" if delivery["ok"] else \
                f"delivery FAILED after {delivery['attempts']} attempt(s): {delivery['error']} (retried next run)"
            lines.append(f"mlgate alert: {delivery['channel']} {status}")
    return lines
