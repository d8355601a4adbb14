"""Build the example's data and models: a candidate, and the baseline that is in production.

Run from this directory: ``python train.py``. Everything is seeded, so every run writes the same
data; models are saved as .skops files (safe to load, unlike pickle).
"""

from __future__ import annotations

from pathlib import Path

import skops.io as sio
from data import CATEGORICAL, NUMERIC, TARGET, credit_frame
from drift_data import write_drifted_batch
from fairness_data import write_biased_candidate
from monitoring_data import write_production_log, write_traffic
from quality_data import write_broken_batch
from registry_data import register_production
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

HERE = Path(__file__).parent
FEATURES = NUMERIC + CATEGORICAL


def preprocess(scale: bool) -> ColumnTransformer:
    numeric = StandardScaler() if scale else "passthrough"
    return ColumnTransformer([
        ("numeric", numeric, NUMERIC),
        ("categorical", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
    ])


def candidate_model() -> Pipeline:
    """The new model: gradient-boosted trees."""
    return Pipeline([("prep", preprocess(scale=False)),
                     ("model", HistGradientBoostingClassifier(max_iter=150, learning_rate=0.08, random_state=0))])


def baseline_model() -> Pipeline:
    """The model in production: a logistic regression."""
    return Pipeline([("prep", preprocess(scale=True)), ("model", LogisticRegression(max_iter=500))])


def write_data(data: Path) -> None:
    data.mkdir(exist_ok=True)
    frame = credit_frame(20_000, seed=7)
    frame.iloc[:14_000].to_parquet(data / "train.parquet", index=False)
    frame.iloc[14_000:].to_parquet(data / "holdout.parquet", index=False)
    credit_frame(5_000, seed=8).to_parquet(data / "current.parquet", index=False)
    write_drifted_batch(data)  # for gates/test_drift.py: --mlgate-dataset current=data/drifted.parquet
    write_traffic(data)  # a day of production requests for simulate_monitoring.py
    write_broken_batch(data)  # for gates/test_data_quality.py: --mlgate-dataset current=data/broken_batch.parquet


def main() -> None:
    data, models = HERE / "data", HERE / "models"
    write_data(data)
    models.mkdir(exist_ok=True)
    import pandas as pd

    train = pd.read_parquet(data / "train.parquet")
    for name, model in (("candidate", candidate_model()), ("baseline", baseline_model())):
        model.fit(train[FEATURES], train[TARGET])
        sio.dump(model, models / f"{name}.skops")
        print(f"trained {name}: models/{name}.skops")
    register_production(HERE)  # the baseline is served from the registry: registry:credit-risk@production
    write_biased_candidate(HERE)  # a variant with a planted bias that the fairness gates must reject
    write_production_log(HERE)  # a week of logged production requests for gates/test_shadow.py


if __name__ == "__main__":
    main()
