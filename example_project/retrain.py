"""Retrain the candidate on the training data plus the production requests whose outcome arrived.

The training command of the monitoring simulation (simulate_monitoring.py), run by the training
trigger when a monitoring alert fires (``[tool.mlgate.monitor] on_alert = "retrain"``), from the
simulation's folder. Writes ``models/retrained.skops``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import skops.io as sio
from data import TARGET
from train import FEATURES, candidate_model

from pytest_mlgate.monitoring.window import read_window


def main() -> None:
    train = pd.read_parquet("data/train.parquet")
    arrived = read_window("logs/predictions.sqlite", target=TARGET, labelled=True)
    frame = pd.concat([train[FEATURES + [TARGET]], arrived[FEATURES + [TARGET]].astype(train[FEATURES + [TARGET]].dtypes)],
                      ignore_index=True)
    model = candidate_model().fit(frame[FEATURES], frame[TARGET])
    Path("models").mkdir(exist_ok=True)
    sio.dump(model, "models/retrained.skops")
    print(f"retrained on {len(train)} training rows and {len(arrived)} labelled production requests")


if __name__ == "__main__":
    main()
