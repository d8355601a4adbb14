"""A model's history across registry versions, read from the audit trail.

Every gate decision is in the audit log with every check's numbers and the candidate's sha256;
the registry maps each sha256 to a version. Joining the two keeps each decision's checks per
registry version without a second store that could disagree with the log.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from pytest_mlgate.errors import MlgateError

if TYPE_CHECKING:
    from pytest_mlgate.config import Settings

AGAINST = re.compile(r"best_of_last:([1-9][0-9]{0,2})")


def parse_against(value: str | None, ratchet: int | None = None) -> int | None:
    """``"baseline"`` -> None; ``"best_of_last:N"`` -> N; None -> the ``ratchet`` setting (0: off)."""
    if value is None:
        return ratchet or None
    if value == "baseline":
        return None
    match = AGAINST.fullmatch(str(value))
    if not match:
        raise MlgateError(f"no_regression: against must be 'baseline' or 'best_of_last:N' (N >= 1), got {value!r}")
    return int(match.group(1))


def versions(settings: Settings, model: str) -> list[dict[str, Any]]:
    """Each registry version of ``model`` (oldest first) with its push decisions from the audit log.

    Every item: ``version``, ``sha256``, ``registered``, ``decisions`` (seq, at, decision, checks
    as ``{name: candidate value}`` and ``thresholds``), ``approved`` (an approved push decision
    exists for its sha256).
    """
    from pytest_mlgate.lifecycle.audit import open_log
    from pytest_mlgate.lifecycle.registry import open_registry

    registry = open_registry(settings, audit=False)
    if model not in registry.models():
        return []
    by_sha: dict[str, list[dict[str, Any]]] = {}
    for entry in open_log(settings).find("decision", model):
        data = entry.get("data") or {}
        sha = ((data.get("artifacts") or {}).get("candidate") or {}).get("sha256")
        if sha and data.get("stage", "push") == "push":
            by_sha.setdefault(sha, []).append(_decision(entry))
    found = []
    for version in registry.index(model)["versions"]:
        decisions = by_sha.get(version["sha256"], [])
        found.append({"version": version["version"], "sha256": version["sha256"],
                      "registered": version.get("registered"), "decisions": decisions,
                      "approved": any(d["decision"] == "approved" for d in decisions)})
    return found


def _decision(entry: dict[str, Any]) -> dict[str, Any]:
    data = entry["data"]
    checks: dict[str, Any] = {}
    for gate in data.get("gates") or []:
        for check in gate.get("checks") or []:
            if check.get("candidate") is not None:
                checks[f"{_short(gate['gate'])}: {check['name']}"] = check["candidate"]
    return {"seq": entry.get("seq"), "at": entry.get("at"), "decision": data.get("decision"), "checks": checks}


def _short(nodeid: str) -> str:
    return nodeid.rpartition("::")[2] or nodeid


def last_approved(settings: Settings, model: str, n: int, exclude_sha: str | None = None) -> list[dict[str, Any]]:
    """The last ``n`` registry versions (newest last) that an approved push decision passed."""
    approved = [v for v in versions(settings, model) if v["approved"] and v["sha256"] != exclude_sha]
    return approved[-n:]


def table(settings: Settings, model: str, last: int = 5) -> tuple[list[str], list[dict[str, Any]]]:
    """The last ``last`` versions with a decision, and one row per check: ``{"check", vN: value, ...}``.

    A version's values are those of its latest push decision.
    """
    decided = [v for v in versions(settings, model) if v["decisions"]][-last:]
    labels = [v["version"] for v in decided]
    rows: dict[str, dict[str, Any]] = {}
    for version in decided:
        latest = version["decisions"][-1]
        for name, value in latest["checks"].items():
            rows.setdefault(name, {"check": name})[version["version"]] = value
    decisions = {"check": "decision", **{v["version"]: v["decisions"][-1]["decision"] for v in decided}}
    return labels, [*rows.values(), decisions]
