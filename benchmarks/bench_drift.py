"""Drift gate cost: 1,000,000 reference and current rows x 50 numeric features.

Prints the default gate's time (KS test, Bonferroni, KS statistic + Wasserstein + PSI effect sizes,
the per-feature table) as a ratio to calling scipy's ``ks_2samp`` directly on the same columns.
Target: <= 1.5x.

    python benchmarks/bench_drift.py [--rows N] [--features K] [--repeat R]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from scipy import stats

from pytest_mlgate.checks.drift import data_drift


def frames(rows: int, features: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Standard-normal features; every fifth one is shifted in the current batch by 0.02..0.2 sd."""
    rng = np.random.default_rng(0)
    names = [f"x{i:02d}" for i in range(features)]
    reference = pd.DataFrame({n: rng.normal(0, 1, rows) for n in names})
    current = pd.DataFrame({n: rng.normal(0.02 * (i // 5 + 1) if i % 5 == 0 else 0, 1, rows)
                            for i, n in enumerate(names)})
    return reference, current


def scipy_direct(reference: pd.DataFrame, current: pd.DataFrame) -> list[float]:
    return [stats.ks_2samp(reference[c].to_numpy(), current[c].to_numpy()).pvalue for c in reference.columns]


def timed(fn, *args) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    reference, current = frames(args.rows, args.features)
    scipy_times, gate_times = [], []
    for _ in range(args.repeat):  # interleaved, so that load on a shared machine hits both alike
        seconds, p_values = timed(scipy_direct, reference, current)
        scipy_times.append(seconds)
        seconds, checks = timed(data_drift, reference, current)
        gate_times.append(seconds)
    table = checks[0].details["table"]
    assert [row["p_value"] for row in table] == p_values, "the gate's KS p-values differ from scipy's"
    scipy_s, gate_s = min(scipy_times), min(gate_times)
    print(f"rows={args.rows:,} features={args.features} repeat={args.repeat}")
    print(f"scipy ks_2samp per column: {scipy_s:.2f} s")
    print(f"mlgate default drift gate: {gate_s:.2f} s ({len(checks[0].details['drifted'])} drifted: "
          f"{', '.join(checks[0].details['drifted'])})")
    print(f"ratio gate / scipy: {gate_s / scipy_s:.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()
