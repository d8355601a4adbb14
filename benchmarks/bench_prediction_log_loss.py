"""Rows a prediction log loses when its serving process is SIGKILLed under a fast producer.

Run: ``python benchmarks/bench_prediction_log_loss.py [--trials 7] [--max-queue 1000]``. A producer
logs one-row predictions as fast as it can and records how many returned; after one second it is
SIGKILLed. Prints, per trial, the rows returned but not in the log, the producer's rate, and that
loss in milliseconds of traffic, then the median and the maximum (bound: 2 x max_queue rows).
"""

from __future__ import annotations

import argparse
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

PRODUCER = str(Path(__file__).parents[1] / "tests" / "predlog_producer.py")  # the one the tests kill


def trial(folder: Path, max_queue: int) -> tuple[int, float]:
    """(rows lost, producer rows per second) of one SIGKILLed producer."""
    path, done = folder / "log.sqlite", folder / "done"
    with subprocess.Popen([sys.executable, PRODUCER, str(path), str(done), str(max_queue)],
                          stdout=subprocess.PIPE, text=True) as producer:
        assert producer.stdout.readline().strip() == "ready"
        start, before = time.monotonic(), int(done.read_bytes())
        time.sleep(1.0)
        rate = (int(done.read_bytes()) - before) / (time.monotonic() - start)
        producer.send_signal(signal.SIGKILL)
        producer.wait()
    with closing(sqlite3.connect(path)) as conn:
        logged = conn.execute("SELECT count(*) FROM predictions").fetchone()[0]
    return int(done.read_bytes()) - logged, rate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=7)
    parser.add_argument("--max-queue", type=int, default=1000)
    args = parser.parse_args()
    results = []
    for _ in range(args.trials):
        with tempfile.TemporaryDirectory() as folder:
            lost, rate = trial(Path(folder), args.max_queue)
        results.append((lost, rate, lost / rate * 1000))
        print(f"lost {lost} rows at {rate:.0f} rows/s = {lost / rate * 1000:.0f} ms of traffic")
    print(f"median {statistics.median(r[0] for r in results):.0f} rows "
          f"({statistics.median(r[2] for r in results):.0f} ms), max {max(r[0] for r in results)} rows "
          f"({max(r[2] for r in results):.0f} ms); bound {2 * args.max_queue} rows")


if __name__ == "__main__":
    main()
