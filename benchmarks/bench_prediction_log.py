"""Overhead of the prediction log: latency added to a single-row predict, and rows logged per second.

Run: ``python benchmarks/bench_prediction_log.py [--calls 3000]``. Prints the bare and logged
single-row predict latency (median, mean, p99) and the added latency as a ratio to the bare
predict (target: under 10%), then end-to-end logging throughput (queued until written).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from pytest_mlgate.monitoring.predlog import PredictionLogger
from pytest_mlgate.monitoring.window import read_window

FEATURES = ["income", "debt", "age", "tenure"]


def _model_and_rows(n: int) -> tuple[LogisticRegression, list[pd.DataFrame]]:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(max(n, 2000), 4)), columns=FEATURES)
    model = LogisticRegression().fit(frame, (frame["income"] - frame["debt"] > 0).astype(int))
    return model, [frame.iloc[[i % len(frame)]] for i in range(n)]


def _block(predict, rows: list[pd.DataFrame], finish=lambda: None) -> tuple[list[float], float, float]:
    """Per-call wall times, and the block's wall and process CPU time including ``finish``."""
    times = []
    wall, cpu = time.perf_counter(), time.process_time()
    for row in rows:
        start = time.perf_counter()
        predict(row)
        times.append(time.perf_counter() - start)
    finish()
    return times, time.perf_counter() - wall, time.process_time() - cpu


def latency(calls: int, rounds: int, folder: Path) -> None:
    """Alternate bare and logged blocks so machine noise hits both alike; the logged block's time
    includes draining its queue, so the writer thread's work is counted too."""
    model, rows = _model_and_rows(calls)
    _block(model.predict, rows[:200])  # warm up
    bare: dict[str, list[float]] = {"median": [], "wall": [], "cpu": []}
    logged: dict[str, list[float]] = {"median": [], "wall": [], "cpu": []}
    with PredictionLogger(model, folder / "latency.sqlite", version="v1") as logger:
        for _ in range(rounds):
            for side, predict, finish in ((bare, model.predict, lambda: None), (logged, logger.predict, logger.flush)):
                times, wall, cpu = _block(predict, rows, finish)
                side["median"].append(float(np.median(times)) * 1e6)
                side["wall"].append(wall / calls * 1e6)
                side["cpu"].append(cpu / calls * 1e6)
    print(f"single-row predict (LogisticRegression, 4 features, one-row DataFrame): {rounds} rounds of "
          f"{calls} bare and {calls} logged calls, microseconds per call")
    print(f"{'':>28} {'bare':>9} {'logged':>9} {'added':>8}")
    for key, label in (("median", "median call (wall)"), ("wall", "mean incl. writer (wall)"),
                       ("cpu", "mean incl. writer (CPU)")):
        b, lg = statistics.median(bare[key]), statistics.median(logged[key])
        ratios = [(x - y) / y for x, y in zip(logged[key], bare[key])]
        print(f"{label:>28} {b:9.1f} {lg:9.1f} {statistics.median(ratios):+8.1%}")
    print("added = median over rounds of (logged - bare) / bare; target < 10%")
    bare_call, logged_call = alternating(model, rows * rounds, folder)
    writer = writer_cost(model, rows, folder)
    hot = logged_call - bare_call
    print(f"alternating bare and logged calls row by row ({calls * rounds} each): median {bare_call:.1f} vs "
          f"{logged_call:.1f} us ({hot / bare_call:+.1%})")
    print(f"writer thread CPU per row (queue drained in one go): {writer:.1f} us = {writer / bare_call:+.1%}; "
          f"request path + writer: {(max(hot, 0) + writer) / bare_call:+.1%} of the bare predict")


def alternating(model: LogisticRegression, rows: list[pd.DataFrame], folder: Path) -> tuple[float, float]:
    """Median wall time of a bare and of a logged call, alternating on every row (same conditions)."""
    bare, logged = [], []
    with PredictionLogger(model, folder / "alternating.sqlite") as logger:
        for row in rows:
            start = time.perf_counter()
            model.predict(row)
            middle = time.perf_counter()
            logger.predict(row)
            bare.append(middle - start)
            logged.append(time.perf_counter() - middle)
    return float(np.median(bare)) * 1e6, float(np.median(logged)) * 1e6


def writer_cost(model: LogisticRegression, rows: list[pd.DataFrame], folder: Path) -> float:
    """CPU microseconds the writer thread spends per logged row, measured with the writer held back."""
    with PredictionLogger(model, folder / "writer.sqlite", flush_interval=1e9, resource_interval=1e9,
                          max_queue=len(rows) + 1) as logger:  # the whole run queued, written at flush()
        time.sleep(0.05)  # let the writer block waiting for the (never reached) interval
        for row in rows:
            logger.predict(row)
        cpu = time.process_time()
        logger.flush()
        return (time.process_time() - cpu) / len(rows) * 1e6


def throughput(rows_total: int, batch: int, folder: Path) -> None:
    class Echo:
        def predict(self, frame: pd.DataFrame) -> np.ndarray:
            return np.zeros(len(frame))

    _, rows = _model_and_rows(1)
    frame = pd.concat([rows[0]] * batch, ignore_index=True)
    path = folder / f"throughput{batch}.sqlite"
    start = time.perf_counter()
    with PredictionLogger(Echo(), path) as logger:
        for _ in range(rows_total // batch):
            logger.predict(frame)
    elapsed = time.perf_counter() - start
    start = time.perf_counter()
    written = len(read_window(path, start=0, end=time.time() + 1))
    read = time.perf_counter() - start
    print(f"throughput, {batch}-row predict calls: {written} rows written in {elapsed:.2f} s = "
          f"{written / elapsed:,.0f} rows/s (dropped {logger.dropped}); read back as a window in {read:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--rows", type=int, default=50_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        latency(args.calls, args.rounds, Path(tmp))
        throughput(args.rows // 5, 1, Path(tmp))
        throughput(args.rows, 100, Path(tmp))


if __name__ == "__main__":
    main()
