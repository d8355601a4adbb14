"""Fairness gate cost: 1,000,000 rows, two sensitive columns (intersectional), 200 bootstrap resamples.

Prints the gate's time (median of 3) as a ratio to one fairlearn MetricFrame evaluation of the
same metrics and groups (the faster of 2) times the number of resamples, i.e. to the naive
"MetricFrame per resample" bootstrap. Target: <= 1.2x.

With ``--roc-auc ROWS ...``: a fairness gate on ROC AUC (two groups, ``--resamples`` defaulting to
1000 there) whose draws are the per-group Poisson bootstrap, against the same gate on a custom
metric computing the same ``roc_auc_score`` (the row bootstrap it replaced), interleaved over
``--rounds`` rounds; prints each one's median and their ratio per size.

    python benchmarks/bench_fairness.py [--rows N] [--resamples B]
    python benchmarks/bench_fairness.py --roc-auc 100000 1000000 [--rounds R] [--resamples B]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pandas as pd

from pytest_mlgate.checks.fairness import Criteria, fairness
from pytest_mlgate.checks.fairness_groups import _frame_metric
from pytest_mlgate.evaluate.models import Dataset, ModelUnderTest

METRICS = ["selection_rate", "true_positive_rate", "false_positive_rate"]


class Predictions:
    """A 'model' whose predictions are a column, so that the benchmark times the fairness work only."""

    classes_ = np.array([0, 1])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return X["pred"].to_numpy()


def data(rows: int) -> Dataset:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"sex": rng.choice(["f", "m"], rows),
                          "age_band": rng.choice(["18-25", "26-40", "41-65", "65+"], rows, p=[0.2, 0.35, 0.35, 0.1]),
                          "y": rng.integers(0, 2, rows)})
    frame["pred"] = (rng.random(rows) < np.where(frame["sex"] == "m", 0.55, 0.45)).astype(int)
    return Dataset("holdout", frame, target="y")


def metricframe_once(ds: Dataset) -> float:
    from fairlearn.metrics import MetricFrame

    start = time.perf_counter()
    frame = MetricFrame(metrics={m: _frame_metric(m) for m in METRICS}, y_true=ds.frame["y"].to_numpy(),
                        y_pred=ds.frame["pred"].to_numpy(), sensitive_features=ds.frame[["sex", "age_band"]])
    frame.by_group  # noqa: B018 - make sure the per-group table is computed
    return time.perf_counter() - start


class Scores:
    """A binary 'model' whose positive-class probability is the column ``s``."""

    classes_ = np.array([0, 1])

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return np.c_[1 - X["s"].to_numpy(), X["s"].to_numpy()]


def scored(rows: int) -> Dataset:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"sex": rng.choice(["f", "m"], rows), "y": rng.integers(0, 2, rows)})
    strength = np.where(frame["sex"] == "m", 0.3, 0.25)
    frame["s"] = np.clip(strength * frame["y"] + rng.random(rows) * (1 - strength), 0, 1)
    return Dataset("holdout", frame, target="y")


def roc_auc_case(sizes: list[int], resamples: int, rounds: int) -> None:
    from sklearn.metrics import roc_auc_score

    from pytest_mlgate.evaluate.metrics import register_metric

    register_metric("roc_auc_rows", lambda y, s: roc_auc_score(y, s), needs="score")
    criteria = Criteria(max_difference=0.1)
    for rows in sizes:
        ds = scored(rows)
        model = ModelUnderTest("candidate", Scores())
        model.score(ds)  # outputs are cached for every gate; not part of the fairness cost
        times: dict[str, list[float]] = {"roc_auc": [], "roc_auc_rows": []}
        for _ in range(rounds):
            for metric in times:  # interleaved
                start = time.perf_counter()
                fairness(ds, model, "sex", metric, criteria, n_boot=resamples)
                times[metric].append(time.perf_counter() - start)
        poisson, rows_boot = (statistics.median(times[m]) for m in times)
        print(f"rows={rows:,} groups=2 resamples={resamples} rounds={rounds}: Poisson replicates {poisson:.2f}s "
              f"(per round {', '.join(f'{t:.2f}' for t in times['roc_auc'])}), row bootstrap {rows_boot:.2f}s "
              f"(per round {', '.join(f'{t:.2f}' for t in times['roc_auc_rows'])}), ratio {poisson / rows_boot:.3f}x",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--resamples", type=int, default=None)
    parser.add_argument("--roc-auc", type=int, nargs="+", metavar="ROWS")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.roc_auc:
        roc_auc_case(args.roc_auc, args.resamples or 1000, args.rounds)
        return
    args.resamples = args.resamples or 200
    ds = data(args.rows)
    model = ModelUnderTest("candidate", Predictions())
    model.predict(ds)  # predictions are cached for every gate; not part of the fairness cost
    metricframe_once(data(1000))  # warm imports
    single = min(metricframe_once(ds) for _ in range(2))
    criteria = Criteria(min_ratio=0.8, max_difference=0.2, max_equalized_odds=0.2, max_equal_opportunity=0.2)
    times = []
    for _ in range(3):
        start = time.perf_counter()
        checks = fairness(ds, model, ["sex", "age_band"], "selection_rate", criteria, n_boot=args.resamples)
        times.append(time.perf_counter() - start)
    gate = statistics.median(times)
    naive = single * args.resamples
    print(f"rows={args.rows:,} groups={checks[0].details['groups_judged']} (sex x age_band) "
          f"resamples={args.resamples} checks={len(checks)}")
    print(f"one MetricFrame evaluation: {single:.3f}s; x{args.resamples} = {naive:.1f}s")
    print(f"fairness gate (point values on MetricFrame + {args.resamples} resamples, 4 criteria): {gate:.3f}s")
    print(f"ratio: {gate / naive:.4f}x (target <= 1.2x)")


if __name__ == "__main__":
    main()
