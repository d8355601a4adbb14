"""A model's history across registry versions, read from the audit trail.

Every gate decision is in the audit log with every check's numbers and the candidate's sha256;
the registry maps each sha256 to a version. Joining the two keeps each decision's checks per
registry version without a second store that could disagree with the log.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
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
    return [v["version"] for v in decided], _rows([(v["version"], v["decisions"][-1]) for v in decided])


def _rows(columns: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for label, decision in columns:
        for name, value in decision["checks"].items():
            rows.setdefault(name, {"check": name})[label] = value
    return [*rows.values(), {"check": "decision", **{label: d["decision"] for label, d in columns}}]


def for_report(settings: Settings, record: dict[str, Any], last: int = 5,
               newest: Callable[[], Iterator[dict[str, Any]]] | None = None) -> dict[str, Any] | None:
    """The history the HTML report charts: the last versions' checks and, unless it is one of them,
    this run's candidate as the last column. None for a model without registered history.

    ``newest()`` gives the model's decision entries newest first (default: read from the audit log);
    they are read only as far back as the answer needs.
    """
    model = record.get("model")
    if not model or record.get("stage") != "push":
        return None
    try:
        decided = _recent(settings, model, last, newest)
    except (MlgateError, OSError):  # an unreadable registry or trail: the report goes out without history
        return None
    if not decided:
        return None
    columns = [(version["version"], decision) for version, decision in decided]
    sha = ((record.get("artifacts") or {}).get("candidate") or {}).get("sha256")
    if sha not in {version["sha256"] for version, _ in decided}:
        columns.append(("candidate", _decision({"data": record})))
    return {"versions": [label for label, _ in columns], "rows": _rows(columns)}


def _recent(settings: Settings, model: str, last: int,
            newest: Callable[[], Iterator[dict[str, Any]]] | None) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The last ``last`` registry versions with a push decision, each with its latest one (as
    :func:`versions` has them). Read newest first, the trail is walked back until each of the
    versions from the newest on has a decision, ``last`` of them or all."""
    from pytest_mlgate.lifecycle.audit import open_log
    from pytest_mlgate.lifecycle.registry import open_registry

    registry = open_registry(settings, audit=False)
    if model not in registry.models():
        return []
    listed = registry.index(model)["versions"]
    shas = {version["sha256"] for version in listed}
    latest: dict[str, dict[str, Any]] = {}
    for entry in newest() if newest else open_log(settings).newest("decision", model):
        data = entry.get("data") or {}
        sha = ((data.get("artifacts") or {}).get("candidate") or {}).get("sha256")
        if sha in shas and sha not in latest and data.get("stage", "push") == "push":
            latest[sha] = _decision(entry)
            if _settled(listed, latest, last):
                break
    decided = [version for version in listed if version["sha256"] in latest][-last:]
    return [(version, latest[version["sha256"]]) for version in decided]


def _settled(listed: list[dict[str, Any]], latest: dict[str, Any], last: int) -> bool:
    """Whether older entries can no longer change which versions are the last ``last`` with a decision."""
    found = 0
    for version in reversed(listed):
        if version["sha256"] not in latest:
            return False
        found += 1
        if found == last:
            return True
    return True
