"""One gate suite run against a model saved natively by another framework.

The data is scikit-learn's breast cancer table with column names that need quoting (spaces, dots,
non-ASCII), an ``id`` column, a ``group`` column for a per-group gate, split at random into
training rows, a holdout and a "current" batch. The baseline is a scikit-learn model in .skops.
"""

from __future__ import annotations

import io
import json
import os
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import accuracy_score, roc_auc_score

# pandas registers its Arrow types on first Parquet use; pytester drops modules imported inside a test,
# and pyarrow refuses a second registration, so that first use happens here, at collection
pd.DataFrame({"x": [0]}).to_parquet(io.BytesIO())

TARGET = "malignant"
SUITE = """
def test_auc_floor(candidate, holdout):
    assert candidate.metric("roc_auc", holdout) >= 0.95

def test_no_regression(mlgate):
    mlgate.no_regression("roc_auc", max_relative_drop=0.03)

def test_accuracy_per_group(mlgate):
    mlgate.at_least("accuracy", 0.85, by="group")

def test_prediction_drift(mlgate):
    mlgate.no_prediction_drift("holdout", "current")
"""


# gates that run the model itself: permutation importance, partial dependence, in-process latency
LIVE_GATES = """
def test_drivers(mlgate):
    mlgate.no_forbidden_drivers(["group"], top_k=3)

def test_monotonic(mlgate):
    mlgate.monotonic("worst area", tolerance=1.0)

def test_latency(mlgate):
    mlgate.predict_latency(batch_sizes=(1,), repeats=3)
"""


def require(module: str, variable: str) -> Any:
    """``module``, imported; skipped when missing unless ``variable=1`` (the extra's tox env) says it must be there."""
    if os.environ.get(variable) == "1":
        return __import__(module)
    return pytest.importorskip(module)


def frames(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Training rows, holdout and current batch, with features named as real exports name them."""
    data = load_breast_cancer(as_frame=True)
    frame = data.data.copy()
    frame.columns = [_awkward(i, c) for i, c in enumerate(frame.columns)]
    frame[TARGET] = 1 - data.target  # breast cancer's target is 1 = benign
    frame.insert(0, "id", np.arange(100_000, 100_000 + len(frame)))
    rng = np.random.default_rng(seed)
    frame["group"] = rng.choice(["clinic a", "clinic b"], len(frame))
    order = rng.permutation(len(frame))
    train, holdout, current = np.split(order, [len(frame) // 2, 3 * len(frame) // 4])
    return frame.iloc[train].reset_index(drop=True), frame.iloc[holdout].reset_index(drop=True), \
        frame.iloc[current].reset_index(drop=True)


def _awkward(i: int, name: str) -> str:
    if i % 3 == 1:
        return name.replace(" ", ".")
    if i % 5 == 2:
        return name + " (µm²)"
    return name


def features(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in ("id", "group", TARGET)]


def write_project(pytester: pytest.Pytester, candidate: str, *, train: pd.DataFrame, holdout: pd.DataFrame,
                  current: pd.DataFrame, extra: str = "") -> None:
    """Datasets, a scikit-learn baseline and the suite, with ``candidate`` as the candidate spec."""
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    root = pytester.path
    baseline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    sio.dump(baseline.fit(train[features(train)], train[TARGET]), root / "baseline.skops")
    holdout.to_parquet(root / "holdout.parquet")
    current.to_parquet(root / "current.parquet")
    pytester.makefile(".toml", pyproject=(
        f'[tool.mlgate]\nmodel = "tumour"\ncandidate = "{candidate}"\nbaseline = "baseline.skops"\n'
        f'target = "{TARGET}"\n{extra}\n'
        '[tool.mlgate.datasets]\nholdout = "holdout.parquet"\ncurrent = "current.parquet"\n'))
    pytester.makepyfile(test_suite=SUITE)


def run(pytester: pytest.Pytester) -> tuple[pytest.RunResult, dict[str, Any]]:
    result = pytester.runpytest("-p", "no:cacheprovider")
    record = json.loads((pytester.path / "reports" / "mlgate-decision.json").read_text())
    return result, record


def outcomes(record: dict[str, Any]) -> dict[str, str]:
    return {g["gate"].split("::")[-1]: g["outcome"] for g in record["gates"]}


def candidate_values(record: dict[str, Any]) -> dict[str, float]:
    """Each check's candidate number by check name."""
    return {c["name"]: c["candidate"] for g in record["gates"] for c in g["checks"] if c["candidate"] is not None}


def assert_matches_own_predict(record: dict[str, Any], holdout: pd.DataFrame, proba: np.ndarray) -> None:
    """The gate's numbers are the framework's own predictions scored by scikit-learn, to 1e-9."""
    y = holdout[TARGET].to_numpy()
    values = candidate_values(record)
    assert abs(values["roc_auc@holdout"] - roc_auc_score(y, proba[:, 1])) <= 1e-9
    labels = np.argmax(proba, axis=1)
    for group in ("clinic a", "clinic b"):
        mask = (holdout["group"] == group).to_numpy()
        assert abs(values[f"accuracy[holdout, group={group}]"] - accuracy_score(y[mask], labels[mask])) <= 1e-9


def shuffled(frame: pd.DataFrame, seed: int = 1) -> pd.DataFrame:
    """The same rows with the target shuffled: a model trained on it has learnt nothing."""
    out = frame.copy()
    out[TARGET] = np.random.default_rng(seed).permutation(out[TARGET].to_numpy())
    return out


def assert_approves_and_rejects(pytester: pytest.Pytester, good: str, bad: str, *, train: pd.DataFrame,
                                holdout: pd.DataFrame, current: pd.DataFrame) -> dict[str, Any]:
    """The good model approved (exit 0, every gate passed); the bad one rejected on its scores."""
    write_project(pytester, good, train=train, holdout=holdout, current=current)
    result, record = run(pytester)
    assert record["decision"] == "approved", record["reasons"]
    assert result.ret == 0
    assert set(outcomes(record).values()) == {"passed"}
    write_project(pytester, bad, train=train, holdout=holdout, current=current)
    result, rejected = run(pytester)
    assert rejected["decision"] == "rejected"
    assert result.ret == 1
    got = outcomes(rejected)
    assert got["test_auc_floor"] == got["test_no_regression"] == got["test_accuracy_per_group"] == "failed"
    return record
