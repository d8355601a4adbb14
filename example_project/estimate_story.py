"""Part two of the monitoring simulation: performance falls before any label arrives.

Run by ``simulate_monitoring.py`` after part one, in its own copy (``simulation_estimated/``):

1. deploy: production moves from v1 (the baseline) to v2 (the candidate);
2. day 1: ordinary applicants; the monitor stage estimates the AUC from production's calibrated
   probabilities (``mlgate.estimated_metric``) and it holds (other gates, such as latency on a busy
   machine, may still fail: a fixed-sample failure alerts but does not roll back);
3. day 2: a new broker channel sends applicants who all look alike (salaried, no arrears, similar
   incomes and debt); no outcome is known yet, but the estimated AUC has already fallen, the
   anytime-valid sequence has the evidence, and production is rolled back to v1;
4. the outcomes of day 2 arrive later (``mlgate feedback add``): the realized AUC is set next to
   the estimate on the same window.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from data import credit_frame, outcomes

from pytest_mlgate.config import Settings, build, read_pyproject
from pytest_mlgate.evaluate.loaders import load_model
from pytest_mlgate.lifecycle.registry import open_registry
from pytest_mlgate.monitoring.predlog import PredictionLogger

HERE = Path(__file__).parent / "simulation_estimated"
LOG = "logs/predictions.sqlite"
DAY, REQUESTS = 86400.0, 1440


def alike_applicants(n: int, seed: int) -> pd.DataFrame:
    """Applicants from one channel: the features that tell risk apart barely vary (covariate shift;
    outcomes follow the same risk as before)."""
    rng = np.random.default_rng(seed)
    frame = credit_frame(n, seed=seed)
    frame["late_payments"], frame["employment"], frame["purpose"] = 0, "salaried", "car"
    frame["debt_ratio"] = rng.beta(20, 60, n).round(3)
    frame["credit_history_years"] = rng.gamma(30, 0.3, n).round(1)
    frame["income"] = rng.lognormal(10.6, 0.15, n).round(0)
    frame["defaulted"] = outcomes(frame, rng)
    return frame


def sandbox() -> Settings:
    source = HERE.parent
    shutil.rmtree(HERE, ignore_errors=True)
    (HERE / "gates").mkdir(parents=True)
    shutil.copy(source / "pyproject.toml", HERE / "pyproject.toml")
    shutil.copy(source / "gates" / "test_monitoring.py", HERE / "gates" / "test_monitoring.py")
    for folder in ("data", "models"):
        shutil.copytree(source / folder, HERE / folder)
    return build(HERE, read_pyproject(HERE / "pyproject.toml"), source=str(HERE / "pyproject.toml"))


def deploy(settings: Settings) -> str:
    registry = open_registry(settings)
    for name in ("baseline", "candidate"):
        entry = registry.register(settings.model, HERE / "models" / f"{name}.skops", owner=settings.owner,
                                  by="estimate_story.py")
        registry.set_alias(settings.model, "production", entry["version"], by="estimate_story.py",
                           reason=f"simulated deployment of the {name}")
    return entry["version"]


def serve(settings: Settings, requests: pd.DataFrame, start: float, prefix: str) -> None:
    """The production model answers the day's requests from ``start``, ten at a time every ten minutes
    (one a minute on average), each one logged."""
    path, entry = open_registry(settings, audit=False).artifact(settings.model, "production")
    model = load_model(path, settings.skops_trusted)
    inputs = requests[list(model.feature_names_in_)]
    with PredictionLogger(model, HERE / LOG, version=entry["version"], sha256=entry["sha256"]) as logger:
        for i in range(0, len(inputs), 10):
            logger.predict(inputs.iloc[i:i + 10], request_id=[f"{prefix}-{j:05d}" for j in range(i, i + 10)],
                           timestamp=start + 60 * i)


def monitor(start: float, *options: str) -> dict:
    """The monitor stage on one day of the log; returns the decision record."""
    window = f"current=predlog:{LOG}?start={start:.0f}&end={start + DAY:.0f}"
    subprocess.run([sys.executable, "-m", "pytest", "gates", "-q", "--mlgate-stage", "monitor", *options,
                    "--mlgate-dataset", window, "--mlgate-decision",
                    "reports/estimated-decision.json", "--mlgate-html", "reports/estimated.html"],
                   cwd=HERE, stdout=subprocess.DEVNULL)
    return json.loads((HERE / "reports" / "estimated-decision.json").read_text())


def estimated(record: dict) -> dict[str, dict]:
    return {c["name"]: c for g in record["gates"] for c in g["checks"] if "estimated" in c["name"]}


def show(day: str, record: dict) -> None:
    checks = estimated(record)
    drop, sequence = checks["estimated_drop[current, roc_auc]"], checks["sequential[current, estimated roc_auc]"]
    print(f"{day}: decision {record['decision']}; estimated AUC {drop['candidate']:.3f} "
          f"[{drop['ci'][0]:.3f}, {drop['ci'][1]:.3f}] vs {drop['baseline']:.3f} on the holdout; "
          f"evidence {sequence['details']['evidence']:.3g} (alarm at {1 / sequence['details']['alpha']:g}); "
          f"labels: {drop['details']['realized_rows']}")


def main() -> bool:
    settings = sandbox()
    deployed = deploy(settings)
    now = float(int(time.time()))  # whole seconds: the windows' bounds are written in whole seconds
    day1, day2 = now - 3 * DAY, now - 2 * DAY
    serve(settings, credit_frame(REQUESTS, seed=41), day1, "d1")
    first = monitor(day1, "--mlgate-auto-rollback")
    show("day 1 (ordinary applicants, no labels yet)", first)
    alike = alike_applicants(REQUESTS, seed=42)
    serve(settings, alike, day2, "d2")
    second = monitor(day2, "--mlgate-auto-rollback")
    show("day 2 (applicants who all look alike, no labels yet)", second)
    production = open_registry(settings, audit=False).index(settings.model)["aliases"]["production"]
    rollback = (second.get("monitor") or {}).get("rollback") or {}
    print(f"day 2: production {deployed} -> {production}; rollback {rollback}")
    labels = alike.assign(request_id=[f"d2-{i:05d}" for i in range(REQUESTS)])[["request_id", "defaulted"]]
    labels.to_csv(HERE / "logs" / "labels.csv", index=False)
    subprocess.run([sys.executable, "-m", "pytest_mlgate.cli", "feedback", "add", "logs/labels.csv", "--log", LOG],
                   cwd=HERE, check=True)
    # the model that served day 2 (v2, the candidate's file), evaluated again now that labels exist
    later = estimated(monitor(day2, "--mlgate-baseline", "models/candidate.skops"))["estimated_drop[current, roc_auc]"]
    print(f"day 2, once its outcomes arrived: realized AUC {later['details']['realized']:.3f} next to the "
          f"estimate {later['details']['estimate_on_labelled']:.3f} on the same {later['details']['realized_rows']} rows")
    checks, held = estimated(second), estimated(first)
    return (all(c["outcome"] == "passed" for c in held.values())
            and checks["sequential[current, estimated roc_auc]"]["outcome"] == "failed"
            and checks["estimated_drop[current, roc_auc]"]["details"]["realized_rows"] == 0
            and production != deployed and rollback.get("to") == production)


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
