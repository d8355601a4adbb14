"""The recommended suite on bundled scikit-learn data: good candidates pass, planted faults do not.

Each run splits a dataset at random into training (the reference), holdout and a current batch,
trains a good candidate and a good baseline (logistic or ridge regression on different bootstrap
samples of the training rows), plants one fault or none, runs the recommended suite's checks and
folds them into a decision with the plugin's own rule.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import datasets
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from pytest_mlgate.checks import data_quality, drift, leakage, performance, schemas
from pytest_mlgate.checks.profile import Profile
from pytest_mlgate.checks.schema_infer import infer
from pytest_mlgate.decision import GateResult, decide, gate_severity
from pytest_mlgate.evaluate.models import Dataset, ModelUnderTest

BUNDLED = ("breast_cancer", "wine", "diabetes", "digits", "iris")
FAULTS = ("degraded", "drifted", "copied label", "label-derived in training", "broken")
SEEDS = 3


def fit(frame: pd.DataFrame, seed: int, shuffle: float = 0.0):
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, len(frame), len(frame))  # a bootstrap sample: two good models differ a little
    X, y = frame.drop(columns="target").iloc[rows], frame["target"].to_numpy()[rows].copy()
    if shuffle:  # a degraded model: part of its training labels scrambled
        flip = rng.random(len(y)) < shuffle
        y[flip] = rng.permutation(y[flip])
    regression = frame["target"].dtype.kind == "f"
    estimator = Ridge() if regression else LogisticRegression(max_iter=500)
    return make_pipeline(StandardScaler(), estimator).fit(X, y)


def plant(fault: str | None, train, holdout, current, rng):
    """Datasets after planting ``fault``; the candidate is trained on the returned training data."""
    y = train["target"].to_numpy(dtype=float)
    if fault == "copied label":
        train, holdout = (f.assign(leak=f["target"].to_numpy(dtype=float)) for f in (train, holdout))
        current = current.assign(leak=current["target"].to_numpy(dtype=float))
    elif fault == "label-derived in training":
        train = train.assign(leak=y + rng.normal(0, 0.3 * y.std(), len(y)))
        holdout, current = (f.assign(leak=rng.normal(y.mean(), y.std(), len(f))) for f in (holdout, current))
    elif fault == "drifted":
        column = rng.choice([c for c in current.columns if c != "target"])
        spread = train[column].std() or 1.0
        current = current.assign(**{column: current[column] + 4 * spread})
    elif fault == "broken":
        column = rng.choice([c for c in holdout.columns if c != "target" and train[c].min() >= 0] or ["target"])
        holdout = holdout.copy()
        holdout.loc[holdout.index[: max(2, len(holdout) // 20)], column] = -1.0
    return train, holdout, current


def suite(train, holdout, current, candidate, baseline) -> list[GateResult]:
    """The recommended suite's checks, one gate each, as the plugin records them."""
    ref, hold, cur = (Dataset(n, f.reset_index(drop=True), "target") for n, f in
                      (("reference", train), ("holdout", holdout), ("current", current)))
    # DeLong's interval for a binary AUC and the confusion bootstrap for multiclass accuracy are cheap
    metric, allowance = {"f": ("rmse", {"max_relative_drop": 0.10})}.get(
        train["target"].dtype.kind, ("roc_auc", {"max_absolute_drop": 0.02}) if train["target"].nunique() == 2
        else ("accuracy", {"max_absolute_drop": 0.10}))
    gates = {
        "schema[holdout]": [schemas.validate(hold, infer(train), "inferred", stats=Profile(hold.frame))],
        "schema[current]": [schemas.validate(cur, infer(train), "inferred", stats=Profile(cur.frame))],
        "leakage": [leakage.label_leakage(hold, ref, "target", model=candidate)],
        "regression": performance.regression(metric, hold, candidate, baseline, n_boot=200, **allowance),
        "outliers[current]": [data_quality.outliers(cur, reference=ref)],
        "drift[current]": drift.data_drift(train, current, exclude=["target"]),
    }
    results = []
    for name, checks in gates.items():
        failed = any(c.failed for c in checks)
        message = "; ".join(c.message for c in checks if c.failed)
        results.append(GateResult(name, "failed" if failed else "passed",
                                  gate_severity(None, checks, by_checks=True), message=message, checks=checks))
    return results


def run(name: str, seed: int, fault: str | None) -> tuple[str, list[str]]:
    frame = getattr(datasets, f"load_{name}")(as_frame=True).frame
    stratify = None if name == "diabetes" else frame["target"]
    train, rest = train_test_split(frame, test_size=0.6, random_state=seed, stratify=stratify)
    holdout, current = train_test_split(rest, test_size=1 / 3, random_state=seed)
    rng = np.random.default_rng(seed)
    train, holdout, current = plant(fault, train, holdout, current, rng)
    baseline_train = train.drop(columns=[c for c in train.columns if c == "leak"])  # it predates the leak
    candidate = ModelUnderTest("candidate", fit(train, seed, shuffle=0.8 if fault == "degraded" else 0.0))
    baseline = ModelUnderTest("baseline", fit(baseline_train, seed + 1000))
    decision = decide(suite(train, holdout, current, candidate, baseline))
    return decision.status, decision.reasons


@pytest.fixture(scope="module")
def outcomes() -> dict[tuple[str, str | None], list[str]]:
    found: dict[tuple[str, str | None], list[str]] = {}
    for name in BUNDLED:
        for fault in (None, *FAULTS):
            found[(name, fault)] = [run(name, seed, fault)[0] for seed in range(SEEDS)]
    return found


def test_no_faulty_candidate_is_approved(outcomes):
    approved = {k: v.count("approved") for k, v in outcomes.items() if k[1] is not None and "approved" in v}
    assert approved == {}


def test_at_most_five_percent_of_good_candidates_are_held_back(outcomes):
    good = [status for (name, fault), statuses in outcomes.items() if fault is None for status in statuses]
    held = sum(status != "approved" for status in good)
    assert held / len(good) <= 0.05, {k: v for k, v in outcomes.items() if k[1] is None}


def test_the_decision_is_the_same_across_seeds_for_good_candidates(outcomes):
    """Good candidate and baseline differ by less than the noise: every seed decides alike."""
    assert {k: set(v) for k, v in outcomes.items() if k[1] is None} == \
        {(name, None): {"approved"} for name in BUNDLED}
