"""The Poisson bootstrap against the multinomial row bootstrap it replaced, in memory.

Measured: the paired interval (candidate minus baseline) of average precision (binary scores), of
R² (regression values) and of a three-class ROC AUC (one vs rest, macro average) from
``pytest_mlgate.evaluate.stats.interval`` — the Poisson bootstrap, whose replicate counters are also
what streamed and Dask evaluation fold — against the same metric resampled by rows (the row
bootstrap: ``replicates`` scikit-learn calls on resampled rows). Interleaved rounds, medians of
wall seconds; the ratio is Poisson / rows.

    python benchmarks/bench_poisson.py [--rows 100000] [--replicates 200] [--rounds 3]
                                       [--metrics average_precision r2 roc_auc_multiclass]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from pytest_mlgate.evaluate.metrics import BUILTIN, Metric
from pytest_mlgate.evaluate.stats import interval


def data(rows: int) -> dict[str, tuple[np.ndarray, list[np.ndarray]]]:
    rng = np.random.default_rng(0)
    y = (rng.random(rows) < 0.3).astype(int)
    scores = [np.clip(rng.normal(0.4 + s * y, 0.2), 0, 1) for s in (0.30, 0.25)]
    target = rng.normal(0, 1, rows)
    values = [target + rng.normal(0, s, rows) for s in (0.5, 0.6)]
    tier = rng.integers(0, 3, rows)
    logits = [rng.normal(0, 1, (rows, 3)) + s * np.eye(3)[tier] for s in (1.2, 1.0)]
    probas = [np.exp(z) / np.exp(z).sum(axis=1, keepdims=True) for z in logits]
    return {"average_precision": (y, scores), "r2": (target, values), "roc_auc_multiclass": (tier, probas)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--metrics", nargs="+", default=["average_precision", "r2", "roc_auc_multiclass"])
    args = parser.parse_args()
    inputs = data(args.rows)
    for name in args.metrics:
        y, outputs = inputs[name]
        spec = BUILTIN[name.removesuffix("_multiclass")]
        classes = np.unique(y) if outputs[0].ndim == 2 else None
        methods = {"poisson": spec, "rows": Metric(f"row_{name}", spec.fn, spec.needs, spec.greater_is_better)}
        times: dict[str, list[float]] = {m: [] for m in methods}
        for _ in range(args.rounds):
            for label, metric in methods.items():
                start = time.perf_counter()
                interval(metric, y, outputs, pos_label=1, classes=classes, confidence=0.95, n_boot=args.replicates,
                         seed=0)
                times[label].append(time.perf_counter() - start)
        medians = {label: statistics.median(found) for label, found in times.items()}
        print(f"{name}: {args.rows} rows, {args.replicates} replicates: Poisson {medians['poisson']:.2f} s, "
              f"row bootstrap {medians['rows']:.2f} s, ratio {medians['poisson'] / medians['rows']:.2f}x")


if __name__ == "__main__":
    main()
