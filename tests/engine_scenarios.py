"""A seeded project with partitioned Parquet datasets, and every row-reading gate run on it.

Used to check that in-memory, streamed and Dask evaluation give the same checks: exact where the
statistics are exact, within the documented bound where they are binned or sketched.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pytest_mlgate.config import build
from pytest_mlgate.decision import Check
from pytest_mlgate.evaluate.workspace import Workspace
from pytest_mlgate.gates import MlGate

STRONG = ["income", "debt", "age", "tenure"]
GOOD = ["income", "debt", "age"]
TINY_BUDGET = "32KiB"   # forces chunks of a few hundred rows
#: Measured agreement where no bound is guaranteed (see the README's streaming section).
BINNED_TOLERANCE = 1e-3


def frame(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    """Credit-style rows: numeric features (one with natural ties), categories, a sensitive
    attribute, a column with missing values, and a target."""
    rng = np.random.default_rng(seed)
    data = pd.DataFrame({
        "income": rng.normal(shift, 1, n),
        "debt": rng.normal(0, 1, n),
        "age": rng.normal(0, 1, n),
        "tenure": np.round(rng.exponential(3, n)).astype(int),
        "region": rng.choice(["north", "south", "east"], n, p=[0.5, 0.45, 0.05]),
        "sex": rng.choice(["f", "m"], n),
        "branch": np.where(rng.random(n) < 0.02, None, rng.choice(["a", "b"], n)),
    })
    logit = 1.5 * data["income"] - 1.2 * data["debt"] + 0.6 * data["age"] + 0.1 * data["tenure"] - 0.3
    data["defaulted"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return data


def copy_project(project: Path, destination: Path) -> None:
    """Every file and directory of ``project`` into ``destination`` (a pytester directory)."""
    for item in project.iterdir():
        (shutil.copytree if item.is_dir() else shutil.copy)(item, destination / item.name)


def write_parts(data: pd.DataFrame, directory: Path, parts: int) -> None:
    directory.mkdir(parents=True)
    for i, piece in enumerate(np.array_split(np.arange(len(data)), parts)):
        data.iloc[piece].to_parquet(directory / f"part-{i:03d}.parquet", index=False)


def write_models_and_parts(root: Path, estimator: Any, target: str, baseline: list[str], data: Any) -> Path:
    """Candidate (``STRONG`` features) and baseline (``baseline``) ``estimator`` models of ``target``,
    fitted on ``data(1)`` (also the reference), and the holdout ``data(2)`` and shifted current
    ``data(3)``, each written as partitioned Parquet."""
    import skops.io as sio

    train = data(1)
    for name, features in (("candidate", STRONG), ("baseline", baseline)):
        sio.dump(estimator().fit(train[features], train[target]), root / f"{name}.skops")
    for name, seed, parts in (("reference", 1, 3), ("holdout", 2, 4), ("current", 3, 5)):
        write_parts(train if seed == 1 else data(seed), root / name, parts)
    return root


def _shift(seed: int) -> float:
    return 0.25 if seed == 3 else 0.0


def write_project(root: Path, rows: int = 12_000) -> Path:
    """Models and three partitioned datasets (train as reference, holdout, a shifted current)."""
    from sklearn.linear_model import LogisticRegression

    return write_models_and_parts(root, LogisticRegression, "defaulted", GOOD,
                                  lambda seed: frame(rows, seed=seed, shift=_shift(seed)))


def write_regression_project(root: Path, rows: int = 6_000) -> Path:
    """Two regressors of a float target (``amount``) and the same three partitioned datasets."""
    from sklearn.linear_model import LinearRegression

    def amounts(seed: int) -> pd.DataFrame:
        data = frame(rows, seed=seed, shift=_shift(seed))
        noise = np.random.default_rng(10 + seed).normal(0, 1, len(data))
        return data.assign(amount=2 * data["income"] - data["debt"] + 0.5 * data["age"] + noise).drop(
            columns="defaulted")

    return write_models_and_parts(root, LinearRegression, "amount", ["income", "debt"], amounts)


TIERS = np.array(["high", "low", "mid"])  # the multi-class target's labels (sorted: the models' classes)


def tiers(seed: int, rows: int) -> pd.DataFrame:
    """Rows with a three-class target (``tier``) drawn from a softmax of their features."""
    data = frame(rows, seed=seed, shift=_shift(seed))
    logits = np.column_stack([1.2 * data["income"] - 0.5 * data["debt"], 0.8 * data["debt"] + 0.2 * data["tenure"],
                              0.4 * data["age"] - 0.6 * data["income"]])
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    draw = np.random.default_rng(20 + seed).random(len(data))[:, None] > np.cumsum(p, axis=1)
    return data.assign(tier=TIERS[np.minimum(draw.sum(axis=1), 2)]).drop(columns="defaulted")


def write_multiclass_project(root: Path, rows: int = 6_000) -> Path:
    """Two three-class classifiers of ``tier`` and the same three partitioned datasets."""
    from sklearn.linear_model import LogisticRegression

    return write_models_and_parts(root, LogisticRegression, "tier", ["income", "age"], lambda seed: tiers(seed, rows))


def workspace(root: Path, **settings: Any) -> Workspace:
    table = {"candidate": "candidate.skops", "baseline": "baseline.skops", "target": "defaulted",
             "sensitive": ["sex"], "bootstrap": 200,
             "datasets": {"holdout": "holdout", "reference": "reference", "current": "current/*.parquet"}}
    return Workspace(build(root, {**table, **settings}))


def run_gates(ws: Workspace) -> list[Check]:
    """Every gate family that reads rows, as a gate file would call them; the checks they record."""
    gate = MlGate("scenario", ws)
    calls = [
        lambda: [gate.at_least(m, 0.86, by="region") for m in ("accuracy", "balanced_accuracy", "precision",
                                                               "recall", "f1", "roc_auc", "average_precision")],
        lambda: [gate.at_most(m, 0.5, where="age > 0") for m in ("log_loss", "brier")],
        lambda: gate.at_least("f1", 0.7, by="region", where="income > 2.5", min_size=30),
        lambda: [gate.no_regression(m, max_absolute_drop=0.005, criterion=c)
                 for m, c in (("accuracy", "point"), ("f1", "non_inferiority"), ("roc_auc", "significant"),
                              ("log_loss", "non_inferiority"), ("brier", "point"))],
        lambda: gate.no_regression("balanced_accuracy", max_relative_drop=0.01, by="sex", criterion="significant"),
        lambda: gate.fairness("sex", "selection_rate", min_ratio=0.8),
        lambda: gate.fairness(["sex", "region"], "true_positive_rate", max_equalized_odds=0.2),
        lambda: gate.fairness_no_regression("sex", "selection_rate", measure="difference", margin=0.02),
        lambda: gate.fairness("sex", "roc_auc", min_ratio=0.97, max_difference=0.01),
        lambda: gate.fairness("sex", "log_loss", max_difference=0.05, max_value=0.45),
        lambda: gate.fairness_no_regression("sex", "roc_auc", measure="ratio", margin=0.01),
        lambda: gate.no_drift("reference", "current"),
        lambda: gate.no_drift("reference", "holdout", features=["income", "tenure", "region"]),
        lambda: gate.no_missing("holdout", max_rate=0.01),
        lambda: gate.no_concept_drift("accuracy", "current", max_drop=0.02),
        lambda: gate.no_label_drift("reference", "current"),
        lambda: gate.no_drift("reference", "current", features=["tenure"], categorical=["tenure"]),
        lambda: [gate.no_regression(m, max_absolute_drop=0.005, where="age > 0", criterion="non_inferiority")
                 for m in ("precision", "recall", "average_precision")],
        lambda: gate.no_regression("average_precision", max_absolute_drop=0.005, by="region"),
        lambda: gate.no_concept_drift("average_precision", "current", max_drop=0.02),
        lambda: gate.no_prediction_drift("reference", "current"),
        lambda: gate.no_prediction_drift("reference", "holdout", model="baseline"),
    ]
    return _run(gate, calls)


def run_regression_gates(ws: Workspace) -> list[Check]:
    """The gates of a regression model (:func:`write_regression_project`): every loss, R² and their
    intervals (paired normal, Poisson bootstrap), slices, label, prediction and feature drift."""
    gate = MlGate("regression", ws)
    calls = [
        lambda: [gate.at_most(m, 1.1, by="region") for m in ("mae", "mse", "rmse")],
        lambda: gate.at_least("r2", 0.8, where="age > 0"),
        lambda: [gate.no_regression(m, max_relative_drop=0.01, criterion=c)
                 for m, c in (("mae", "point"), ("mse", "significant"), ("rmse", "non_inferiority"), ("r2", "point"))],
        lambda: gate.no_regression("r2", max_absolute_drop=0.01, by="region", where="income > -1"),
        lambda: gate.no_concept_drift("rmse", "current", max_drop=0.05),
        lambda: gate.no_concept_drift("r2", "current", max_drop=0.05),
        lambda: gate.no_label_drift("reference", "current"),
        lambda: gate.no_prediction_drift("reference", "current"),
        lambda: gate.no_drift("reference", "holdout"),
        lambda: gate.no_missing("current", max_rate=0.01),
    ]
    return _run(gate, calls)


def tier_spread(y: np.ndarray, labels: np.ndarray) -> float:
    """A custom label metric (no mergeable statistic): the share of rows predicted ``high`` or ``low``."""
    return float(np.isin(labels, ["high", "low"]).mean())


def run_multiclass_gates(ws: Workspace) -> list[Check]:
    """The gates of a three-class classifier (:func:`write_multiclass_project`): macro ROC AUC and its
    Poisson bootstrap intervals on slices, label and loss metrics, and a custom metric."""
    gate = MlGate("multiclass", ws)
    calls = [
        lambda: gate.at_least("roc_auc", 0.8, by="region"),
        lambda: gate.at_least("roc_auc", 0.8, where="age > 0"),
        lambda: [gate.at_least(m, 0.6, by="sex") for m in ("accuracy", "f1", "balanced_accuracy")],
        lambda: gate.at_most("log_loss", 0.9),
        lambda: [gate.no_regression("roc_auc", max_absolute_drop=0.005, criterion=c)
                 for c in ("point", "significant", "non_inferiority")],
        lambda: gate.no_regression("roc_auc", max_absolute_drop=0.01, by="region", criterion="non_inferiority"),
        lambda: gate.no_regression("roc_auc", max_absolute_drop=0.02, by="sex", where="income > 0"),
        lambda: gate.no_concept_drift("roc_auc", "current", max_drop=0.02),
        lambda: gate.at_most(tier_spread, 0.9, by="sex"),
        lambda: gate.no_regression(tier_spread, max_absolute_drop=0.05, criterion="non_inferiority"),
    ]
    return _run(gate, calls)


def _run(gate: MlGate, calls: list[Any]) -> list[Check]:
    for call in calls:
        try:
            call()
        except AssertionError:
            pass  # a failing check is recorded; the comparison is over all of them
    return gate.checks


def assert_same_checks(expected: list[Check], got: list[Check]) -> None:
    """Same checks, outcomes and numbers: exact, or within the bound the check carries."""
    assert [c.name for c in got] == [c.name for c in expected]
    for want, have in zip(expected, got):
        assert have.outcome == want.outcome, (want.name, want.message, have.message)
        tolerance = _tolerance(want, have)
        for field in ("candidate", "baseline", "delta"):
            _close(getattr(want, field), getattr(have, field), tolerance, f"{want.name} {field}")
        if want.details.get("ci_method") == "Poisson bootstrap":
            assert have.details["ci_method"] == "Poisson bootstrap", want.name
        assert (want.ci is None) == (have.ci is None), (want.name, want.ci, have.ci)
        for a, b in zip(want.ci or (), have.ci or (), strict=True):
            _close(a, b, _ci_tolerance(want, tolerance), f"{want.name} ci")
        if want.kind == "drift" and "table" in want.details:
            _same_drift_rows(want.details["table"], have.details["table"])
        if want.kind == "fairness" and "table" in want.details:
            _same_fairness_rows(want.details["table"], have.details["table"], want.name)


def _ci_tolerance(want: Check, tolerance: float) -> float:
    if want.details.get("ci_method") == "Poisson bootstrap" or want.kind == "fairness":
        return 1e-9  # the same replicates (or cells) on every engine (float sums up to rounding)
    return BINNED_TOLERANCE if want.metric == "roc_auc" else tolerance


def _same_fairness_rows(expected: list[dict[str, Any]], got: list[dict[str, Any]], name: str) -> None:
    """Group rows: rates and their intervals exact, ROC AUC within the row's error bound, losses up to
    rounding; the Poisson intervals of scores and losses agree (the same replicates)."""
    assert len(got) == len(expected), name
    for want, have in zip(expected, got):
        assert {k for k in want if not k.endswith("_error_bound")} == \
            {k for k in have if not k.endswith("_error_bound")}, (name, want, have)
        for key, value in want.items():
            metric = key.removesuffix("_ci")
            if isinstance(value, float):
                bound = have.get(f"{key}_error_bound", BINNED_TOLERANCE if key == "average_precision" else 1e-9)
                _close(value, have[key], bound, f"{name} {want['group']} {key}")
            elif isinstance(value, list):
                for a, b in zip(value, have[key], strict=True):
                    _close(a, b, 1e-9, f"{name} {want['group']} {metric} ci")
            else:
                assert have[key] == value, (name, want["group"], key)


def _tolerance(want: Check, have: Check) -> float:
    if "error_bound" in have.details and want.kind == "fairness":
        return have.details["error_bound"]
    if want.metric == "roc_auc":
        return 2 * have.details.get("error_bound", BINNED_TOLERANCE / 2)
    if want.metric == "average_precision":
        return BINNED_TOLERANCE
    return 1e-9


def _close(a: float | None, b: float | None, tolerance: float, what: str) -> None:
    if a is None or b is None or (isinstance(a, float) and math.isnan(a)):
        assert a == b or (a is not None and b is not None and math.isnan(b)), what
        return
    assert abs(a - b) <= tolerance + 1e-12 * max(1.0, abs(a)), f"{what}: {a} vs {b} (tolerance {tolerance})"


def _same_drift_rows(expected: list[dict[str, Any]], got: list[dict[str, Any]]) -> None:
    by_feature = {r["feature"]: r for r in got}
    for want in expected:
        have = by_feature[want["feature"]]
        assert have["outcome"] == want["outcome"], want["feature"]
        assert have.get("drifted") == want.get("drifted"), want["feature"]
        for key in ("null_reference", "null_current", "rows_reference", "rows_current"):
            assert have[key] == want[key], (want["feature"], key)
        if want["kind"] == "categorical":
            for key in ("psi", "tvd", "new_share", "p_value"):
                _close(want[key], have[key], 1e-9, f"{want['feature']} {key}")
        elif "ks" in want:
            _close(want["ks"], have["ks"], have.get("ks_bound", 0.0), f"{want['feature']} ks")
            _close(want["wasserstein"], have["wasserstein"], have.get("wasserstein_bound", 0.0),
                   f"{want['feature']} wasserstein")
