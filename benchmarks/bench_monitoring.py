"""Monitoring costs: the anytime-valid state update per run, and a shadow replay of 10,000 requests.

Run: ``python benchmarks/bench_monitoring.py [--history 365] [--requests 10000]``. Prints

- the state update of one monitoring run: folding one observation into a statistic that already
  has ``--history`` runs (one SQLite transaction) and judging it (evidence over every start run),
  median over repeats, next to the bare write (one row inserted and committed in the same file);
- a shadow replay of ``--requests`` logged requests to two models (read from the log, both
  models' outputs), median over rounds, next to the bare work (reading the same window and calling
  ``predict_proba`` on each model directly), interleaved; the per-request latency sample is
  timed separately (single-row calls, 200 requests).
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from pytest_mlgate.config import build
from pytest_mlgate.evaluate.models import ModelUnderTest
from pytest_mlgate.monitoring.anytime import Statistic, sequential_check
from pytest_mlgate.monitoring.predlog import PredictionLogger
from pytest_mlgate.monitoring.shadow import shadow_run
from pytest_mlgate.monitoring.window import read_window

FEATURES = ["income", "debt", "age", "tenure"]


def state_update(folder: Path, history: int, repeats: int) -> None:
    settings = build(folder, {"model": "m", "stage": "monitor"})
    def stat(day: int) -> Statistic:
        return Statistic("live[roc_auc]", 0.8, 0.01, 0.8, 0.79, 0.02, (day * 86400.0, day * 86400.0 + 1, None), {})
    for day in range(history):
        sequential_check(settings, "sha", stat(day), dataset="current", alpha=0.025, label="bench")
    bare_path = folder / "bare.sqlite"
    conn = sqlite3.connect(bare_path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (a REAL, b REAL)")
    conn.close()
    folds, bares = [], []
    for k in range(repeats):
        start = time.perf_counter()
        sequential_check(settings, "sha", stat(history + k), dataset="current", alpha=0.025, label="bench")
        folds.append(time.perf_counter() - start)
        start = time.perf_counter()
        conn = sqlite3.connect(bare_path, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t VALUES (?, ?)", (0.8, 0.01))
        conn.execute("COMMIT")
        conn.close()
        bares.append(time.perf_counter() - start)
    fold, bare = statistics.median(folds) * 1e3, statistics.median(bares) * 1e3
    print(f"state update per run ({history}+ runs of history, {repeats} repeats): median {fold:.2f} ms "
          f"(fold + evidence over every start run); bare SQLite insert+commit {bare:.2f} ms; ratio {fold / bare:.1f}x")


class Workspace:
    """Just what shadow_run needs: settings and the two models."""

    def __init__(self, settings, models: dict[str, ModelUnderTest]):
        self.settings, self.models = settings, models

    def model(self, role: str) -> ModelUnderTest:
        return ModelUnderTest(role, self.models[role].model)


def shadow(folder: Path, requests: int, rounds: int) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(requests, 4)), columns=FEATURES)
    y = (frame["income"] - frame["debt"] + rng.normal(0, 1, requests) > 0).astype(int)
    fitted = {"candidate": HistGradientBoostingClassifier(max_iter=50).fit(frame, y),
              "baseline": LogisticRegression().fit(frame, y)}
    log = folder / "predictions.sqlite"
    with PredictionLogger(fitted["baseline"], log, version="v1") as logger:
        for i in range(0, requests, 500):
            logger.predict(frame.iloc[i:i + 500], request_id=[f"r{j}" for j in range(i, i + 500)])
    base = {"model": "m", "candidate": "c", "baseline": "b"}
    settings = build(folder, {**base, "shadow": {"log": str(log), "window": "1d", "sample": requests,
                                                 "latency_requests": 1}})
    timed = build(folder, {**base, "shadow": {"log": str(log), "window": "1d", "sample": requests,
                                              "latency_requests": 200}})
    models = {r: ModelUnderTest(r, m) for r, m in fitted.items()}
    replays, bares = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        run = shadow_run(Workspace(settings, models))
        replays.append(time.perf_counter() - start)
        start = time.perf_counter()
        window = read_window(log, window="1d")
        for m in fitted.values():
            m.predict_proba(window[FEATURES])
        bares.append(time.perf_counter() - start)
    assert len(run.request_ids) == requests
    replay, bare = statistics.median(replays), statistics.median(bares)
    start = time.perf_counter()
    shadow_run(Workspace(timed, models))
    latency = time.perf_counter() - start - replay
    print(f"shadow replay of {requests} logged requests to two models ({rounds} rounds): median {replay:.2f} s; "
          f"bare (read the window, predict_proba on each model) {bare:.2f} s; ratio {replay / bare:.2f}x; "
          f"the 200-request latency sample adds {latency:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=int, default=365)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        state_update(Path(folder), args.history, args.repeats)
        shadow(Path(folder), args.requests, args.rounds)


if __name__ == "__main__":
    main()
