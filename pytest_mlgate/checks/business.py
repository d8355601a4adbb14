"""Business-objective gates: what a model's decisions cost (or earn), in the business's own unit.

A classifier's decisions are its labels at the configured decision threshold; a cost matrix (the
cost of predicting ``p`` when the truth is ``t``) or a cost function ``fn(y_true, y_pred) -> cost
per row`` prices each row. A regressor's errors are priced by a cost function of the true and
predicted values. The gate judges the mean cost per prediction with the normal interval of the
per-row costs (against the baseline: of the per-row paired differences, on the same rows), the
interval :mod:`pytest_mlgate.evaluate.stats` uses for every mean loss.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pytest_mlgate.checks.recorder import Recorder
from pytest_mlgate.decision import FAILED, NOT_APPLICABLE, PASSED, Check
from pytest_mlgate.errors import MlgateError
from pytest_mlgate.evaluate.metrics import Metric
from pytest_mlgate.evaluate.models import Dataset, ModelUnderTest
from pytest_mlgate.evaluate.stats import interval

Prices = Mapping[Any, Any] | Sequence[Sequence[float]] | Callable[..., Any]
CRITERIA = ("point", "significant", "non_inferiority", "superiority")
SHORTHAND = ("tp", "fp", "fn", "tn")
THRESHOLD_GRID = 200


@dataclass(frozen=True)
class Objective:
    """Prices per row: ``kind`` is ``cost`` (lower is better) or ``value`` (higher is better)."""

    kind: str
    prices: Prices
    unit: str

    @property
    def lower_is_better(self) -> bool:
        return self.kind == "cost"

    @property
    def name(self) -> str:
        return f"expected_{self.kind} ({self.unit})" if self.unit else f"expected_{self.kind}"

    def money(self, amount: float) -> str:
        return f"{amount:.4g} {self.unit}".rstrip()

    def rows(self, model: ModelUnderTest, y: np.ndarray, pred: np.ndarray) -> np.ndarray:
        """The price of every row's decision (or error, for a regressor)."""
        if callable(self.prices):
            out = np.asarray(self.prices(y, pred), dtype=float)
            if out.shape != (len(y),):
                raise MlgateError(f"{self.kind}_function must return one {self.kind} per row ({len(y)}), "
                                  f"got shape {out.shape}")
            if not np.isfinite(out).all():
                raise MlgateError(f"{self.kind}_function returned NaN or infinite values")
            return out
        if not model.is_classifier:
            raise MlgateError(f"expected_{self.kind}: model '{model.role}' is a regressor: price its errors with a "
                              f"function fn(y_true, y_pred) -> {self.kind} per row")
        matrix, classes = self.matrix(model)
        return matrix[_codes(y, classes, "truth"), _codes(pred, classes, "prediction")]

    def matrix(self, model: ModelUnderTest) -> tuple[np.ndarray, list[Any]]:
        """The prices as a square array over the model's classes (missing pairs price 0)."""
        classes = list(model.classes if model.classes is not None else [])
        size = len(classes)
        prices = self.prices
        if isinstance(prices, Mapping) and set(prices) <= set(SHORTHAND):
            if size != 2:
                raise MlgateError(f"expected_{self.kind}: tp/fp/fn/tn prices need a binary classifier "
                                  f"(classes {classes})")
            pos = classes.index(model.pos_label)
            neg = 1 - pos
            prices = {classes[pos]: {classes[pos]: prices.get("tp", 0), classes[neg]: prices.get("fn", 0)},
                      classes[neg]: {classes[pos]: prices.get("fp", 0), classes[neg]: prices.get("tn", 0)}}
        if isinstance(prices, Mapping):
            out = np.zeros((size, size))
            for truth, row in prices.items():
                if not isinstance(row, Mapping):
                    raise MlgateError(f"expected_{self.kind}: {self.kind} matrix row {truth!r} must map predicted "
                                      "labels to prices ({truth: {predicted: price}})")
                for predicted, price in row.items():
                    out[_index(truth, classes, self.kind), _index(predicted, classes, self.kind)] = float(price)
            return out, classes
        out = np.asarray(prices, dtype=float)
        if out.shape != (size, size):
            raise MlgateError(f"expected_{self.kind}: a {self.kind} matrix must be {size}x{size} in the model's "
                              f"class order {classes}, got shape {out.shape}")
        return out, classes


def _index(label: Any, classes: list[Any], kind: str) -> int:
    for i, c in enumerate(classes):
        if c == label or str(c) == str(label):
            return i
    raise MlgateError(f"expected_{kind}: label {label!r} in the {kind} matrix is not a class of the model "
                      f"({classes})")


def _codes(values: np.ndarray, classes: list[Any], what: str) -> np.ndarray:
    import pandas as pd

    codes = np.asarray(pd.Categorical(values, categories=classes).codes)
    if (codes < 0).any():
        bad = np.asarray(values, dtype=object)[codes < 0][0]
        raise MlgateError(f"{what} label {bad!r} is not a class of the model ({classes})")
    return codes


def _metric(objective: Objective, model: ModelUnderTest) -> Metric:
    """The objective as a mean per-row loss, so :func:`interval` gives its (paired) normal interval."""
    needs = "label" if model.is_classifier else "value"
    sign = 1.0 if objective.lower_is_better else -1.0

    def row_loss(y, out, pos_label=None, classes=None):
        return sign * objective.rows(model, y, out)

    return Metric(objective.name, lambda y, out, **_: float(np.mean(row_loss(y, out))), needs,
                  False, "mean", row_loss)


def best_threshold(objective: Objective, model: ModelUnderTest, data: Dataset) -> dict[str, Any] | None:
    """The decision threshold with the best mean price on ``data`` (binary classifiers only).

    Candidates are 200 score quantiles (and 0.5). Matrix prices are summed for every candidate at
    once from the rows sorted by score (cumulative sums); a price function is called per candidate.
    """
    classes = model.classes
    if classes is None or len(classes) != 2:
        return None
    score, y = model.score(data), data.y
    other = classes[0] if classes[1] == model.pos_label else classes[1]
    grid = np.unique(np.concatenate([np.quantile(score, np.linspace(0, 1, THRESHOLD_GRID + 1)), [0.5, 1.0 + 1e-9]]))
    if callable(objective.prices):
        means = np.array([objective.rows(model, y, np.where(score >= t, model.pos_label, other)).mean()
                          for t in grid])
    else:
        matrix, order = objective.matrix(model)
        truth = _codes(y, order, "truth")
        if_pos, if_neg = matrix[truth, order.index(model.pos_label)], matrix[truth, order.index(other)]
        ranked = np.argsort(score, kind="stable")
        below_neg = np.concatenate([[0.0], np.cumsum(if_neg[ranked])])  # rows under a threshold: negative
        above_pos = np.concatenate([np.cumsum(if_pos[ranked][::-1])[::-1], [0.0]])  # the rest: positive
        cut = np.searchsorted(score[ranked], grid, side="left")
        means = (below_neg[cut] + above_pos[cut]) / len(score)
    best = int(np.argmin(means) if objective.lower_is_better else np.argmax(means))
    return {"threshold": float(grid[best]), "dataset": data.name, objective.kind: float(means[best])}


def business(objective: Objective, data: Dataset, candidate: ModelUnderTest, baseline: ModelUnderTest | None, *,
             limit: float | None = None, max_abs: float | None = None, max_rel: float | None = None,
             criterion: str = "point", confidence: float = 0.95, validation: Dataset | None = None) -> list[Check]:
    """A threshold check (``limit``) and/or a no-regression check against the baseline (allowances)."""
    if criterion not in CRITERIA:
        raise MlgateError(f"expected_{objective.kind}: criterion must be one of {', '.join(CRITERIA)}, "
                          f"got {criterion!r}")
    if limit is None and max_abs is None and max_rel is None:
        raise MlgateError(f"expected_{objective.kind}: give a limit and/or an allowed change against the baseline")
    spec = _metric(objective, candidate)
    sign = 1.0 if objective.lower_is_better else -1.0
    y, out_c = data.y, candidate.output(data, spec.needs)
    value = sign * spec(y, out_c)
    details: dict[str, Any] = {"rows": len(y), "unit": objective.unit, "total": value * len(y),
                               "decision_threshold": candidate.threshold}
    if validation is not None:
        details["best_threshold"] = best_threshold(objective, candidate, validation)
    checks = []
    if limit is not None:
        checks.append(_threshold(objective, data, value, limit, spec, y, out_c, candidate, confidence, details))
    if max_abs is not None or max_rel is not None:
        if baseline is None:
            checks.append(Check(f"{objective.name} vs baseline", NOT_APPLICABLE, metric=spec.name, dataset=data.name,
                                candidate=value, kind="business", details=details,
                                message=f"{objective.name}: no baseline configured, regression not applicable"))
        else:
            checks.append(_regression(objective, data, value, spec, y, out_c, baseline, max_abs, max_rel, criterion,
                                      confidence, candidate, details))
    return checks


def _threshold(objective, data, value, limit, spec, y, out_c, candidate, confidence, details) -> Check:
    low, high, method = interval(spec, y, [out_c], pos_label=candidate.pos_label, classes=candidate.classes,
                                 confidence=confidence, n_boot=0, seed=0)
    ci = sorted((low * (1 if objective.lower_is_better else -1), high * (1 if objective.lower_is_better else -1)))
    passed = value <= limit if objective.lower_is_better else value >= limit
    sign = "<=" if objective.lower_is_better else ">="
    message = (f"expected {objective.kind} {objective.money(value)} per prediction "
               f"{sign if passed else ('>' if objective.lower_is_better else '<')} {objective.money(limit)} on "
               f"'{data.name}' ({confidence:.0%} CI [{ci[0]:.4g}, {ci[1]:.4g}])")
    best = details.get("best_threshold")
    if best:
        in_use = "predict" if candidate.threshold is None else f"score >= {candidate.threshold:g}"
        message += (f"; best threshold on '{best['dataset']}': {best['threshold']:.3g} "
                    f"({objective.money(best[objective.kind])} per prediction there; in use: {in_use})")
    return Check(objective.name, PASSED if passed else FAILED, metric=spec.name, dataset=data.name, candidate=value,
                 threshold=f"{sign} {objective.money(limit)}", ci=(ci[0], ci[1]), message=message, kind="business",
                 details={**details, "ci_method": method, "limit": limit})


def _regression(objective, data, value, spec, y, out_c, baseline, max_abs, max_rel, criterion, confidence,
                candidate, details) -> Check:
    sign = 1.0 if objective.lower_is_better else -1.0
    out_b = baseline.output(data, spec.needs)
    base = sign * spec(y, out_b)
    low, high, method = interval(spec, y, [out_c, out_b], pos_label=candidate.pos_label, classes=candidate.classes,
                                 confidence=confidence, n_boot=0, seed=0)
    # the losses are sign * price, so interval() bounds how much worse the candidate is than the baseline
    worse, worse_ci = sign * (value - base), (low, high)
    allowances = [a for a in (max_abs, None if max_rel is None else max_rel * abs(base)) if a is not None]
    allowed = min(allowances)
    failed = {"point": worse > allowed, "significant": worse_ci[0] > allowed,
              "non_inferiority": not worse_ci[1] <= allowed, "superiority": not worse_ci[1] < 0}[criterion]
    word = ("increase" if objective.lower_is_better else "drop")
    limit = f"{word} <= {objective.money(allowed)}" if criterion != "superiority" else "significant improvement"
    delta = value - base
    ci = sorted((sign * low, sign * high))
    message = (f"expected {objective.kind} {objective.money(value)} per prediction against baseline "
               f"{objective.money(base)} ({delta:+.4g} {objective.unit}".rstrip() + f"); allowed {limit} ({criterion});"
               f" {confidence:.0%} CI of delta [{ci[0]:.4g}, {ci[1]:.4g}] on '{data.name}'")
    return Check(f"{objective.name} vs baseline", FAILED if failed else PASSED, metric=spec.name, dataset=data.name,
                 candidate=value, baseline=base, delta=delta, threshold=limit, ci=(ci[0], ci[1]), message=message,
                 kind="business", details={**details, "criterion": criterion, "ci_method": method,
                                           "allowed": allowed, "confidence": confidence})


class BusinessGates(Recorder):
    """``mlgate.expected_cost`` / ``expected_value``: business objectives in the business's unit."""

    def expected_cost(self, cost: Prices, dataset: str | Dataset = "holdout", *, unit: str | None = None,
                      max_cost: float | None = None, max_increase: float | None = None,
                      max_relative_increase: float | None = None, criterion: str = "point",
                      validation: str | Dataset | None = None, model: str = "candidate") -> list[Check]:
        """The mean cost per prediction (a cost matrix ``{truth: {predicted: cost}}``, ``{"fp": .., "fn": ..}``,
        a square array in class order, or ``fn(y_true, y_pred) -> cost per row``) is at most ``max_cost``
        and/or rises at most ``max_increase`` (``max_relative_increase``) above the baseline's."""
        __tracebackhide__ = True
        return self._business("cost", cost, dataset, unit, max_cost, max_increase, max_relative_increase, criterion,
                              validation, model)

    def expected_value(self, value: Prices, dataset: str | Dataset = "holdout", *, unit: str | None = None,
                       min_value: float | None = None, max_drop: float | None = None,
                       max_relative_drop: float | None = None, criterion: str = "point",
                       validation: str | Dataset | None = None, model: str = "candidate") -> list[Check]:
        """The mean value per prediction (prices as for ``expected_cost``) is at least ``min_value`` and/or
        drops at most ``max_drop`` (``max_relative_drop``) below the baseline's."""
        __tracebackhide__ = True
        return self._business("value", value, dataset, unit, min_value, max_drop, max_relative_drop, criterion,
                              validation, model)

    def _business(self, kind, prices, dataset, unit, limit, max_abs, max_rel, criterion, validation, model):
        __tracebackhide__ = True
        s = self.settings
        subject = self.model(model)
        if subject is None:
            raise MlgateError(f"model '{model}' is not configured")
        objective = Objective(kind, prices, unit if unit is not None else (s.business_unit or ""))
        baseline = self.model("baseline") if model == "candidate" else None
        return self.record(*business(
            objective, self.rows(dataset), subject, baseline, limit=limit, max_abs=max_abs, max_rel=max_rel,
            criterion=criterion, confidence=s.confidence,
            validation=None if validation is None else self.rows(validation)))
