"""Decisions published to MLflow, and checked against the audit log.

Each decision becomes an MLflow run (experiment ``mlgate-MODEL``) holding every check's numbers
as metrics and the decision as JSON, Markdown and HTML artifacts; then the candidate's model
version gets the tags ``mlgate.decision``, ``mlgate.decision_sha256`` (of the audit entry's
decision body) and ``mlgate.audit_entry`` (its sequence number), the last one written last. The
run is finished before any tag points at it, so a failure leaves no tag naming a partial run.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

from pytest_mlgate.errors import MlgateError

TAGS = ("mlgate.decision", "mlgate.decision_sha256", "mlgate.audit_entry")
METRIC_KEY = re.compile(r"[^A-Za-z0-9_\-. :/]")
BATCH = 1000  # MLflow's limit of metrics per log_batch request
Render = Callable[[dict[str, Any]], dict[str, str]]


def decision_sha256(body: dict[str, Any]) -> str:
    """The sha256 of a decision body's canonical JSON (as the audit log serialises it)."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_metrics(record: dict[str, Any]) -> dict[str, float]:
    """``GATE/CHECK/candidate|baseline|delta`` -> value for every number a check measured."""
    metrics: dict[str, float] = {}
    for gate in record.get("gates", []):
        short = gate["gate"].rsplit("::", 1)[-1]
        for check in gate.get("checks", []):
            for field in ("candidate", "baseline", "delta"):
                value = check.get(field)
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    key = METRIC_KEY.sub("_", f"{short}/{check['name']}/{field}")[:250]
                    while key in metrics:
                        key = key[:245] + "_" + str(len(metrics))
                    metrics[key] = float(value)
    return metrics


def candidate_version(record: dict[str, Any]) -> tuple[str, str] | None:
    """(MLflow model name, version) of the record's candidate, when it is an MLflow model version."""
    lineage = ((record.get("artifacts") or {}).get("candidate") or {}).get("lineage") or {}
    if lineage.get("registry") == "mlflow" and lineage.get("version"):
        return lineage["name"], str(lineage["version"])
    return None


def log_decision(backend: Any, record: dict[str, Any], entry: dict[str, Any],
                 render: Render | None = None) -> dict[str, Any]:
    """Log ``record`` (audit entry ``entry``) as a run and as tags on the candidate's model version.

    ``render`` gives the report texts to attach, by file name (the reporting layer supplies it).
    """
    from mlflow.entities import Metric, Param

    mlflow, model = backend.client, record.get("model") or "model"
    found = candidate_version(record)
    experiment = _experiment(backend, f"mlgate-{model}")
    tags = {"mlgate.decision": record["decision"], "mlgate.audit_entry": str(entry["seq"]),
            "mlgate.stage": str(record.get("stage")), "mlflow.runName": f"mlgate {record['decision']}"}
    if found:
        tags["mlgate.model_version"] = f"{found[0]}/{found[1]}"
    run = backend.call("create the decision run", mlflow.create_run, experiment, tags=tags)
    run_id = run.info.run_id
    try:
        stamp = int(run.info.start_time)
        metrics = [Metric(k, v, stamp, 0) for k, v in check_metrics(record).items()]
        params = [Param("decision", record["decision"]), Param("stage", str(record.get("stage"))),
                  Param("candidate_sha256", str(_sha(record, "candidate"))),
                  Param("baseline_sha256", str(_sha(record, "baseline")))]
        for start in range(0, max(len(metrics), 1), BATCH):
            backend.call("log the decision metrics", mlflow.log_batch, run_id,
                         metrics=metrics[start:start + BATCH], params=params if start == 0 else [])
        files = {"mlgate-decision.json": json.dumps(record, indent=2, sort_keys=True, default=str),
                 **(render(record) if render else {})}
        for name, text in files.items():
            backend.call(f"upload {name}", mlflow.log_text, run_id, text, name)
        backend.call("finish the decision run", mlflow.set_terminated, run_id, "FINISHED")
    except BaseException:
        _fail(backend, run_id)
        raise
    outcome = {"run_id": run_id, "experiment_id": experiment, "metrics": len(metrics)}
    if found:
        values = {"mlgate.run_id": run_id, "mlgate.decision_sha256": decision_sha256(entry["data"]),
                  "mlgate.decision": record["decision"], "mlgate.audit_entry": str(entry["seq"])}
        for key, value in values.items():  # mlgate.audit_entry last: present means the rest is too
            backend.call(f"tag {found[0]} version {found[1]}", mlflow.set_model_version_tag,
                         found[0], found[1], key, value)
        outcome["model_version"] = f"{found[0]}/{found[1]}"
    return outcome


def verify_tags(backend: Any, entries: list[dict[str, Any]]) -> list[str]:
    """Problems where a model version's mlgate tags disagree with its latest decision in the log."""
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in entries:
        if entry.get("event") == "decision" and isinstance(entry.get("data"), dict):
            found = candidate_version(entry["data"])
            if found:
                latest[found] = entry
    problems = []
    for (name, version), entry in sorted(latest.items()):
        where = f"mlflow: {name} version {version}"
        try:
            tags = backend.call(where, backend.client.get_model_version, name, version).tags or {}
        except MlgateError as exc:  # a deleted version or a down server is a finding here
            problems.append(str(exc))
            continue
        expected = {"mlgate.decision": entry["data"].get("decision"),
                    "mlgate.decision_sha256": decision_sha256(entry["data"]),
                    "mlgate.audit_entry": str(entry["seq"])}
        for key, value in expected.items():
            if tags.get(key) != value:
                problems.append(f"{where}: tag {key} is {tags.get(key)!r}, audit entry {entry['seq']} says {value!r}")
    return problems


def _experiment(backend: Any, name: str) -> str:
    found = backend.call(f"experiment {name}", backend.client.get_experiment_by_name, name)
    if found is not None:
        return found.experiment_id
    return backend.call(f"create experiment {name}", backend.client.create_experiment, name)


def _sha(record: dict[str, Any], role: str) -> str | None:
    return ((record.get("artifacts") or {}).get(role) or {}).get("sha256")


def _fail(backend: Any, run_id: str) -> None:
    """Best effort: mark a partly logged run FAILED (the server may be the reason it failed)."""
    try:
        backend.client.set_terminated(run_id, "FAILED")
    except Exception:  # noqa: BLE001 - the original error is the one to report
        pass
