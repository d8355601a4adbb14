"""Metric thresholds and regression against the baseline, on a dataset or its slices."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from pytest_mlgate.checks.recorder import Recorder
from pytest_mlgate.decision import FAILED, NOT_APPLICABLE, PASSED, TOO_SMALL, Check
from pytest_mlgate.errors import MlgateError
from pytest_mlgate.evaluate.metrics import Metric, resolve
from pytest_mlgate.evaluate.models import Dataset, ModelUnderTest
from pytest_mlgate.evaluate.stats import interval

Threshold = float | Mapping[Any, float]
CRITERIA = ("point", "significant", "non_inferiority", "superiority")


@dataclass(frozen=True)
class Slice:
    """Rows of a dataset selected by a column value or a query; ``mask`` None means all rows."""

    label: str | None
    mask: np.ndarray | None
    key: Any = None

    def size(self, data: Dataset) -> int:
        return len(data) if self.mask is None else int(self.mask.sum())

    def name(self, base: str) -> str:
        return base if self.label is None else f"{base}[{self.label}]"


def slices(data: Dataset, by: str | None = None, where: str | None = None) -> list[Slice]:
    """The whole dataset, the rows matching ``where``, and/or one slice per value of ``by``."""
    base = None
    if where is not None:
        try:
            base = np.asarray(data.frame.eval(where), dtype=bool)
        except Exception as exc:
            raise MlgateError(f"dataset '{data.name}': bad slice query {where!r}: {exc}") from None
        if not base.any():
            raise MlgateError(f"dataset '{data.name}': slice {where!r} has no rows")
    if by is None:
        return [Slice(where, base)]
    column = data.column(by)
    found = []
    for value in sorted(column.dropna().unique(), key=str):
        mask = (column == value).to_numpy()
        if base is not None:
            mask &= base
        label = f"{by}={value}" if where is None else f"{where}, {by}={value}"
        found.append(Slice(label, mask, value))
    if not any(piece.mask.any() for piece in found):
        scope = f"dataset '{data.name}'" + (f" slice {where!r}" if where is not None else "")
        raise MlgateError(f"{scope}: grouping by '{by}' leaves no rows (no non-missing values)")
    return found


def _threshold_for(threshold: Threshold, piece: Slice) -> float:
    if not isinstance(threshold, Mapping):
        return float(threshold)
    for key in (piece.key, str(piece.key), "*"):
        if key in threshold:
            return float(threshold[key])
    raise MlgateError(f"no threshold for slice {piece.label!r} (add it or a '*' default)")


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _too_small(name: str, spec: Metric, data: Dataset, n: int, min_size: int) -> Check:
    return Check(name, TOO_SMALL, metric=spec.name, dataset=data.name, kind="performance",
                 message=f"{name}: {n} rows < {min_size}, too small to judge", details={"rows": n})


def threshold(metric: str | Callable[..., float] | Metric, limit: Threshold, data: Dataset,
              candidate: ModelUnderTest, baseline: ModelUnderTest | None = None, *, lower: bool = True,
              by: str | None = None, where: str | None = None, min_size: int = 30) -> list[Check]:
    """``metric >= limit`` (``lower=True``) or ``<= limit`` for the candidate, per slice."""
    spec = resolve(metric)
    good, sign, bad = (operator.ge, ">=", "<") if lower else (operator.le, "<=", ">")
    checks = []
    for piece in slices(data, by, where):
        name, n = piece.name(spec.name), piece.size(data)
        if piece.mask is not None and n < min_size:
            checks.append(_too_small(name, spec, data, n, min_size))
            continue
        value = candidate.metric(spec, data, mask=piece.mask, observe=False)
        base = baseline.metric(spec, data, mask=piece.mask, observe=False) if baseline else None
        limit_here = _threshold_for(limit, piece)
        passed = bool(good(value, limit_here))
        context = f" (baseline {_fmt(base)}, {_percent(value, base)})" if base is not None else ""
        message = f"{name} {_fmt(value)} {bad} {limit_here:g}{context}" if not passed else \
            f"{name} {_fmt(value)} {sign} {limit_here:g}"
        checks.append(Check(name, PASSED if passed else FAILED, metric=spec.name, dataset=data.name,
                            candidate=value, baseline=base, delta=None if base is None else value - base,
                            threshold=f"{sign} {limit_here:g}", message=message, kind="performance",
                            details={"rows": n, "limit": limit_here}))
    return checks


def _percent(value: float, base: float | None) -> str:
    if base is None or base == 0:
        return "n/a"
    return f"{(value - base) / abs(base) * 100:+.1f}%"


def regression(metric: str | Callable[..., float] | Metric, data: Dataset, candidate: ModelUnderTest,
               baseline: ModelUnderTest | None, *, max_absolute_drop: float | None = None,
               max_relative_drop: float | None = None, criterion: str = "point",
               confidence: float = 0.95, n_boot: int = 1000, seed: int = 0, by: str | None = None,
               where: str | None = None, min_size: int = 30, correction: str = "bonferroni") -> list[Check]:
    """The candidate must not be worse than the baseline by more than the allowed drop, per slice.

    ``criterion``: ``point`` fails when the measured drop exceeds the allowance; ``significant``
    only when the drop exceeds it with ``confidence``; ``non_inferiority`` unless the interval shows
    the drop within it; ``superiority`` unless the candidate is significantly better.
    """
    spec = resolve(metric)
    if criterion not in CRITERIA:
        raise MlgateError(f"no_regression: criterion must be one of {', '.join(CRITERIA)}, got {criterion!r}")
    if correction not in ("bonferroni", "none"):
        raise MlgateError(f"no_regression: correction must be 'bonferroni' or 'none', got {correction!r}")
    pieces = slices(data, by, where)
    if baseline is None:
        return [Check(p.name(spec.name), NOT_APPLICABLE, metric=spec.name, dataset=data.name, kind="regression",
                      message=f"{p.name(spec.name)}: no baseline configured, regression not applicable")
                for p in pieces]
    level = 1 - (1 - confidence) / len(pieces) if correction == "bonferroni" else confidence
    y_all = data.y
    out_c, out_b = candidate.output(data, spec.needs), baseline.output(data, spec.needs)
    checks = []
    for piece in pieces:
        name, n = piece.name(spec.name), piece.size(data)
        if piece.mask is not None and n < min_size:
            checks.append(_too_small(name, spec, data, n, min_size))
            continue
        sel = slice(None) if piece.mask is None else piece.mask
        y, c, b = y_all[sel], out_c[sel], out_b[sel]
        kwargs = {"pos_label": candidate.pos_label, "classes": candidate.classes}
        value = candidate.metric(spec, data, mask=piece.mask, observe=False)
        base = baseline.metric(spec, data, mask=piece.mask, observe=False)
        low, high, method = interval(spec, y, [c, b], confidence=level, n_boot=n_boot, seed=seed, **kwargs)
        checks.append(_judge(name, spec, data, value, base, (low, high), method, level, n, criterion,
                             max_absolute_drop, max_relative_drop))
    return checks


def _judge(name: str, spec: Metric, data: Dataset, value: float, base: float, ci: tuple[float, float],
           method: str, level: float, n: int, criterion: str, max_abs: float | None,
           max_rel: float | None) -> Check:
    delta = value - base
    allowances = [a for a in (max_abs, None if max_rel is None else max_rel * abs(base)) if a is not None]
    allowed = min(allowances) if allowances else 0.0
    # "worse" is how much the candidate loses, whichever way the metric points.
    sign = 1 if spec.greater_is_better else -1
    worse, worse_ci = -sign * delta, sorted((-sign * ci[0], -sign * ci[1]))
    failed = {
        "point": worse > allowed,
        "significant": worse_ci[0] > allowed,
        "non_inferiority": not worse_ci[1] <= allowed,
        "superiority": not worse_ci[1] < 0,
    }[criterion]
    limit = f"drop <= {allowed:.4g}" if criterion != "superiority" else "significant improvement"
    ci_text = f"{level:.0%} CI of delta [{_fmt(ci[0])}, {_fmt(ci[1])}]"
    verb = "dropped" if worse > 0 else "improved"
    message = (f"{name} {verb} {abs(delta):.4g} ({_percent(value, base)}) from baseline {_fmt(base)} to "
               f"{_fmt(value)}; allowed {limit} ({criterion}); {ci_text}")
    return Check(name, FAILED if failed else PASSED, metric=spec.name, dataset=data.name, candidate=value,
                 baseline=base, delta=delta, threshold=limit, ci=(float(ci[0]), float(ci[1])),
                 message=message, kind="regression",
                 details={"rows": n, "criterion": criterion, "ci_method": method, "confidence": level,
                          "allowed_drop": allowed})


class PerformanceGates(Recorder):
    """``mlgate.at_least`` / ``at_most`` / ``no_regression``."""

    def at_least(self, metric: str | Callable[..., float] | Metric, threshold: Threshold,
                 dataset: str | Dataset = "holdout", *, model: str = "candidate", by: str | None = None,
                 where: str | None = None, min_size: int | None = None) -> list[Check]:
        """The model's metric must be at least ``threshold`` (a number, or per slice ``{value: t, "*": t}``)."""
        __tracebackhide__ = True
        return self._threshold(metric, threshold, dataset, model, by, where, min_size, lower=True)

    def at_most(self, metric: str | Callable[..., float] | Metric, threshold: Threshold,
                dataset: str | Dataset = "holdout", *, model: str = "candidate", by: str | None = None,
                where: str | None = None, min_size: int | None = None) -> list[Check]:
        """The model's metric must be at most ``threshold`` (for losses and error rates)."""
        __tracebackhide__ = True
        return self._threshold(metric, threshold, dataset, model, by, where, min_size, lower=False)

    def no_regression(self, metric: str | Callable[..., float] | Metric, dataset: str | Dataset = "holdout", *,
                      max_absolute_drop: float | None = None, max_relative_drop: float | None = None,
                      criterion: str = "point", by: str | None = None, where: str | None = None,
                      min_size: int | None = None, confidence: float | None = None,
                      correction: str = "bonferroni") -> list[Check]:
        """The candidate must not lose more than the allowed drop against the baseline, on the same rows."""
        __tracebackhide__ = True
        s = self.settings
        data = self.dataset(dataset)
        return self.record(*regression(
            metric, data, self.model("candidate"), self.model("baseline"),
            max_absolute_drop=max_absolute_drop, max_relative_drop=max_relative_drop, criterion=criterion,
            confidence=confidence or s.confidence, n_boot=s.bootstrap, seed=s.seed, by=by, where=where,
            min_size=min_size or s.min_slice_size, correction=correction))

    def _threshold(self, metric, limit, dataset, model, by, where, min_size, lower):
        __tracebackhide__ = True
        data = self.dataset(dataset)
        subject = self.model(model)
        if subject is None:
            raise MlgateError(f"model '{model}' is not configured")
        baseline = self.model("baseline") if model == "candidate" else None
        return self.record(*threshold(metric, limit, data, subject, baseline, lower=lower, by=by, where=where,
                                      min_size=min_size or self.settings.min_slice_size))
