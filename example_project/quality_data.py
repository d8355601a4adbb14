"""A broken production batch for the data quality gates: the defects upstream pipelines produce."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from data import credit_frame


def write_broken_batch(data: Path) -> None:
    """``data/broken_batch.parquet``: 5,000 applicants, then 150 incomes lost in a failed join, 250
    loan amounts sent in cents, a new ``contractor`` employment type on 200 rows, 100 rows sent
    twice, and 80 applicants from the training data sent again."""
    frame = credit_frame(5_000, seed=10)
    rng = np.random.default_rng(10)
    rows = rng.permutation(len(frame))
    frame.loc[rows[:150], "income"] = np.nan
    frame.loc[rows[150:400], "loan_amount"] *= 100
    frame.loc[rows[400:600], "employment"] = "contractor"
    resent = pd.read_parquet(data / "train.parquet").iloc[:80]
    batch = pd.concat([frame, frame.iloc[rows[600:700]], resent], ignore_index=True)
    batch.to_parquet(data / "broken_batch.parquet", index=False)
