"""Logs one-row predictions as fast as it can, recording how many returned: killed by tests and the loss benchmark.

Usage: python predlog_producer.py LOG COUNTER_FILE MAX_QUEUE (prints "ready" after 2,000 rows).
"""

import os
import sys

from pytest_mlgate.monitoring.predlog import PredictionLogger


class Model:
    def predict(self, rows):
        return [r["x"] * 2 for r in rows]


logger = PredictionLogger(Model(), sys.argv[1], max_queue=int(sys.argv[3]))
done = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT)
i = 0
while True:
    logger.predict([{"x": float(i), "text": "y" * 200}], request_id=f"r{i}", timestamp=1000.0 + i)
    i += 1
    os.pwrite(done, b"%12d" % i, 0)  # predictions returned so far
    if i == 2000:
        print("ready", flush=True)
