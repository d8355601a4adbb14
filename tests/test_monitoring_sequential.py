"""The monitor stage with estimated performance and anytime-valid evidence, end to end."""

from __future__ import annotations

import time

import pandas as pd
import skops.io as sio
from conftest import make_frame

from pytest_mlgate.lifecycle.audit import AuditLog
from pytest_mlgate.lifecycle.registry import Registry
from pytest_mlgate.monitoring import predlog

GATES = """
import pytest

pytestmark = pytest.mark.gate(stage="monitor")

def test_estimated_auc(mlgate):
    mlgate.estimated_metric("roc_auc", max_drop=0.05)
"""
DAY = 86400.0


class Production:
    """A project whose production alias went v1 -> v2; traffic is logged with chosen timestamps."""

    def __init__(self, project):
        self.project, self.path = project, project.path
        self.audit = AuditLog(self.path / ".mlgate" / "audit.jsonl")
        self.registry = Registry(self.path / ".mlgate" / "registry", self.audit)
        for version, name in (("v1", "strong"), ("v2", "good")):
            self.registry.register("credit-risk", self.path / f"{name}.skops", owner="risk-ml@example.org", by="ci")
            self.registry.set_alias("credit-risk", "production", version, by="ci", reason="gate approved")
        project.configure(candidate="good.skops", baseline="registry:credit-risk@production",
                          extra='auto_rollback = true\nhtml = "reports/gates.html"\n',
                          datasets='holdout = "holdout.csv"\nreference = "train.parquet"\n'
                                   'current = "predlog:logs/predictions.sqlite?window=24h"')
        project.gates(GATES)

    def log(self, frame: pd.DataFrame, start: float, prefix: str) -> None:
        """Serve ``frame`` through production, one request every minute from ``start``; no labels."""
        path, entry = self.registry.artifact("credit-risk", "production")
        model = sio.load(path)
        inputs = frame[list(model.feature_names_in_)]
        with predlog.PredictionLogger(model, self.path / "logs" / "predictions.sqlite", version=entry["version"],
                                      sha256=entry["sha256"]) as logger:
            for i in range(len(frame)):
                logger.predict(inputs.iloc[[i]], request_id=f"{prefix}{i}", timestamp=start + 60 * i)

    def monitor(self, start: float):
        spec = f"current=predlog:logs/predictions.sqlite?start={start:.0f}&end={start + DAY:.0f}"
        return self.project.run("--mlgate-stage", "monitor", "--mlgate-dataset", spec)

    def alias(self) -> str:
        return self.registry.index("credit-risk")["aliases"]["production"]


def shifted(n: int, seed: int) -> pd.DataFrame:
    """Applicants far more alike than before (a covariate shift): the same model separates them worse."""
    frame = make_frame(n, seed=seed)
    for column in ("income", "debt", "age"):
        frame[column] = frame[column] * 0.25
    return frame


def test_estimated_auc_falls_before_labels_arrive_and_production_is_rolled_back(project):
    production = Production(project)
    day1, day2 = time.time() - 3 * DAY, time.time() - 2 * DAY
    production.log(make_frame(600, seed=21), day1, "a")
    first = production.monitor(day1)
    first.assert_outcomes(passed=1)
    checks = {c["name"]: c for c in project.decision["gates"][0]["checks"]}
    assert checks["estimated_drop[current, roc_auc]"]["outcome"] == "passed"
    assert checks["sequential[current, estimated roc_auc]"]["details"]["looks"] == 1
    assert all(name.count("[") == 1 for name in checks), list(checks)  # flat row names, no nested brackets
    assert production.alias() == "v2"

    production.log(shifted(600, seed=22), day2, "b")
    second = production.monitor(day2)
    second.assert_outcomes(failed=1)
    checks = {c["name"]: c for c in project.decision["gates"][0]["checks"]}
    drop, sequence = checks["estimated_drop[current, roc_auc]"], checks["sequential[current, estimated roc_auc]"]
    assert drop["outcome"] == "failed" and "no labels yet" in drop["message"]
    assert drop["baseline"] - drop["candidate"] > 0.1
    assert sequence["outcome"] == "failed" and sequence["details"]["looks"] == 2
    assert sequence["details"]["evidence"] >= 20 and sequence["details"]["anytime_valid"]
    html = (project.path / "reports" / "gates.html").read_text()
    assert html.count('class="chart chart-sequence-values"') == 1 and "chart-sequence-evidence" in html
    assert html.count('<circle cx=') >= 2 * 2  # value and floor on both runs at least
    second.stdout.fnmatch_lines(["*automatic rollback: production moved from v2 back to v1*"])
    assert production.alias() == "v1"

    # the next day is served by v1: its sequences start afresh, and the audit log says so
    production.log(make_frame(600, seed=25), day2 + DAY, "c")
    production.monitor(day2 + DAY).assert_outcomes(passed=1)
    [reset] = [e for e in production.audit.entries() if e["event"] == "monitor-reset"]
    assert reset["data"]["to"] == project.decision["artifacts"]["candidate"]["sha256"]
    assert project.decision["gates"][0]["checks"][-1]["details"]["looks"] == 1


def test_rerunning_on_the_same_window_adds_no_evidence(project):
    production = Production(project)
    day1 = time.time() - 3 * DAY
    production.log(make_frame(400, seed=23), day1, "a")
    production.monitor(day1).assert_outcomes(passed=1)
    production.monitor(day1).assert_outcomes(passed=1)
    sequence = project.decision["gates"][0]["checks"][-1]
    assert sequence["details"]["looks"] == 1 and not sequence["details"]["folded"]
    assert "not folded" in sequence["message"]


def test_a_fixed_sample_failure_alone_alerts_but_does_not_roll_back(project):
    production = Production(project)
    project.gates(GATES + """

def test_live_floor(mlgate, current):
    mlgate.check("rows_floor", len(current) > 10_000, "fewer rows than wanted (fixed-sample, no evidence)")
""")
    day1 = time.time() - 3 * DAY
    production.log(make_frame(300, seed=24), day1, "a")
    result = production.monitor(day1)
    result.assert_outcomes(passed=1, failed=1)
    assert project.decision["decision"] == "rejected"
    assert "withheld" in project.decision["monitor"]["rollback"]
    result.stdout.fnmatch_lines(["*automatic rollback withheld: no blocking gate failed on anytime-valid evidence*"])
    assert production.alias() == "v2"
