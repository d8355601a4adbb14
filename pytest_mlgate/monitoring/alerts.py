"""Alerts from monitoring runs: the message, built-in notifiers and de-duplication.

Notifiers report how delivery went (a :class:`Delivery`) instead of raising: a webhook that is
down is logged and shown, and never hides or changes the gate result. Configured in
``[tool.mlgate.alerts]``::

    webhook = "https://hooks.slack.com/services/..."   # optional; Slack-compatible JSON POST
    webhook_env = "MLGATE_ALERT_WEBHOOK"               # or take the URL (a secret) from this variable
    file = ".mlgate/alerts.jsonl"                      # every alert sent, one JSON object a line
    state = ".mlgate/alerts-state.json"                # open conditions, for de-duplication
    dedupe_window = "6h"                               # repeat an unresolved alert at most this often
    timeout = 5                                        # seconds per webhook attempt
    retries = 2                                        # extra attempts after a failed one
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filelock import FileLock

from pytest_mlgate.errors import ConfigError, MlgateError
from pytest_mlgate.monitoring.window import parse_duration
from pytest_mlgate.records import now, read_json, write_json

if TYPE_CHECKING:
    from pytest_mlgate.config import Settings

log = logging.getLogger(__name__)
DEFAULTS = {"webhook": None, "webhook_env": "MLGATE_ALERT_WEBHOOK", "file": ".mlgate/alerts.jsonl",
            "state": ".mlgate/alerts-state.json",
            "dedupe_window": "6h", "timeout": 5.0, "retries": 2}


@dataclass
class Alert:
    """A monitoring run that did not approve the model in production, and what was done about it."""

    model: str | None
    decision: str
    stage: str
    reasons: list[str]
    failing: list[dict[str, Any]]
    production: dict[str, Any] = field(default_factory=dict)
    rollback: dict[str, Any] | None = None
    decision_file: str | None = None
    created: str = field(default_factory=now)

    @property
    def key(self) -> str:
        """Identifies the condition: the model and the set of failing gates."""
        gates = sorted(g["gate"] for g in self.failing)
        return hashlib.sha256(json.dumps([self.model, gates]).encode()).hexdigest()[:16]

    @property
    def text(self) -> str:
        """A short human message with the numbers (the failing gates' messages)."""
        head = f"mlgate monitor: {self.model or 'model'} in production is {self.decision.upper()}"
        lines = [head] + [f"- {g['gate']}: {g['message']}" for g in self.failing[:10]]
        if not self.failing:  # rejected without a failing gate: no gates ran, an interrupted run
            lines += [f"- {reason}" for reason in self.reasons[:10]]
        if len(self.failing) > 10:
            lines.append(f"- ... and {len(self.failing) - 10} more failing gate(s)")
        if self.rollback:
            lines.append(rollback_text(self.rollback))
        return "\n".join(lines)

    def payload(self) -> dict[str, Any]:
        """JSON for a Slack-compatible incoming webhook, with the structured alert under ``mlgate``."""
        fields = [{"title": "Model", "value": str(self.model), "short": True},
                  {"title": "Decision", "value": self.decision, "short": True},
                  {"title": "Failing gates", "value": str(len(self.failing)), "short": True}]
        if self.production.get("version"):
            fields.append({"title": "Production", "value": self.production["version"], "short": True})
        if self.rollback:
            fields.append({"title": "Rollback", "value": rollback_text(self.rollback), "short": False})
        return {"text": self.text,
                "attachments": [{"color": "danger", "fallback": self.text.splitlines()[0], "fields": fields}],
                "mlgate": self.to_dict()}

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "key": self.key}


def rollback_text(rollback: dict[str, Any]) -> str:
    """One line saying whether production was rolled back, from which version to which."""
    if rollback.get("withheld"):
        return f"automatic rollback withheld: {rollback['withheld']}"
    if rollback.get("error"):
        return f"automatic rollback FAILED: {rollback['error']}"
    return f"automatic rollback: production moved from {rollback.get('from')} back to {rollback.get('to')}"


@dataclass
class Delivery:
    """How sending an alert through one channel went."""

    channel: str
    ok: bool
    attempts: int = 1
    error: str | None = None


def options(settings: Settings) -> dict[str, Any]:
    """``[tool.mlgate.alerts]`` with defaults, validated; a bad value names its key."""
    table = settings.section("alerts")
    unknown = sorted(set(table) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f"mlgate config: [tool.mlgate.alerts] unknown key(s) {unknown} "
                          f"(known: {', '.join(DEFAULTS)})")
    merged = {**DEFAULTS, **table}
    for key in ("webhook", "webhook_env", "file", "state"):
        if merged[key] is not None and (not isinstance(merged[key], str) or not merged[key].strip()):
            raise ConfigError(f"mlgate config: [tool.mlgate.alerts] key '{key}' must be a non-empty string")
    source = "key 'webhook'"
    if not merged["webhook"] and merged["webhook_env"] and os.environ.get(merged["webhook_env"]):
        merged["webhook"] = os.environ[merged["webhook_env"]]
        source = f"key 'webhook_env' (${merged['webhook_env']})"
    if merged["webhook"] and not merged["webhook"].startswith(("http://", "https://")):
        raise ConfigError(f"mlgate config: [tool.mlgate.alerts] {source} must be an http(s) URL, "
                          f"got {merged['webhook']!r}")
    try:
        window = table.get("dedupe_window", DEFAULTS["dedupe_window"])
        merged["dedupe_window"] = float(window) if isinstance(window, (int, float)) else parse_duration(window)
    except MlgateError:
        raise ConfigError(f"mlgate config: [tool.mlgate.alerts] key 'dedupe_window' must be seconds or a "
                          f"duration like 6h, got {window!r}") from None
    merged["timeout"] = _bounded("timeout", merged["timeout"], 0.1, 120)
    merged["retries"] = int(_bounded("retries", merged["retries"], 0, 10))
    return merged


def _bounded(key: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ConfigError(f"mlgate config: [tool.mlgate.alerts] key '{key}' must be a number in "
                          f"[{low}, {high}], got {value!r}")
    return float(value)


def post_webhook(url: str, payload: dict[str, Any], *, timeout: float = 5.0, retries: int = 2,
                 backoff: float = 0.5) -> Delivery:
    """POST ``payload`` as JSON; retry connection errors, timeouts, 429 and 5xx up to ``retries`` times."""
    body = json.dumps(payload).encode()
    error, attempt = None, 0
    for attempt in range(1, retries + 2):
        request = urllib.request.Request(url, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                response.read()
            return Delivery("webhook", True, attempt)
        except urllib.error.HTTPError as exc:
            error = f"HTTP {exc.code} {exc.reason}"
            if exc.code != 429 and exc.code < 500:
                break
        except (urllib.error.URLError, OSError) as exc:
            error = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
        if attempt <= retries:
            time.sleep(backoff * 2 ** (attempt - 1))
    log.warning("mlgate alert: webhook %s failed after %d attempt(s): %s", url, attempt, error)
    return Delivery("webhook", False, attempt, error)


def append_file(path: Path, alert: Alert) -> Delivery:
    """Append the alert as one JSON line."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(alert.to_dict(), sort_keys=True) + "\n")
    except OSError as exc:
        return Delivery("file", False, 1, f"{path}: {exc.strerror}")
    return Delivery("file", True)


class AlertState:
    """Open alert conditions in a small JSON file: when each was first seen and last sent."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.lock = FileLock(str(self.path) + ".lock", timeout=30)

    def claim(self, alert: Alert, window: float, at: float | None = None) -> tuple[bool, dict[str, Any]]:
        """Whether to send ``alert`` now (not delivered within ``window`` seconds), and its condition entry."""
        at = time.time() if at is None else at
        with self.lock:
            state = self._read()
            entry = state.get(alert.key) or {"model": alert.model, "gates": sorted(g["gate"] for g in alert.failing),
                                             "first_seen": at, "last_sent": None, "count": 0}
            entry["count"] += 1
            send = entry["last_sent"] is None or at - entry["last_sent"] >= window or alert.rollback is not None
            state[alert.key] = entry
            write_json(self.path, state)
        return send, entry

    def settle(self, alert: Alert, at: float, error: str | None) -> None:
        """Record a send: only a delivered alert counts for de-duplication; a failed one is retried next run."""
        with self.lock:
            state = self._read()
            entry = state.setdefault(alert.key, {"model": alert.model, "first_seen": at, "count": 1})
            if error is None:
                entry["last_sent"] = at
                entry.pop("undelivered", None)
            else:
                entry.setdefault("last_sent", None)
                entry["undelivered"] = {"attempts": entry.get("undelivered", {}).get("attempts", 0) + 1,
                                        "at": at, "error": error}
            write_json(self.path, state)

    def resolve(self, model: str | None) -> int:
        """Close every open condition of ``model`` (it passed monitoring); returns how many."""
        with self.lock:
            state = self._read()
            kept = {k: v for k, v in state.items() if v.get("model") != model}
            if len(kept) != len(state):
                write_json(self.path, kept)
        return len(state) - len(kept)

    def _read(self) -> dict[str, Any]:
        """The state, or empty when missing or unreadable: a broken state file must not stop alerts."""
        if not self.path.is_file():
            return {}
        try:
            state = read_json(self.path)
        except MlgateError as exc:
            log.warning("mlgate alert: ignoring broken alert state: %s", exc)
            return {}
        return state if isinstance(state, dict) else {}


def dispatch(alert: Alert, settings: Settings, hook: Callable[[Alert], Any] | None = None,
             at: float | None = None) -> dict[str, Any]:
    """Send ``alert`` unless the same condition was alerted within the de-duplication window.

    Channels: the ``pytest_mlgate_alert`` hook (``hook``), the webhook and the alerts file. Returns
    a JSON-able report: sent or suppressed, and each channel's delivery.
    """
    opts = options(settings)
    at = time.time() if at is None else at
    state = AlertState(settings.path(opts["state"]))
    send, entry = state.claim(alert, opts["dedupe_window"], at)
    report: dict[str, Any] = {"key": alert.key, "sent": send, "suppressed": not send, "count": entry["count"],
                              "first_seen": entry["first_seen"], "deliveries": []}
    if not send:
        return report
    deliveries = []
    if hook is not None:
        deliveries.append(_call_hook(hook, alert))
    if opts["webhook"]:
        deliveries.append(post_webhook(opts["webhook"], alert.payload(), timeout=opts["timeout"],
                                       retries=opts["retries"]))
    if opts["file"]:
        deliveries.append(append_file(settings.path(opts["file"]), alert))
    report["deliveries"] = [asdict(d) for d in deliveries]
    failed = "; ".join(f"{d.channel}: {d.error}" for d in deliveries if not d.ok) or None
    state.settle(alert, at, failed)
    report["delivered"] = failed is None  # False: retried on the next run, not suppressed
    return report


def _call_hook(hook: Callable[[Alert], Any], alert: Alert) -> Delivery:
    try:
        hook(alert)
    except Exception as exc:  # a broken conftest notifier must not change the gate result
        log.warning("mlgate alert: pytest_mlgate_alert hook failed: %s: %s", type(exc).__name__, exc)
        return Delivery("hook", False, 1, f"{type(exc).__name__}: {exc}")
    return Delivery("hook", True)


def resolve(settings: Settings, model: str | None) -> int:
    """Mark ``model``'s open alert conditions resolved (a monitoring run approved it)."""
    path = settings.path(options(settings)["state"])
    return AlertState(path).resolve(model) if path.is_file() else 0
