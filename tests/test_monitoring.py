"""The monitoring stage end to end: a logged window, late labels, alerts and automatic rollback."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from conftest import make_frame
from sklearn.metrics import roc_auc_score
from webhook_receiver import Receiver, closed_port_url

from pytest_mlgate.checks import monitoring
from pytest_mlgate.errors import MlgateError
from pytest_mlgate.evaluate.models import Dataset
from pytest_mlgate.lifecycle.audit import AuditLog
from pytest_mlgate.lifecycle.registry import Registry
from pytest_mlgate.monitoring import predlog, window

GATES = """
import pytest

pytestmark = pytest.mark.gate(stage="monitor")

def test_service_health(mlgate):
    mlgate.latency(p95=2000)
    mlgate.error_rate(0.05)
    mlgate.resources(max_rss_mb=16384, max_queue=100000)

def test_no_production_drift(mlgate):
    mlgate.no_production_drift()

def test_live_auc(mlgate):
    mlgate.live_metric("roc_auc", max_drop=0.08)

@pytest.mark.gate(stage="push")
def test_push_only(candidate):
    raise AssertionError("push gates must not run in the monitor stage")
"""


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.stop()


def traffic(n: int, seed: int, drift: bool) -> pd.DataFrame:
    """Production requests with late labels; drifted traffic shifts income and reverses its effect."""
    frame = make_frame(n, seed=seed)
    if drift:
        rng = np.random.default_rng(seed + 100)
        frame["income"] = frame["income"] + 1.5
        logit = -1.5 * frame["income"] - 1.2 * frame["debt"]
        frame["defaulted"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


class Monitored:
    """A gate project whose production alias went v1 (strong) -> v2 (good) and that logs traffic."""

    def __init__(self, project, alerts: str = ""):
        self.project = project
        self.path = project.path
        self.registry = Registry(self.path / ".mlgate" / "registry", AuditLog(self.path / ".mlgate" / "audit.jsonl"))
        for version, name in (("v1", "strong"), ("v2", "good")):
            self.registry.register("credit-risk", self.path / f"{name}.skops", owner="risk-ml@example.org", by="ci")
            self.registry.set_alias("credit-risk", "production", version, by="ci", reason="gate approved")
        project.configure(candidate="good.skops", baseline="registry:credit-risk@production", extra=alerts,
                          datasets='holdout = "holdout.csv"\nreference = "train.parquet"\n'
                                   'current = "predlog:logs/predictions.sqlite?window=24h"')
        project.gates(GATES)

    def log(self, frame: pd.DataFrame, label_share: float = 1.0, prefix: str = "r") -> list[str]:
        """Serve ``frame`` through production v2 with the prediction logger, then add late labels."""
        path, entry = self.registry.artifact("credit-risk", "production")
        ids = [f"{prefix}{i}" for i in range(len(frame))]
        model = sio.load(path)
        inputs = frame[list(model.feature_names_in_)]
        with predlog.PredictionLogger(model, self.path / "logs" / "predictions.sqlite",
                                      version=entry["version"], sha256=entry["sha256"]) as logger:
            for start in range(0, len(frame), 50):
                logger.predict(inputs.iloc[start:start + 50], request_id=ids[start:start + 50])
        labelled = frame.assign(request_id=ids).iloc[: int(len(frame) * label_share)]
        window.add_labels(self.path / "logs" / "predictions.sqlite", labelled, label_column="defaulted")
        return ids

    def run(self, *args: str):
        return self.project.run("--mlgate-stage", "monitor", *args)

    def alias(self) -> str:
        return self.registry.index("credit-risk")["aliases"]["production"]


def test_clean_window_passes_and_sends_no_alert(project, receiver):
    monitored = Monitored(project, f'[tool.mlgate.alerts]\nwebhook = "{receiver.url}"\n')
    monitored.log(traffic(600, seed=11, drift=False))
    result = monitored.run("--mlgate-auto-rollback")
    result.assert_outcomes(passed=3, deselected=1)
    decision = project.decision
    assert decision["decision"] == "approved" and decision["stage"] == "monitor"
    # the monitor stage evaluates production (v2), not the candidate file
    assert decision["artifacts"]["candidate"]["version"] == "v2"
    assert decision["monitor"] == {"resolved": 0}
    health = {c["name"]: c for c in decision["gates"][0]["checks"]}
    assert health["rss_mb_max[current]"]["outcome"] == "passed" and health["rss_mb_max[current]"]["candidate"] > 10
    assert receiver.received == [] and monitored.alias() == "v2"


def test_drifted_window_alerts_and_rolls_production_back(project, receiver):
    monitored = Monitored(project, f'[tool.mlgate.alerts]\nwebhook = "{receiver.url}"\n')
    monitored.log(traffic(600, seed=12, drift=True))
    result = monitored.run("--mlgate-auto-rollback")
    result.assert_outcomes(passed=1, failed=2, deselected=1)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*mlgate decision: REJECTED*",
                                 "mlgate monitor: automatic rollback: production moved from v2 back to v1",
                                 "mlgate alert: hook delivered", "mlgate alert: webhook delivered",
                                 "mlgate alert: file delivered"])
    assert monitored.alias() == "v1"
    [rollback] = [e for e in AuditLog(project.path / ".mlgate" / "audit.jsonl").entries() if e["event"] == "rollback"]
    assert rollback["data"]["from"] == "v2" and rollback["data"]["to"] == "v1"
    assert rollback["data"]["by"] == "mlgate monitor" and "monitoring run rejected" in rollback["data"]["reason"]
    [got] = receiver.received
    text = got["json"]["text"]
    assert "credit-risk in production is REJECTED" in text and "production moved from v2 back to v1" in text
    assert "test_no_production_drift" in text and "test_live_auc" in text and "concept_drift[roc_auc, " in text
    assert "prediction_drift[production]" in text and "model 'production' dropped" in text
    assert {g["gate"].split("::")[-1] for g in got["json"]["mlgate"]["failing"]} == {
        "test_no_production_drift", "test_live_auc"}
    assert project.decision["monitor"]["rollback"]["to"] == "v1"


def test_unreachable_webhook_is_reported_and_does_not_change_the_outcome(project):
    monitored = Monitored(project, f'[tool.mlgate.alerts]\nwebhook = "{closed_port_url()}"\nretries = 1\n')
    monitored.log(traffic(300, seed=13, drift=True))
    result = monitored.run()
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*mlgate decision: REJECTED*",
                                 "mlgate alert: webhook delivery FAILED after 2 attempt(s): *refused*",
                                 "mlgate alert: file delivered"])
    decision = project.decision
    assert decision["decision"] == "rejected" and decision["monitor"]["rollback"] is None
    webhook = [d for d in decision["monitor"]["alert"]["deliveries"] if d["channel"] == "webhook"][0]
    assert webhook["ok"] is False and webhook["attempts"] == 2
    assert monitored.alias() == "v2"  # no rollback without --mlgate-auto-rollback
    [line] = (project.path / ".mlgate" / "alerts.jsonl").read_text().splitlines()
    assert json.loads(line)["decision"] == "rejected"


def test_repeated_alerts_are_suppressed_until_the_condition_resolves(project, receiver):
    monitored = Monitored(project, f'[tool.mlgate.alerts]\nwebhook = "{receiver.url}"\ndedupe_window = "1d"\n')
    project.pytester.makeconftest("""
def pytest_mlgate_alert(alert, config):
    with open("hook-alerts.txt", "a") as fh:
        fh.write(alert.key + "\\n")
""")
    monitored.log(traffic(300, seed=14, drift=True))
    assert monitored.run().ret == 1
    second = monitored.run()
    assert second.ret == 1
    second.stdout.fnmatch_lines(["mlgate alert: suppressed, same condition already alerted (2 occurrences, *"])
    assert len(receiver.received) == 1
    assert len((project.path / "hook-alerts.txt").read_text().splitlines()) == 1
    assert project.decision["monitor"]["alert"]["suppressed"] is True


def test_labels_joined_by_id_produce_the_right_metric(project):
    monitored = Monitored(project)
    frame = traffic(400, seed=15, drift=False)
    ids = monitored.log(frame, label_share=0.5)
    project.gates("""
import pytest

@pytest.mark.gate(stage="monitor")
def test_live_auc(mlgate):
    mlgate.live_metric("roc_auc", max_drop=0.5)
""")
    monitored.run().assert_outcomes(passed=1)
    check, sequence = project.decision["gates"][0]["checks"]  # the fixed-sample check and its sequence
    assert sequence["name"] == "sequential[current labelled, live roc_auc]" and sequence["candidate"] == check["candidate"]
    model = sio.load(monitored.registry.artifact("credit-risk", "v2")[0])
    labelled = frame.iloc[:200]
    inputs = list(model.feature_names_in_)
    expected = roc_auc_score(labelled["defaulted"], model.predict_proba(labelled[inputs])[:, 1])
    assert check["details"]["rows"] == 200 and check["dataset"] == "current[labelled]"
    assert check["candidate"] == pytest.approx(expected, abs=1e-12)
    holdout = pd.read_csv(project.path / "holdout.csv")
    assert check["baseline"] == pytest.approx(roc_auc_score(holdout["defaulted"],
                                                            model.predict_proba(holdout[inputs])[:, 1]))
    assert ids[0] == "r0"


def test_too_few_labels_are_reported_not_passed(project):
    monitored = Monitored(project)
    monitored.log(traffic(200, seed=16, drift=False), label_share=0.05)
    project.gates("""
import pytest

@pytest.mark.gate(stage="monitor")
def test_live_auc(mlgate):
    mlgate.live_metric("roc_auc", max_drop=0.05)
""")
    monitored.run().assert_outcomes(passed=1)
    [check] = project.decision["gates"][0]["checks"]
    assert check["outcome"] == "too_small" and "10 rows < 30" in check["message"]


def _window(latency_ms, errors=None) -> Dataset:
    n = len(latency_ms)
    return Dataset("current", pd.DataFrame({"latency_ms": latency_ms, "error": errors or [None] * n}))


def test_latency_percentiles_carry_the_numbers():
    data = _window(list(np.linspace(1.0, 100.0, 100)))
    p50, p99 = monitoring.latency(data, {"p50": 60.0, "p99": 90.0})
    assert p50.outcome == "passed" and p50.candidate == pytest.approx(50.5)
    assert p99.outcome == "failed" and p99.message == "latency p99 99 ms > 90 ms over 100 logged predictions"
    assert [row["percentile"] for row in p99.details["table"]] == ["p50", "p90", "p95", "p99"]
    [small] = monitoring.latency(_window([1.0] * 10), {"p95": 5.0})
    assert small.outcome == "too_small"
    with pytest.raises(MlgateError, match="percentile names look like p50"):
        monitoring.latency(data, {"median": 5.0})
    with pytest.raises(MlgateError, match="needs? a prediction-log window|no 'latency_ms' column"):
        monitoring.latency(Dataset("holdout", pd.DataFrame({"x": [1]})), {"p95": 1.0})


def test_error_rate_counts_failed_predictions():
    errors = ["ValueError('bad')"] * 3 + [None] * 97
    check = monitoring.error_rate(_window([1.0] * 100, errors), 0.01)
    assert check.outcome == "failed" and check.candidate == pytest.approx(0.03)
    assert check.message == "error rate 0.03 (3 of 100 predictions) > 0.01"
    assert check.ci[0] < 0.03 < check.ci[1]
    assert check.details["table"] == [{"error": "ValueError", "count": 3}]
    assert monitoring.error_rate(_window([1.0] * 100, errors), 0.05).outcome == "passed"


def _record(decision: str, evaluated: str | None = "v2") -> dict:
    gate = {"gate": "gates/test_m.py::test_drift", "severity": "block", "outcome": "failed",
            "message": "data_drift: income drifted (psi 0.31)"}
    return {"model": "credit-risk", "decision": decision, "stage": "monitor", "reasons": [gate["message"]],
            "gates": [gate], "artifacts": {"baseline": {"spec": "registry:credit-risk@production",
                                                        "version": evaluated, "sha256": "ab" * 32}}}


def _registry_settings(tmp_path, **extra):
    from pytest_mlgate.config import build

    registry = Registry(tmp_path / ".mlgate" / "registry", AuditLog(tmp_path / ".mlgate" / "audit.jsonl"))
    for i in (1, 2):
        (tmp_path / f"m{i}.skops").write_bytes(f"model {i}".encode())
        registry.register("credit-risk", tmp_path / f"m{i}.skops", owner="o", by="ci")
        registry.set_alias("credit-risk", "production", f"v{i}", by="ci", reason="approved")
    table = {"model": "credit-risk", "stage": "monitor", "baseline": "registry:credit-risk@production", **extra}
    return build(tmp_path, table), registry


def test_rollback_refuses_when_production_moved_or_is_not_an_alias(tmp_path):
    from pytest_mlgate.monitoring import monitor

    settings, registry = _registry_settings(tmp_path, auto_rollback=True)
    moved = monitor.roll_back(settings, _record("rejected", evaluated="v1"))
    assert moved["error"] == "credit-risk@production is v2 but the run evaluated v1; nothing rolled back"
    assert registry.index("credit-risk")["aliases"]["production"] == "v2"
    pinned = monitor.roll_back(replace(settings, baseline="registry:credit-risk@v2"), _record("rejected"))
    assert pinned["error"].startswith("production is pinned to registry:credit-risk@v2")
    plain = monitor.roll_back(replace(settings, baseline="prod.skops"), _record("rejected"))
    assert plain["error"] == "production (baseline = 'prod.skops') is not a registry alias; nothing rolled back"
    done = monitor.roll_back(settings, _record("rejected"))
    assert (done["from"], done["to"]) == ("v2", "v1")
    again = monitor.roll_back(settings, _record("rejected", evaluated="v1"))
    assert "no earlier version to roll back to" in again["error"]


def test_needs_review_alerts_without_rolling_back_and_push_runs_do_nothing(tmp_path):
    from pytest_mlgate.monitoring import monitor

    settings, registry = _registry_settings(tmp_path, auto_rollback=True)
    seen = []
    outcome = monitor.after_run(settings, _record("needs-review"), seen.append)
    assert outcome["rollback"] is None and outcome["alert"]["sent"]
    assert [a.decision for a in seen] == ["needs-review"] and "income drifted (psi 0.31)" in seen[0].text
    assert registry.index("credit-risk")["aliases"]["production"] == "v2"
    push = replace(settings, stage="push")
    assert monitor.after_run(push, _record("rejected"), seen.append) is None and len(seen) == 1


def test_bad_alert_settings_stop_a_monitor_run_before_any_gate(project):
    project.configure(extra='[tool.mlgate.alerts]\nwebhook = "hooks.example.org/x"\n')
    project.gates(GATES)
    result = project.run("--mlgate-stage", "monitor")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "mlgate config: [tool.mlgate.alerts] key 'webhook' must be an http(s) URL" in result.stderr.str()
    assert project.run().ret == pytest.ExitCode.USAGE_ERROR  # a push run checks every sub-table too


def test_resource_use_judges_peak_memory_and_cpu():
    samples = pd.DataFrame({"pid": [1, 1, 2], "rss_mb": [120.0, 310.5, 200.0], "cpu_percent": [20.0, 35.0, 90.0],
                            "queue": [0, 3, 1]})
    rss, cpu, queue = monitoring.resource_use(samples, {"max_rss_mb": 256, "max_cpu_percent": 95,
                                                        "max_queue": 10}, "current")
    assert rss.outcome == "failed" and rss.candidate == 310.5
    assert rss.message == "rss_mb max 310.5 MB > 256 MB over 3 samples from 2 process(es)"
    assert cpu.outcome == "passed" and cpu.candidate == pytest.approx(np.percentile([20, 35, 90], 95))
    assert queue.outcome == "passed" and queue.threshold == "<= 10 rows"
    [empty] = monitoring.resource_use(samples.iloc[:0], {"max_rss_mb": 256}, "current")
    assert empty.outcome == "too_small" and "no resource samples" in empty.message


def test_alert_without_failing_gates_carries_the_reasons_and_a_broken_state_does_not_stop_alerts(tmp_path):
    from pytest_mlgate.monitoring import monitor

    settings, _ = _registry_settings(tmp_path)
    record = {**_record("rejected"), "gates": [], "reasons": ["no gates ran"]}
    seen = []
    outcome = monitor.after_run(settings, record, seen.append)
    assert seen[0].text.splitlines() == ["mlgate monitor: credit-risk in production is REJECTED", "- no gates ran"]
    assert outcome["alert"]["sent"]
    state = tmp_path / ".mlgate" / "alerts-state.json"
    state.write_text("{not json")
    again = monitor.after_run(settings, _record("rejected"), seen.append)
    assert again["alert"]["sent"] and len(seen) == 2
    assert json.loads(state.read_text())[again["alert"]["key"]]["count"] == 1  # rewritten
