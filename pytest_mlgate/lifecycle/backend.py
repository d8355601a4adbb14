"""The one interface promotion, rollback, decision logging and audit verification go through.

``[tool.mlgate] registry`` picks the backend: ``"mlflow"`` is the MLflow Model Registry
(:mod:`pytest_mlgate.lifecycle.registry_mlflow`); anything else is the directory of the embedded
file registry (the default). A new backend (SageMaker, Vertex, a database) implements
:class:`Backend` and is returned by :func:`open_backend`; the README shows how.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pytest_mlgate.errors import MlgateError
from pytest_mlgate.evaluate.hashing import sha256_file

if TYPE_CHECKING:
    from pytest_mlgate.config import Settings
    from pytest_mlgate.lifecycle.registry import Registry

MLFLOW = "mlflow"


class Backend(Protocol):
    """What the gate asks of a model registry. Every method raises a one-line MlgateError on failure."""

    def aliases(self, model: str) -> dict[str, str]:
        """Every alias of ``model`` and the version it points at now."""

    def owner(self, model: str) -> str | None:
        """The owner recorded for ``model``, if any."""

    def promote(self, record: dict[str, Any], alias: str, *, start: dict[str, Any] | None, by: str,
                reason: str) -> dict[str, Any]:
        """Point ``alias`` at the record's candidate. ``start`` is the run's alias snapshot
        (``{"aliases": {...}}``): a backend without atomic moves refuses an alias that changed since.

        Returns the audited event (``alias``, ``from``, ``to``, ``at``, ``by``, ``reason``).
        """

    def rollback(self, model: str, alias: str, to: str | None = None, *, expected: str | None = None,
                 by: str, reason: str) -> dict[str, Any]:
        """Move ``alias`` back to its previous holder (or ``to``, a version that held it before)."""

    def log_decision(self, record: dict[str, Any], entry: dict[str, Any],
                     render: Callable[[dict[str, Any]], dict[str, str]] | None = None) -> dict[str, Any] | None:
        """Publish a decision (already in the audit log as ``entry``) where the registry's users look;
        ``render(record)`` gives report texts by file name to attach."""

    def verify(self, entries: list[dict[str, Any]]) -> list[str]:
        """Problems where the registry disagrees with the audit log's ``entries`` (empty: agrees)."""


def is_mlflow(settings: Settings) -> bool:
    return settings.registry == MLFLOW


def open_backend(settings: Settings, audit: bool = True) -> Backend:
    """The configured backend, recording its changes in the audit log unless ``audit`` is false."""
    from pytest_mlgate.lifecycle.audit import open_log

    log = open_log(settings) if audit else None
    if is_mlflow(settings):
        from pytest_mlgate.evaluate.frameworks.mlflow_source import tracking_uri
        from pytest_mlgate.lifecycle.registry_mlflow import MlflowBackend

        return MlflowBackend(tracking_uri(settings), log, settings)
    from pytest_mlgate.lifecycle.registry import Registry

    return FileBackend(Registry(settings.path(settings.registry), log), settings)


class FileBackend:
    """The embedded file registry behind :class:`Backend` (its behaviour unchanged)."""

    def __init__(self, registry: Registry, settings: Settings):
        self.registry = registry
        self.settings = settings

    def aliases(self, model: str) -> dict[str, str]:
        return dict(self.registry.index(model)["aliases"]) if model in self.registry.models() else {}

    def owner(self, model: str) -> str | None:
        return self.registry.index(model).get("owner") if model in self.registry.models() else None

    def promote(self, record: dict[str, Any], alias: str, *, start: dict[str, Any] | None, by: str,
                reason: str) -> dict[str, Any]:
        """Register the candidate file if needed, then move the alias (under the registry lock)."""
        model, candidate = record["model"], record["artifacts"]["candidate"]
        sha256 = candidate["sha256"]
        entry = self.registry.find_sha(model, sha256)
        if entry is None:
            path = Path(candidate.get("path", ""))
            if not path.is_file() or sha256_file(path) != sha256:
                raise MlgateError(f"promote: candidate {path} is gone or changed since the decision (sha256 {sha256})")
            entry = self.registry.register(model, path, owner=record.get("owner") or self.settings.owner, by=by,
                                           metadata=version_metadata(record))
        return self.registry.set_alias(model, alias, entry["version"], by=by, reason=reason, action="promote",
                                       decision=record.get("decision"), sha256=sha256,
                                       approvals=record.get("approvals_used") or [])

    def rollback(self, model: str, alias: str, to: str | None = None, *, expected: str | None = None,
                 by: str, reason: str) -> dict[str, Any]:
        current = self.aliases(model).get(alias)
        if expected is not None and current != expected:
            raise MlgateError(f"registry: {model}@{alias} is {current} but the run evaluated {expected}; "
                              "nothing rolled back")
        return self.registry.rollback(model, alias, to, by=by, reason=reason)

    def log_decision(self, record: dict[str, Any], entry: dict[str, Any],
                     render: Callable[[dict[str, Any]], dict[str, str]] | None = None) -> dict[str, Any] | None:
        return None  # the audit log is this registry's decision record

    def verify(self, entries: list[dict[str, Any]]) -> list[str]:
        return []


def version_metadata(record: dict[str, Any]) -> dict[str, Any]:
    """What a promoted version keeps from its decision: commit, dataset fingerprints, measured metrics."""
    metrics = {f"{c['name']}": c["candidate"] for g in record.get("gates", []) for c in g.get("checks", [])
               if c.get("candidate") is not None}
    return {"git_commit": record.get("git_commit"), "datasets": record.get("datasets"), "metrics": metrics,
            "decision": record.get("decision"), "decided": record.get("finished")}
