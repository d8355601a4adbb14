"""Data quality gates on a 1,000,000-row x 50-column frame, as a ratio to pandera alone.

Measured: ``mlgate.schema`` against pandera's inferred schema of the frame (ranges, dtypes,
nullability; coercion on, as pandera infers it) plus all nine quality checks (missing, outliers,
skew, class balance, duplicates, constant columns, unseen categories and overlap against a
separate 1,000,000-row reference, label leakage), each on cold caches. Baseline: pandera's own
``schema.validate(frame, lazy=True)`` with the same schema. Best of ``--repeat`` interleaved runs
each, in CPU seconds of this process (``time.process_time``: steady on a shared machine) and wall
seconds.

``mlgate.schema`` gives pandera's result but leaves out the range checks and non-null rules that
the exact column statistics (which the quality checks need anyway) prove to pass, and lets pandera
skip its copy of the frame under copy-on-write. For transparency the ratio is also printed against
pandera validating without that copy (``inplace=True`` on a shallow copy), its cheapest honest run.

    python benchmarks/bench_data_quality.py [--rows 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

import pandera.pandas as pa

from pytest_mlgate.checks import data_quality as dq
from pytest_mlgate.checks import leakage
from pytest_mlgate.config import Settings
from pytest_mlgate.evaluate.models import Dataset


def frame(rows: int, seed: int) -> pd.DataFrame:
    """40 float columns (normal, lognormal, uniform), 5 integer, 4 text categories and a binary target."""
    rng = np.random.default_rng(seed)
    columns: dict[str, object] = {}
    for i in range(40):
        kind = i % 3
        columns[f"f{i}"] = (rng.normal(0, 1, rows) if kind == 0 else
                            rng.lognormal(0, 0.5, rows) if kind == 1 else rng.uniform(-1, 1, rows))
    for i in range(5):
        columns[f"n{i}"] = rng.integers(0, 1000, rows)
    for i in range(4):
        columns[f"c{i}"] = pd.array(rng.choice([f"cat{j}" for j in range(8)], rows), dtype="str")
    data = pd.DataFrame(columns)
    data["target"] = (rng.random(rows) < 1 / (1 + np.exp(-data["f0"]))).astype(np.int64)
    return data


def timed(run) -> tuple[float, float]:
    """CPU and wall seconds of one call."""
    cpu, wall = time.process_time(), time.perf_counter()
    run()
    return time.process_time() - cpu, time.perf_counter() - wall


def best(runs: list[tuple[float, float]]) -> tuple[float, float]:
    return min(r[0] for r in runs), min(r[1] for r in runs)


def gates(data: pd.DataFrame, reference: pd.DataFrame, schema, timings: dict[str, list[float]]) -> None:
    """Every data quality gate on fresh Datasets (no cached statistics), timing each."""
    holdout, ref = Dataset("holdout", data, "target"), Dataset("reference", reference, "target")
    settings = Settings(root=Path.cwd())
    steps = {
        "schema": lambda: dq.schema_check(holdout, schema, settings),
        "no_missing": lambda: dq.missing(holdout),
        "no_outliers": lambda: dq.outliers(holdout, max_rate=0.05),
        "no_skew": lambda: dq.skew(holdout),
        "class_balance": lambda: dq.class_balance(holdout),
        "no_duplicates": lambda: dq.duplicates(holdout),
        "no_constant_columns": lambda: dq.constant_columns(holdout),
        "no_unseen_categories": lambda: dq.unseen_categories(holdout, ref),
        "no_label_leakage": lambda: leakage.label_leakage(holdout, ref, "target"),
        "no_overlap": lambda: dq.overlap(holdout, ref),
    }
    for name, step in steps.items():
        checks = []
        cpu, wall = timed(lambda: checks.append(step()))
        timings.setdefault(name, []).append(cpu)
        assert checks[0].outcome == "passed", checks[0].message


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    data, reference = frame(args.rows, seed=0), frame(args.rows, seed=1)
    schema = pa.infer_schema(data).reset_index(drop=True)  # pandera's inference, ranges as observed
    schema.validate(data.head(1000), lazy=True)  # warm-up: pandera's lazy imports and engine set-up
    timings: dict[str, list[float]] = {}
    pandera_runs, no_copy_runs, our_runs = [], [], []
    for _ in range(args.repeat):  # interleaved, so that all see the same machine load
        pandera_runs.append(timed(lambda: schema.validate(data, lazy=True)))
        no_copy_runs.append(timed(lambda: schema.validate(data.copy(deep=False), lazy=True, inplace=True)))
        our_runs.append(timed(lambda: gates(data, reference, schema, timings)))
    (pandera_cpu, pandera_wall), (ours_cpu, ours_wall) = best(pandera_runs), best(our_runs)
    no_copy_cpu = best(no_copy_runs)[0]
    print(f"frame: {args.rows:,} rows x {data.shape[1]} columns (reference {len(reference):,} rows); "
          f"best of {args.repeat}; CPU ms per step:")
    for name, seconds in timings.items():
        print(f"  {name:22s} {min(seconds) * 1000:8.1f}")
    print(f"pandera validate alone:            {pandera_cpu:.3f} s CPU, {pandera_wall:.3f} s wall")
    print(f"pandera validate, no frame copy:   {no_copy_cpu:.3f} s CPU")
    print(f"mlgate schema + 9 quality checks:  {ours_cpu:.3f} s CPU, {ours_wall:.3f} s wall")
    print(f"ratio: {ours_cpu / pandera_cpu:.2f}x pandera alone in CPU time, {ours_wall / pandera_wall:.2f}x in wall "
          f"time (target <= 1.5x); {ours_cpu / no_copy_cpu:.2f}x pandera without its copy in CPU time")


if __name__ == "__main__":
    main()
