"""Metrics by name on top of sklearn.metrics, with what each needs and which way is better."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from pytest_mlgate.errors import MlgateError

Needs = Literal["label", "score", "proba", "value"]


@dataclass(frozen=True)
class Metric:
    """A named metric computed as ``fn(y_true, output, pos_label=..., classes=...)``.

    ``needs`` says which model output it takes: ``label`` (predict), ``score`` (positive-class
    probability of a binary classifier), ``proba`` (the predict_proba matrix) or ``value`` (a
    regressor's predict). ``pairing`` picks the paired confidence interval for regression gates:
    ``confusion`` (multinomial bootstrap of the joint confusion cells), ``mean`` (normal interval of
    per-row loss differences, from ``row_loss``), ``delong``, ``poisson`` (the Poisson bootstrap of
    :mod:`pytest_mlgate.evaluate.poisson`, folded in one pass) or ``bootstrap`` (rows).
    """

    name: str
    fn: Callable[..., float]
    needs: Needs = "label"
    greater_is_better: bool = True
    pairing: str = "bootstrap"
    row_loss: Callable[..., np.ndarray] | None = None

    def __call__(self, y_true: np.ndarray, output: np.ndarray, *, pos_label: Any = 1,
                 classes: np.ndarray | None = None, sample_weight: np.ndarray | None = None) -> float:
        if sample_weight is None:
            return float(self.fn(y_true, output, pos_label=pos_label, classes=classes))
        return float(self.fn(y_true, output, pos_label=pos_label, classes=classes, sample_weight=sample_weight))


def _sk(name: str) -> Callable[..., Any]:
    import sklearn.metrics

    return getattr(sklearn.metrics, name)


def _averaged(fn_name: str) -> Callable[..., float]:
    def compute(y, pred, pos_label=1, classes=None, sample_weight=None):
        binary = len(classes) <= 2 if classes is not None else len(np.union1d(np.unique(y), np.unique(pred))) <= 2
        if binary:
            return _sk(fn_name)(y, pred, pos_label=pos_label, average="binary", zero_division=0,
                                sample_weight=sample_weight)
        return _sk(fn_name)(y, pred, average="macro", zero_division=0, sample_weight=sample_weight)
    return compute


def _roc_auc(y, score, pos_label=1, classes=None):
    if score.ndim == 2:
        return _sk("roc_auc_score")(y, score, multi_class="ovr", labels=classes)
    return _sk("roc_auc_score")(np.asarray(y) == pos_label, score)


def _average_precision(y, score, pos_label=1, classes=None):
    return _sk("average_precision_score")(np.asarray(y) == pos_label, score)


def _log_loss_rows(y, proba, pos_label=1, classes=None):
    index = np.searchsorted(classes, y)
    return -np.log(np.clip(proba[np.arange(len(index)), index], 1e-15, 1.0))


def _brier_rows(y, score, pos_label=1, classes=None):
    return (score - (np.asarray(y) == pos_label)) ** 2


def _abs_rows(y, value, pos_label=None, classes=None):
    return np.abs(np.asarray(y, dtype=float) - value)


def _sq_rows(y, value, pos_label=None, classes=None):
    return (np.asarray(y, dtype=float) - value) ** 2


def _mean_of(rows: Callable[..., np.ndarray], root: bool = False) -> Callable[..., float]:
    def compute(y, out, pos_label=1, classes=None):
        mean = float(np.mean(rows(y, out, pos_label, classes)))
        return mean ** 0.5 if root else mean
    return compute


def _plain(fn_name: str) -> Callable[..., float]:
    return lambda y, out, pos_label=1, classes=None, sample_weight=None: _sk(fn_name)(
        y, out, sample_weight=sample_weight)


BUILTIN: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("accuracy", _plain("accuracy_score"), pairing="confusion"),
        Metric("balanced_accuracy", _plain("balanced_accuracy_score"), pairing="confusion"),
        Metric("precision", _averaged("precision_score"), pairing="confusion"),
        Metric("recall", _averaged("recall_score"), pairing="confusion"),
        Metric("f1", _averaged("f1_score"), pairing="confusion"),
        Metric("roc_auc", _roc_auc, needs="score", pairing="delong"),
        Metric("average_precision", _average_precision, needs="score", pairing="poisson"),
        Metric("log_loss", _mean_of(_log_loss_rows), "proba", False, "mean", _log_loss_rows),
        Metric("brier", _mean_of(_brier_rows), "score", False, "mean", _brier_rows),
        Metric("mae", _mean_of(_abs_rows), "value", False, "mean", _abs_rows),
        Metric("mse", _mean_of(_sq_rows), "value", False, "mean", _sq_rows),
        Metric("rmse", _mean_of(_sq_rows, root=True), "value", False, "poisson"),
        Metric("r2", _plain("r2_score"), "value", pairing="poisson"),
    )
}
CUSTOM: dict[str, Metric] = {}


#: Label metrics that are functions of the confusion cells alone.
CONFUSION = ("accuracy", "balanced_accuracy", "precision", "recall", "f1")


def from_cells(spec: Metric, y: np.ndarray, labels: np.ndarray, *, pos_label: Any = 1,
               classes: np.ndarray | None = None) -> float | None:
    """A built-in confusion metric computed by scikit-learn on the distinct (truth, label) pairs
    weighted by their counts: the same value as on every row (the weighted sums are the same integer
    counts), without scikit-learn's per-row validation. ``None`` when ``spec`` is not one of them
    or a label is missing."""
    import pandas as pd

    if spec.name not in CONFUSION or BUILTIN.get(spec.name) is not spec or not len(y):
        return None
    truth, truths = pd.factorize(np.asarray(y))
    label, known = pd.factorize(np.asarray(labels))
    if truth.min() < 0 or label.min() < 0:
        return None
    k = len(known)
    counts = np.bincount(truth * k + label, minlength=len(truths) * k)
    cells = np.flatnonzero(counts)
    return spec(np.asarray(truths)[cells // k], np.asarray(known)[cells % k], pos_label=pos_label,
                classes=classes, sample_weight=counts[cells])


def _wrap(fn: Callable[..., float]) -> Callable[..., float]:
    return lambda y, out, pos_label=1, classes=None: fn(y, out)


def register_metric(name: str, fn: Callable[..., float], *, needs: Needs = "label",
                    greater_is_better: bool = True) -> Metric:
    """Make ``fn(y_true, output)`` usable by name in every gate (e.g. from a conftest)."""
    CUSTOM[name] = Metric(name, _wrap(fn), needs, greater_is_better)
    return CUSTOM[name]


def resolve(metric: str | Callable[..., float] | Metric, *, needs: Needs | None = None,
            greater_is_better: bool | None = None) -> Metric:
    """A Metric from a name, a Metric, or a plain ``fn(y_true, output)`` callable."""
    if isinstance(metric, Metric):
        return metric
    if callable(metric):
        better = True if greater_is_better is None else greater_is_better
        return Metric(getattr(metric, "__name__", "custom"), _wrap(metric), needs or "label", better)
    found = CUSTOM.get(metric) or BUILTIN.get(metric)
    if found is None:
        known = ", ".join(sorted({*BUILTIN, *CUSTOM}))
        raise MlgateError(f"unknown metric '{metric}' (known: {known}; or pass a callable)")
    return found
