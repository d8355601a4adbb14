"""The recommended suite, run as a user runs it: good candidates pass, planted faults do not.

Each run writes a project — training data (the reference), holdout and current batch as Parquet,
the candidate and the baseline as skops files, a pyproject.toml, and the recommended gate file
itself (the example project's ``gates/test_recommended.py``, the README's block) — runs pytest on
it with the plugin and reads the decision from the decision file the plugin writes.

Data: the five bundled scikit-learn datasets split at random into 40% training, 40% holdout and 20%
current batch, with a sensitive column derived from the data (``group``: whether the row's first
feature is above its median), and a synthetic credit-style set whose ``group`` is a model input.
Good candidate and baseline: the same learner on two random 90% samples of the training rows
(logistic or ridge regression; gradient-boosted trees on the synthetic set).
"""

from __future__ import annotations

import importlib
import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import datasets
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

SUITE = Path(__file__).resolve().parents[1] / "example_project" / "gates" / "test_recommended.py"
BUNDLED = ("breast_cancer", "wine", "diabetes", "digits", "iris")
GOOD_SEEDS = range(8)
FAULT_SEEDS = range(2)
FAULTS = ("degraded", "drifted", "noisy label copy", "label-derived in training", "broken")
#: the gate of the recommended suite each planted fault is there for: it must be among the failures
CATCHES = {"degraded": "test_no_regression", "drifted": "test_batch_is_like_training",
           "noisy label copy": "test_no_label_leakage", "label-derived in training": "test_no_label_leakage",
           "broken": "test_holdout_and_batch_match_the_training_schema", "biased": "test_no_regression_in_any_group"}
TREES = "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"
# imported before the first run: pytester drops the modules a run imports, so each run would import
# them again (seconds each), and pyarrow refuses pandas' Parquet types registered a second time
PRELOAD = ("pandera", "pandera.backends.pandas.register", "pandera.accessors.pandas_accessor",
           "pandera.backends.pandas.builtin_checks", "pandera.backends.pandas.builtin_hypotheses",
           "pandera.strategies.pandas_strategies", "pandera.api.geopandas.model", "skops.io", "pyarrow.parquet",
           "pyarrow.dataset", "pyarrow.pandas_compat", "pandas.core.arrays.arrow.extension_types",
           *(f"pytest_mlgate.{name}" for name in (
               "plugin", "gates", "session", "suite", "sources_builtin", "validation", "hookspecs", "engines.select",
               "evaluate.workspace", "evaluate.cache", "evaluate.skops_files", "evaluate.streamed",
               "checks.ratchet", "lifecycle.loop", "lifecycle.registry", "lifecycle.audit", "lifecycle.review",
               "lifecycle.approvals", "lifecycle.promotion", "monitoring.monitor", "serving.inprocess",
               "reports.terminal", "reports.junit", "reports.html", "reports.markdown", "reports.junit_pytest")))


@pytest.fixture(autouse=True, scope="module")
def preloaded(tmp_path_factory):
    """The run's modules imported once, and one thread per library (two xdist workers share two cores)."""
    from threadpoolctl import threadpool_limits

    for module in PRELOAD:
        importlib.import_module(module)
    warm = tmp_path_factory.mktemp("warm") / "warm.parquet"
    pd.DataFrame({"x": [1.0]}).to_parquet(warm)
    pd.read_parquet(warm)
    with threadpool_limits(1):
        yield


def synthetic(seed: int = 0, n: int = 2000) -> pd.DataFrame:
    """Credit-style binary data: four numeric features and a group (30% of rows) the model sees."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(n, 4)), columns=["x1", "x2", "x3", "x4"])
    frame["group"] = (rng.random(n) < 0.3).astype(int)
    logit = 1.5 * frame["x1"] - 1.2 * frame["x2"] + 0.8 * frame["x3"] * frame["x4"]
    frame["target"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


def load(name: str) -> pd.DataFrame:
    if name == "synthetic":
        return synthetic()
    frame = getattr(datasets, f"load_{name}")(as_frame=True).frame
    first = frame.columns[0]
    return frame.assign(group=(frame[first] > frame[first].median()).astype(int))


def split(frame: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    stratify = frame["target"] if frame["target"].dtype.kind != "f" else None
    train, rest = train_test_split(frame, test_size=0.6, random_state=seed, stratify=stratify)
    holdout, current = train_test_split(rest, test_size=1 / 3, random_state=seed)
    return train, holdout, current


def fit(name: str, frame: pd.DataFrame, seed: int, scramble: pd.Series | None = None):
    """The learner on a random 90% of ``frame``'s rows (two good models differ a little, as a model
    retrained on a refreshed window does); the labels of the rows in ``scramble`` shuffled among
    themselves, 80% of them."""
    rng = np.random.default_rng(seed)
    inputs = [c for c in frame.columns if c != "target" and (c != "group" or name == "synthetic")]
    y = frame["target"].to_numpy().copy()
    if scramble is not None:
        flip = scramble.to_numpy() & (rng.random(len(y)) < 0.8)
        y[flip] = rng.permutation(y[flip])
    rows = rng.choice(len(frame), int(0.9 * len(frame)), replace=False)
    if name == "synthetic":
        model = HistGradientBoostingClassifier(max_iter=60, random_state=seed)
    else:
        model = make_pipeline(StandardScaler(), Ridge() if frame["target"].dtype.kind == "f"
                              else LogisticRegression(max_iter=500))
    return model.fit(frame[inputs].iloc[rows], y[rows])


def noisy_copy(y: pd.Series, rng: np.random.Generator) -> np.ndarray:
    """The label with 3% of rows moved to another class, or plus Gaussian noise of a quarter of its
    standard deviation for a numeric target."""
    values = y.to_numpy(dtype=float).copy()
    if y.dtype.kind == "f":
        return values + rng.normal(0, 0.25 * values.std(), len(values))
    rows = rng.choice(len(values), round(0.03 * len(values)), replace=False)
    classes = np.unique(values)
    values[rows] = [rng.choice(classes[classes != v]) for v in values[rows]]
    return values


def plant(fault: str | None, train, holdout, current, rng):
    """The datasets after planting ``fault``; the candidate is trained on the training data returned."""
    if fault == "noisy label copy":
        train, holdout, current = (f.assign(leak=noisy_copy(f["target"], rng)) for f in (train, holdout, current))
    elif fault == "label-derived in training":
        y = train["target"].to_numpy(dtype=float)
        train = train.assign(leak=y + rng.normal(0, 0.3 * y.std(), len(y)))
        holdout, current = (f.assign(leak=rng.normal(y.mean(), y.std(), len(f))) for f in (holdout, current))
    elif fault == "drifted":
        column = rng.choice([c for c in current.columns if c not in ("target", "group")])
        current = current.assign(**{column: current[column] + 4 * (train[column].std() or 1.0)})
    elif fault == "broken":  # a failed join on 5% of the rows: negative values where there are none,
        features = [c for c in holdout.columns if c not in ("target", "group")]  # else missing values
        positive = [c for c in features if train[c].min() >= 0]
        column = rng.choice(positive or features)
        holdout = holdout.astype({column: float})
        holdout.loc[holdout.index[: max(2, len(holdout) // 20)], column] = -1.0 if positive else np.nan
    return train, holdout, current


CONFIG = """[tool.mlgate]
model = "{name}"
candidate = "candidate.skops"
baseline = "baseline.skops"
target = "target"
sensitive = ["group"]
skops_trusted = ["{trees}"]
no_cache = true

[tool.mlgate.datasets]
reference = "train.parquet"
holdout = "holdout.parquet"
current = "current.parquet"
"""


def gate(pytester: pytest.Pytester, name: str, seed: int, fault: str | None) -> tuple[str, list[str]]:
    """The decision of the recommended suite on one planted run, and the gates that failed."""
    import skops.io as sio

    train, holdout, current = split(load(name), seed)
    train, holdout, current = plant(fault, train, holdout, current, np.random.default_rng(seed))
    scramble = None
    if fault == "degraded":
        scramble = pd.Series(True, index=train.index)
    elif fault == "biased":  # much worse on one group: its training labels scrambled
        scramble = train["group"] == 1
    sio.dump(fit(name, train, seed, scramble), pytester.path / "candidate.skops")
    sio.dump(fit(name, train.drop(columns=["leak"], errors="ignore"), seed + 1000),
             pytester.path / "baseline.skops")  # production predates any leak
    for role, frame in (("train", train), ("holdout", holdout), ("current", current)):
        frame.reset_index(drop=True).to_parquet(pytester.path / f"{role}.parquet")
    pytester.makefile(".toml", pyproject=CONFIG.format(name=name, trees=TREES))
    (pytester.path / "gates").mkdir(exist_ok=True)
    shutil.copy(SUITE, pytester.path / "gates" / "test_recommended.py")
    decision_file = pytester.path / "reports" / "mlgate-decision.json"
    decision_file.unlink(missing_ok=True)
    with warnings.catch_warnings():  # the user's warning filters, not this suite's "error"
        warnings.resetwarnings()
        pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q", "gates")
    decision = json.loads(decision_file.read_text())
    failed = [g["gate"].rsplit("::", 1)[-1] for g in decision["gates"] if g["outcome"] not in ("passed", "skipped")]
    return decision["decision"], failed


@pytest.mark.parametrize("name", [*BUNDLED, "synthetic"])
def test_good_candidates_are_approved_on_every_seed(pytester, name):
    """A good candidate differs from the baseline by less than the noise: approved on every split
    and training seed (so at most 5% held back overall, and the same decision across seeds)."""
    decided = {seed: gate(pytester, name, seed, None) for seed in GOOD_SEEDS}
    assert {seed: d for seed, d in decided.items() if d[0] != "approved"} == {}


@pytest.mark.parametrize("fault", FAULTS)
def test_faulty_candidates_are_never_approved(pytester, fault):
    decided = {(name, seed): gate(pytester, name, seed, fault) for name in BUNDLED for seed in FAULT_SEEDS}
    print(fault, decided)  # which gates caught it: shown with -rP
    assert {k: d for k, d in decided.items() if d[0] == "approved"} == {}, decided
    assert {k: d for k, d in decided.items() if CATCHES[fault] not in d[1]} == {}, decided  # caught by its gate


def test_a_candidate_much_worse_on_one_group_is_never_approved(pytester):
    decided = {seed: gate(pytester, "synthetic", seed, "biased") for seed in range(4)}
    print("biased", decided)
    assert {seed: d for seed, d in decided.items() if d[0] == "approved"} == {}, decided
    assert {seed: d for seed, d in decided.items() if CATCHES["biased"] not in d[1]} == {}, decided
