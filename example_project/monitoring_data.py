"""A day of production traffic for the monitoring example: clean, then drifted halfway.

``simulate_monitoring.py`` serves these requests through the prediction logger and later adds
their labels; train.py writes the requests and labels (seeded) so both are reproducible.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from data import credit_frame

MINUTES = 24 * 60  # one request a minute for a day


def day_of_traffic(seed: int = 11) -> pd.DataFrame:
    """1440 requests, one a minute; from noon on applicants are poorer and more indebted, and
    their outcomes no longer follow the old pattern (a concept change), so the model degrades."""
    rng = np.random.default_rng(seed)
    frame = credit_frame(MINUTES, seed=seed)
    later = np.arange(MINUTES) >= MINUTES // 2
    frame.loc[later, "income"] = (frame.loc[later, "income"] * 0.6).round(0)
    frame.loc[later, "debt_ratio"] = np.clip(frame.loc[later, "debt_ratio"] + 0.15, 0, 1).round(3)
    frame.loc[later, "defaulted"] = rng.permutation(frame.loc[later, "defaulted"].to_numpy())
    frame.insert(0, "request_id", [f"req-{i:05d}" for i in range(MINUTES)])
    frame.insert(1, "minute", np.arange(MINUTES))
    return frame


def write_traffic(data: Path) -> None:
    """Write data/traffic.parquet (the requests and, for the simulation, their eventual outcomes)."""
    day_of_traffic().to_parquet(data / "traffic.parquet", index=False)


def write_production_log(here: Path) -> None:
    """logs/predictions.sqlite: the production model (the baseline) served data/current.parquet over
    the past week, each request logged; the push suite's shadow gate replays a sample of them."""
    import time

    from pytest_mlgate.evaluate.loaders import load_model
    from pytest_mlgate.monitoring.predlog import PredictionLogger

    log = here / "logs" / "predictions.sqlite"
    for part in (log, log.with_name(log.name + "-wal"), log.with_name(log.name + "-shm")):
        part.unlink(missing_ok=True)
    model = load_model(here / "models" / "baseline.skops", ())
    requests = pd.read_parquet(here / "data" / "current.parquet")
    inputs = requests[list(model.feature_names_in_)]
    start = time.time() - 7 * 24 * 3600
    step = 7 * 24 * 3600 / len(inputs)
    with PredictionLogger(model, log, version="production") as logger:
        for i in range(0, len(inputs), 100):
            logger.predict(inputs.iloc[i:i + 100], request_id=[f"prod-{j:05d}" for j in range(i, i + 100)],
                           timestamp=start + i * step)
