"""Metric values and confidence intervals against sklearn and a plain row bootstrap."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from pytest_mlgate.errors import MlgateError
from pytest_mlgate.evaluate.metrics import (
    BUILTIN,
    CONFUSION,
    Metric,
    from_cells,
    register_metric,
    resolve,
)
from pytest_mlgate.evaluate.stats import interval


@pytest.fixture(scope="module")
def binary():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 3000)
    s1 = np.clip(y * 0.3 + rng.normal(0.35, 0.25, len(y)), 0.001, 0.999)
    s2 = np.clip(y * 0.2 + rng.normal(0.4, 0.25, len(y)), 0.001, 0.999)
    return y, s1, s2


@pytest.mark.parametrize(("name", "reference"), [
    ("accuracy", skm.accuracy_score), ("f1", skm.f1_score), ("precision", skm.precision_score),
    ("recall", skm.recall_score), ("balanced_accuracy", skm.balanced_accuracy_score),
])
def test_label_metrics_match_sklearn(binary, name, reference):
    y, s1, _ = binary
    pred = (s1 > 0.5).astype(int)
    assert BUILTIN[name](y, pred) == pytest.approx(reference(y, pred))


@pytest.mark.parametrize("labels", [None, np.array(["no", "maybe", "yes"], dtype=object), np.array([0, 1, 2, 3])])
@pytest.mark.parametrize("name", CONFUSION)
def test_confusion_metrics_from_cells_equal_the_row_level_values(name, labels):
    rng = np.random.default_rng(7)
    k = 2 if labels is None else len(labels)
    y = rng.integers(0, k, 5000)
    pred = np.where(rng.random(len(y)) < 0.7, y, rng.integers(0, k, len(y)))
    if labels is not None:
        y, pred = labels[y], labels[pred]
    classes = np.unique(y)
    spec = BUILTIN[name]
    exact = spec(y, pred, pos_label=classes[-1], classes=classes)
    assert from_cells(spec, y, pred, pos_label=classes[-1], classes=classes) == exact  # not approx: the same value
    custom = Metric(name, spec.fn)
    assert from_cells(custom, y, pred) is None  # a metric that is not the built-in one gets every row


def test_score_and_loss_metrics_match_sklearn(binary):
    y, s1, _ = binary
    proba = np.column_stack([1 - s1, s1])
    assert BUILTIN["roc_auc"](y, s1) == pytest.approx(skm.roc_auc_score(y, s1))
    assert BUILTIN["average_precision"](y, s1) == pytest.approx(skm.average_precision_score(y, s1))
    assert BUILTIN["brier"](y, s1) == pytest.approx(skm.brier_score_loss(y, s1))
    assert BUILTIN["log_loss"](y, proba, classes=np.array([0, 1])) == pytest.approx(skm.log_loss(y, proba))


def test_regression_metrics_match_sklearn():
    y, v = np.array([1.0, 2.0, 4.0, 8.0]), np.array([1.5, 2.0, 3.0, 9.0])
    assert BUILTIN["mae"](y, v) == pytest.approx(skm.mean_absolute_error(y, v))
    assert BUILTIN["rmse"](y, v) == pytest.approx(skm.root_mean_squared_error(y, v))
    assert BUILTIN["r2"](y, v) == pytest.approx(skm.r2_score(y, v))
    assert not BUILTIN["rmse"].greater_is_better and BUILTIN["r2"].greater_is_better


def test_multiclass_label_metrics_are_macro_averaged():
    y, p = np.array([0, 1, 2, 2, 1, 0]), np.array([0, 2, 2, 2, 1, 1])
    assert BUILTIN["f1"](y, p) == pytest.approx(skm.f1_score(y, p, average="macro"))


def test_custom_metrics_by_callable_and_by_name():
    def hits(y, p):
        return float(np.sum(y == p))

    assert resolve(hits)(np.array([1, 0]), np.array([1, 1])) == 1.0
    register_metric("hits", hits, greater_is_better=True)
    assert resolve("hits").name == "hits"
    with pytest.raises(MlgateError, match="unknown metric 'nope'"):
        resolve("nope")


def _row_bootstrap(metric: Metric, y, outputs, **kw):
    plain = Metric(metric.name, metric.fn, metric.needs, metric.greater_is_better, "bootstrap")
    return interval(plain, y, outputs, pos_label=1, classes=np.array([0, 1]), confidence=0.95, n_boot=400,
                    seed=1, **kw)


@pytest.mark.parametrize("name", ["accuracy", "f1", "recall", "balanced_accuracy"])
def test_confusion_bootstrap_agrees_with_row_bootstrap(binary, name):
    y, s1, s2 = binary
    p1, p2 = (s1 > 0.5).astype(int), (s2 > 0.5).astype(int)
    metric = BUILTIN[name]
    low, high, method = interval(metric, y, [p1, p2], pos_label=1, classes=None, confidence=0.95, n_boot=2000,
                                 seed=0)
    ref_low, ref_high, _ = _row_bootstrap(metric, y, [p1, p2])
    assert method == "confusion bootstrap"
    width = ref_high - ref_low
    assert low == pytest.approx(ref_low, abs=0.15 * width) and high == pytest.approx(ref_high, abs=0.15 * width)
    delta = metric(y, p1) - metric(y, p2)
    assert low < delta < high


@pytest.mark.parametrize(("name", "expected_method"), [("roc_auc", "DeLong"), ("brier", "paired normal")])
def test_analytic_intervals_agree_with_row_bootstrap(binary, name, expected_method):
    y, s1, s2 = binary
    low, high, method = interval(BUILTIN[name], y, [s1, s2], pos_label=1, classes=None, confidence=0.95,
                                 n_boot=10, seed=0)
    ref_low, ref_high, _ = _row_bootstrap(BUILTIN[name], y, [s1, s2])
    assert method == expected_method
    width = ref_high - ref_low
    assert low == pytest.approx(ref_low, abs=0.15 * width) and high == pytest.approx(ref_high, abs=0.15 * width)


def test_single_model_interval_covers_the_value(binary):
    y, s1, _ = binary
    pred = (s1 > 0.5).astype(int)
    low, high, _ = interval(BUILTIN["accuracy"], y, [pred], pos_label=1, classes=None, confidence=0.95,
                            n_boot=1000, seed=0)
    assert low < skm.accuracy_score(y, pred) < high
    low, high, _ = interval(BUILTIN["roc_auc"], y, [s1], pos_label=1, classes=None, confidence=0.95,
                            n_boot=10, seed=0)
    assert low < skm.roc_auc_score(y, s1) < high


def test_delong_matches_the_rank_formulation_with_ties():
    from scipy import stats as st

    from pytest_mlgate.evaluate.stats import _delong

    rng = np.random.default_rng(0)
    positive = rng.random(5000) < 0.3
    a = np.round(positive * 0.5 + rng.normal(0, 1, 5000), 1)  # rounded: many ties
    b = np.round(positive * 0.3 + rng.normal(0, 1, 5000), 1)
    m, n = positive.sum(), (~positive).sum()
    v01, v10, aucs = [], [], []
    for score in (a, b):  # DeLong via midranks (Sun & Xu)
        pos, neg = score[positive], score[~positive]
        tx, ty, tz = st.rankdata(pos), st.rankdata(neg), st.rankdata(np.concatenate([pos, neg]))
        aucs.append((tz[:m].sum() - m * (m + 1) / 2) / (m * n))
        v01.append((tz[:m] - tx) / n)
        v10.append(1 - (tz[m:] - ty) / m)
    cov = np.cov(np.array(v01)) / m + np.cov(np.array(v10)) / n
    half = st.norm.ppf(0.975) * np.sqrt(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    delta = aucs[0] - aucs[1]
    assert delta == pytest.approx(skm.roc_auc_score(positive, a) - skm.roc_auc_score(positive, b))
    assert _delong(positive, [a, b], 0.95) == pytest.approx((delta - half, delta + half), rel=1e-9)


#: average precision as a metric without a mergeable statistic: resampled by rows
ROW_AP = Metric("row_ap", BUILTIN["average_precision"].fn, needs="score")


def test_row_bootstrap_drops_resamples_where_the_metric_is_undefined():
    import warnings

    rng = np.random.default_rng(0)
    y = np.zeros(40, int)
    y[:2] = 1  # most resamples of 40 rows still draw a positive; some do not
    s1, s2 = rng.random(40), rng.random(40)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a gate suite with filterwarnings=error must not break
        low, high, method = interval(ROW_AP, y, [s1, s2], pos_label=1, classes=None, confidence=0.95,
                                     n_boot=200, seed=0)
    assert method == "row bootstrap"
    assert np.isfinite(low) and np.isfinite(high) and low < high
    delta = BUILTIN["average_precision"](y, s1) - BUILTIN["average_precision"](y, s2)
    assert -1 <= low < delta < high <= 1
