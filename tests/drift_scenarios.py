"""Seeded data for the drift gates' done-when scenarios, shared by the scipy and alibi-detect tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pytest_mlgate.checks.drift import data_drift
from pytest_mlgate.checks.drift_stats import DriftOptions

FEATURES = ("f0", "f1", "f2", "f3", "f4")


def frame(n: int, seed: int, shift: dict[str, float] | None = None, categories: tuple[str, ...] = ("a", "b", "c"),
          new_share: float = 0.0) -> pd.DataFrame:
    """Four standard-normal features (``f0``..``f3``, optionally mean-shifted by sds) and a categorical ``f4``."""
    rng = np.random.default_rng(seed)
    shift = shift or {}
    data = {name: rng.normal(shift.get(name, 0.0), 1.0, n) for name in FEATURES[:4]}
    f4 = rng.choice(list(categories), n, p=[0.5, 0.3, 0.2])
    data["f4"] = np.where(rng.random(n) < new_share, "unseen", f4)
    return pd.DataFrame(data)


def false_positive_rate(options: DriftOptions, draws: int, n: int) -> tuple[float, float]:
    """Per-feature rates over seeded same-distribution draws: (significant, drifted)."""
    significant = drifted = total = 0
    for seed in range(draws):
        table = data_drift(frame(n, 2 * seed), frame(n, 2 * seed + 1), options=options)[0].details["table"]
        significant += sum(row["significant"] for row in table)
        drifted += sum(row["drifted"] for row in table)
        total += len(table)
    return significant / total, drifted / total


def tolerance(alpha: float, tests: int) -> float:
    """Three binomial standard errors of a rejection rate ``alpha`` over ``tests`` tests."""
    return 3 * (alpha * (1 - alpha) / tests) ** 0.5


def million_rows_negligible_shift() -> tuple[pd.DataFrame, pd.DataFrame]:
    """1,000,000 rows of one feature, the current batch shifted by 0.01 sd."""
    rng = np.random.default_rng(7)
    n = 1_000_000
    return pd.DataFrame({"f0": rng.normal(0, 1, n)}), pd.DataFrame({"f0": rng.normal(0.01, 1, n)})
