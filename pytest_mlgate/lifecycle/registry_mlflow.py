"""The MLflow Model Registry as a registry backend: aliases moved by compare and set, audited.

MLflow has no conditional alias update, so a move reads the alias immediately before setting it
and refuses when it no longer points where the gate run found it; only a move landing in the few
milliseconds between that read and the set can still be overwritten. Every move is an audit-log
entry (the log stays the source of truth), and rollback walks the alias history the log holds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_mlgate.errors import MlgateError
from pytest_mlgate.evaluate.frameworks.mlflow_source import (
    TAG_DIGEST,
    call,
    client,
    model_version,
)
from pytest_mlgate.lifecycle.registry import alias_stack
from pytest_mlgate.records import now

if TYPE_CHECKING:
    from pytest_mlgate.config import Settings
    from pytest_mlgate.lifecycle.audit import AuditLog

MOVES = ("promote", "rollback", "assign")


class MlflowBackend:
    """:class:`~pytest_mlgate.lifecycle.backend.Backend` over an MLflow tracking server."""

    def __init__(self, uri: str, audit: AuditLog | None, settings: Settings):
        self.uri = uri
        self.audit = audit
        self.settings = settings
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = client(self.uri)
        return self._client

    def call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return call(self.uri, what, fn, *args, **kwargs)

    # -- reading

    def aliases(self, model: str) -> dict[str, str]:
        found = self.call(f"model {model!r}", self.client.get_registered_model, model)
        return {alias: str(version) for alias, version in (found.aliases or {}).items()}

    def holder(self, model: str, alias: str) -> str | None:
        return self.aliases(model).get(alias)

    def owner(self, model: str) -> str | None:
        return None  # MLflow keeps no owner; [tool.mlgate] owner names it

    def history(self, model: str, alias: str) -> list[str]:
        """The versions mlgate moved ``alias`` through, rolled-back ones removed (last: current)."""
        if self.audit is None or not self.audit.path.exists():
            return []
        events = [e["data"] for e in self.audit.find(model=model) if e.get("event") in MOVES
                  and e["data"].get("registry") == "mlflow" and e["data"].get("alias") == alias]
        if events and events[0].get("from"):
            events.insert(0, {"alias": alias, "action": "assign", "to": events[0]["from"]})
        return alias_stack({"history": events}, alias)

    # -- changing

    def promote(self, record: dict[str, Any], alias: str, *, start: dict[str, Any] | None, by: str,
                reason: str) -> dict[str, Any]:
        """Point ``alias`` at the candidate version the decision evaluated (compare and set)."""
        model = record["model"]
        if not start or "aliases" not in start:
            why = (start or {}).get("error", "none recorded")
            raise MlgateError(f"promote: no snapshot of {model}'s aliases from the start of the run ({why}); "
                              "not moving an alias that may have moved")
        expected = start["aliases"].get(alias)
        candidate = record["artifacts"]["candidate"]
        lineage = candidate.get("lineage") or {}
        if lineage.get("registry") != "mlflow" or not lineage.get("version"):
            raise MlgateError(f"promote: with registry = \"mlflow\" the candidate must be a models:/ URI "
                              f"(got {candidate.get('spec')!r}); register it as a model version first")
        if lineage["name"] != model:
            raise MlgateError(f"promote: the candidate is MLflow model {lineage['name']!r} but "
                              f"[tool.mlgate] model is {model!r}")
        version = lineage["version"]
        entry = model_version(self.client, self.uri, model, None, version)
        pinned = (entry.tags or {}).get(TAG_DIGEST)
        if pinned != candidate["sha256"]:
            raise MlgateError(f"promote: mlflow model {model!r} version {version}: artifact digest changed since "
                              f"the decision (registered {pinned}, evaluated {candidate['sha256']})")
        return self._move(model, alias, version, expected=expected, by=by, reason=reason, action="promote",
                          decision=record.get("decision"), sha256=candidate["sha256"],
                          approvals=record.get("approvals_used") or [])

    def rollback(self, model: str, alias: str, to: str | None = None, *, expected: str | None = None,
                 by: str, reason: str) -> dict[str, Any]:
        """Move ``alias`` back to the version mlgate moved it from (or ``to``, an earlier holder)."""
        if not reason or not reason.strip():
            raise MlgateError(f"mlflow: rollback of {model}@{alias} needs a reason")
        current = self.holder(model, alias)
        if expected is not None and current != expected:
            raise MlgateError(f"mlflow: {model}@{alias} is {current} but the run evaluated {expected}; "
                              "nothing rolled back")
        stack = self.history(model, alias)
        if not stack or stack[-1] != current:
            raise MlgateError(f"mlflow: {model}@{alias} is {current}, but the audit log last moved it to "
                              f"{stack[-1] if stack else 'nothing'}: it was moved outside mlgate; nothing rolled back")
        to = to.removeprefix("v") if to else None
        if to is None:
            if len(stack) < 2:
                raise MlgateError(f"mlflow: {model}@{alias} has no earlier version to roll back to "
                                  f"(history: {', '.join(stack)})")
            to = stack[-2]
        elif to not in stack[:-1]:
            raise MlgateError(f"mlflow: {model} version {to} never was {alias} (held: {', '.join(stack)}); "
                              "promote it through the gates instead")
        model_version(self.client, self.uri, model, None, to)  # deleted since: refused here
        return self._move(model, alias, to, expected=current, by=by, reason=reason, action="rollback")

    def _move(self, model: str, alias: str, version: str, *, expected: str | None, **event: Any) -> dict[str, Any]:
        """Compare and set: refuse when ``alias`` is not ``expected``; audit the move."""
        current = self.holder(model, alias)
        if current != expected:
            raise MlgateError(f"mlflow: {model}@{alias} moved since the run started (was {expected or 'unset'}, "
                              f"now {current or 'unset'}); not moving it to version {version}")
        self.call(f"set {model}@{alias}", self.client.set_registered_model_alias, model, alias, version)
        data = {"registry": "mlflow", "alias": alias, "from": current, "to": version, "at": now(), **event}
        if self.audit is not None:
            self.audit.append(event["action"], data, model=model)
        return data

    # -- decisions

    def log_decision(self, record: dict[str, Any], entry: dict[str, Any],
                     render: Any = None) -> dict[str, Any] | None:
        from pytest_mlgate.lifecycle.mlflow_decisions import log_decision

        return log_decision(self, record, entry, render)

    def verify(self, entries: list[dict[str, Any]]) -> list[str]:
        from pytest_mlgate.lifecycle.mlflow_decisions import verify_tags

        return verify_tags(self, entries)
