"""A candidate variant with a planted bias (called from train.py): the fairness gates must catch it.

``models/candidate_biased.skops`` is the candidate's pipeline trained with ``sex`` as a feature, on
labels where a third of the women who repaid were recorded as defaulting — the kind of historical
bias a team must not ship. Gate it with ``pytest gates --mlgate-candidate models/candidate_biased.skops``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import skops.io as sio
from data import CATEGORICAL, NUMERIC, TARGET
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder


def biased_labels(train: pd.DataFrame, share: float = 0.35, seed: int = 3) -> pd.Series:
    """The recorded outcomes with ``share`` of the women who repaid flipped to "defaulted"."""
    flip = (train["sex"] == "female") & (train[TARGET] == 0) & (np.random.default_rng(seed).random(len(train)) < share)
    return train[TARGET].where(~flip, 1)


def write_biased_candidate(here: Path) -> None:
    """Train and save the biased variant next to the candidate."""
    train = pd.read_parquet(here / "data" / "train.parquet")
    categorical = [*CATEGORICAL, "sex"]
    model = Pipeline([
        ("prep", ColumnTransformer([("numeric", "passthrough", NUMERIC),
                                    ("categorical", OneHotEncoder(handle_unknown="ignore"), categorical)])),
        ("model", HistGradientBoostingClassifier(max_iter=150, learning_rate=0.08, random_state=0)),
    ])
    model.fit(train[NUMERIC + categorical], biased_labels(train))
    sio.dump(model, here / "models" / "candidate_biased.skops")
    print("trained the biased variant: models/candidate_biased.skops")


if __name__ == "__main__":
    write_biased_candidate(Path(__file__).parent)
