"""A drifted production batch for the drift gates: richer applicants, a new region, more arrears."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from data import credit_frame


def write_drifted_batch(data: Path) -> None:
    """``data/drifted.parquet``: 5,000 applicants whose incomes rose ~35%, with a new ``central``
    region (10% of rows) and more late payments, while the outcomes still follow the old inputs."""
    frame = credit_frame(5_000, seed=9)
    rng = np.random.default_rng(9)
    frame["income"] = (frame["income"] * 1.35).round(0)
    frame["region"] = np.where(rng.random(len(frame)) < 0.10, "central", frame["region"])
    frame["late_payments"] = frame["late_payments"] + rng.poisson(0.5, len(frame))
    frame.to_parquet(data / "drifted.parquet", index=False)
