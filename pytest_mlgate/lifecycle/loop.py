"""Closing the loop: a monitoring alert retrains, registers the new model as candidate and gates it.

With ``[tool.mlgate.monitor] on_alert = "retrain"``, a monitor-stage run whose alert went out
(not a suppressed repeat) runs the training trigger whatever its input hashes say (the command is
expected to fetch fresh data), which registers the output and moves the ``candidate`` alias; then
the push suite gates that exact version in a separate pytest process, which writes its own
decision (and promotes, when ``promote`` is configured and it approves). A ``retrain`` audit entry
links the monitoring decision, the new version and the push decision.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pytest_mlgate.errors import ConfigError, MlgateError

if TYPE_CHECKING:
    from pytest_mlgate.config import Settings

ACTIONS = ("none", "retrain")
DECISION_FILE = "reports/retrain-decision.json"


def on_alert(settings: Settings) -> str:
    """The validated ``[tool.mlgate.monitor] on_alert`` action (``none`` by default)."""
    action = settings.section("monitor").get("on_alert", "none")
    if action not in ACTIONS:
        raise ConfigError(f"mlgate config: [tool.mlgate.monitor] key 'on_alert' must be one of "
                          f"{', '.join(ACTIONS)}, got {action!r}")
    if action == "retrain":
        from pytest_mlgate.lifecycle.training import options

        if options(settings) is None:
            raise ConfigError("mlgate config: [tool.mlgate.monitor] on_alert = \"retrain\" needs "
                              "[tool.mlgate.training] (command, inputs, output)")
    return action


def after_alert(settings: Settings, record: dict[str, Any], paths: Sequence[str]) -> dict[str, Any] | None:
    """Retrain and gate after a monitoring alert; returns what happened (None when not configured).

    Errors are returned under ``error``, never raised: the monitoring decision stands as it is.
    """
    monitor = record.get("monitor") or {}
    if settings.stage != "monitor" or on_alert(settings) != "retrain" or "alert" not in monitor:
        return None
    if not (monitor["alert"] or {}).get("sent"):
        return {"skipped": "the alert was a suppressed repeat: already retrained for this condition"}
    from pytest_mlgate.lifecycle.audit import open_log
    from pytest_mlgate.lifecycle.registry import open_registry
    from pytest_mlgate.lifecycle.training import maybe_train

    outcome: dict[str, Any] = {"trigger": {"decision_seq": (record.get("lifecycle") or {}).get("audit"),
                                           "reasons": list(record.get("reasons") or [])[:5]}}
    try:
        training = maybe_train(settings, open_registry(settings), force=True,
                               reason="retrained after a monitoring alert")
        outcome["training"] = training
        outcome["push"] = gate_version(settings, training["version"], paths)
    except (MlgateError, OSError) as exc:
        outcome["error"] = str(exc)
    try:
        outcome["audit"] = open_log(settings).append("retrain", outcome, model=settings.model)["seq"]
    except (MlgateError, OSError) as exc:
        outcome["error"] = outcome.get("error") or f"audit: {exc}"
    return outcome


def gate_version(settings: Settings, version: str, paths: Sequence[str]) -> dict[str, Any]:
    """Run the push suite on ``registry:MODEL@version`` in a fresh pytest process; its decision."""
    from pytest_mlgate.records import read_json

    decision = settings.path(DECISION_FILE)
    command = [sys.executable, "-m", "pytest", *paths, "-p", "no:cacheprovider", "--mlgate-stage", "push",
               "--mlgate-candidate", f"registry:{settings.model}@{version}", "--mlgate-decision", str(decision)]
    if settings.source:
        command += ["--mlgate-config", settings.source]
    done = subprocess.run(command, cwd=settings.root, capture_output=True, text=True, timeout=3600)
    if not decision.is_file():
        tail = (done.stdout + done.stderr).strip().splitlines()[-1:] or [""]
        raise MlgateError(f"retrain: the push gate run of {version} wrote no decision (exit {done.returncode}): "
                          f"{tail[0]}")
    pushed = read_json(decision)
    return {"version": version, "decision": pushed.get("decision"), "exit_status": done.returncode,
            "decision_file": str(decision), "audit": (pushed.get("lifecycle") or {}).get("audit"),
            "promotion": (pushed.get("lifecycle") or {}).get("promotion")}


def summary_lines(outcome: dict[str, Any] | None) -> list[str]:
    """Terminal lines for what :func:`after_alert` did."""
    if not outcome:
        return []
    if "skipped" in outcome:
        return [f"mlgate retrain: skipped: {outcome['skipped']}"]
    if "error" in outcome and "push" not in outcome:
        return [f"mlgate retrain: FAILED: {outcome['error']}"]
    push = outcome["push"]
    line = (f"mlgate retrain: trained {push['version']} after the alert; push gates: {push['decision']} "
            f"(decision {push['decision_file']})")
    if push.get("promotion"):
        line += f"; promoted to {push['promotion']['alias']}"
    return [line]
