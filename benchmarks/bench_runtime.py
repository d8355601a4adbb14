"""Gate runtime overhead on a 1,000,000-row holdout with 10 metric and regression gates.

Prints the gate run's wall time (a full ``pytest`` run of the gate suite, in process) as a ratio to
the bare work: loading both models and the holdout, one predict_proba per model, and the same
metric calls made directly with sklearn. Run: ``python benchmarks/bench_runtime.py [ROWS]``.
"""

from __future__ import annotations

import os
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn import metrics
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

GATES = """
def test_auc(mlgate):
    mlgate.at_least("roc_auc", 0.6)

def test_accuracy(mlgate):
    mlgate.at_least("accuracy", 0.6)

def test_f1(mlgate):
    mlgate.at_least("f1", 0.5)

def test_log_loss(mlgate):
    mlgate.at_most("log_loss", 0.7)

def test_brier(mlgate):
    mlgate.at_most("brier", 0.25)

def test_auc_regression(mlgate):
    mlgate.no_regression("roc_auc", max_absolute_drop=0.05, criterion="significant")

def test_accuracy_regression(mlgate):
    mlgate.no_regression("accuracy", max_absolute_drop=0.05)

def test_f1_regression(mlgate):
    mlgate.no_regression("f1", max_absolute_drop=0.05)

def test_log_loss_regression(mlgate):
    mlgate.no_regression("log_loss", max_relative_drop=0.1)

def test_brier_regression(mlgate):
    mlgate.no_regression("brier", max_relative_drop=0.1)
"""


def make_data(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, 8)), columns=[f"x{i}" for i in range(8)])
    logit = frame["x0"] - 0.8 * frame["x1"] + 0.5 * frame["x2"] * frame["x3"] + 0.3 * frame["x4"]
    frame["y"] = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


def build(root: Path, rows: int) -> None:
    train = make_data(50_000, seed=1)
    features = [c for c in train.columns if c != "y"]
    sio.dump(HistGradientBoostingClassifier(max_iter=50, random_state=0).fit(train[features], train["y"]),
             root / "candidate.skops")
    sio.dump(LogisticRegression().fit(train[features], train["y"]), root / "baseline.skops")
    make_data(rows, seed=2).to_parquet(root / "holdout.parquet")
    (root / "pyproject.toml").write_text(textwrap.dedent("""
        [tool.mlgate]
        candidate = "candidate.skops"
        baseline = "baseline.skops"
        target = "y"
        skops_trusted = ["sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"]
        [tool.mlgate.datasets]
        holdout = "holdout.parquet"
    """))
    (root / "test_gates.py").write_text(GATES)


def bare(root: Path) -> float:
    start = time.perf_counter()
    trusted = ["sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"]
    holdout = pd.read_parquet(root / "holdout.parquet")
    y, features = holdout["y"].to_numpy(), holdout.drop(columns="y")
    for name in ("candidate", "baseline"):
        model = sio.load(root / f"{name}.skops", trusted=trusted)
        proba = model.predict_proba(features)
        score, labels = proba[:, 1], proba.argmax(axis=1)
        metrics.roc_auc_score(y, score)
        metrics.accuracy_score(y, labels)
        metrics.f1_score(y, labels)
        metrics.log_loss(y, proba)
        metrics.brier_score_loss(y, score)
    return time.perf_counter() - start


def gate_run(root: Path) -> float:
    start = time.perf_counter()
    code = pytest.main([str(root), "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "--rootdir", str(root)])
    elapsed = time.perf_counter() - start
    if code != 0:
        raise SystemExit(f"gate run failed with exit status {code}")
    return elapsed


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        build(root, rows)
        os.chdir(root)
        bare(root)  # warm the page cache and imports for both sides
        best_bare = min(bare(root) for _ in range(3))
        best_gate = min(gate_run(root) for _ in range(3))
    print(f"rows: {rows:,}; gates: 10 (5 thresholds, 5 paired regressions with intervals)")
    print(f"bare work (load + predict_proba per model + metrics): {best_bare:.2f} s")
    print(f"gate run (pytest, all gates, decision, reports):       {best_gate:.2f} s")
    print(f"ratio: {best_gate / best_bare:.2f}x (target <= 1.3x)")


if __name__ == "__main__":
    main()
