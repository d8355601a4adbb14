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
from pytest_mlgate.evaluate.stats import detectable_change, interval

Threshold = float | Mapping[Any, float]
CRITERIA = ("point", "significant", "non_inferiority", "superiority")
UNDERPOWERED = ("review", "fail", "pass")


@dataclass(frozen=True)
class Slice:
    """Rows of a dataset selected by a column value or a query; ``mask`` None means all rows."""

    label: str | None
    mask: Any
    key: Any = None
    rows: int | None = None  # known size (slices of a streamed dataset, whose mask names a group)

    def size(self, data: Dataset) -> int:
        if self.rows is not None:
            return self.rows
        return len(data) if self.mask is None else int(self.mask.sum())

    def name(self, base: str) -> str:
        return base if self.label is None else f"{base}[{self.label}]"


def slices(data: Dataset, by: str | None = None, where: str | None = None) -> list[Slice]:
    """The whole dataset, the rows matching ``where``, and/or one slice per value of ``by``."""
    if getattr(data, "streamed", False):
        return _streamed_slices(data, by, where)
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
            mask = mask & base  # to_numpy() may be a read-only view (pandas copy-on-write)
        label = f"{by}={value}" if where is None else f"{where}, {by}={value}"
        found.append(Slice(label, mask, value))
    if not any(piece.mask.any() for piece in found):
        scope = f"dataset '{data.name}'" + (f" slice {where!r}" if where is not None else "")
        raise MlgateError(f"{scope}: grouping by '{by}' leaves no rows (no non-missing values)")
    return found


def _streamed_slices(data: Any, by: str | None, where: str | None) -> list[Slice]:
    """Slices of a streamed dataset: each mask is a (grouping, key) its statistics are kept under."""
    from pytest_mlgate.evaluate.fold import ALL, Grouping

    grouping, stats = data.groups((by,) if by else (), where)
    if by is None:
        if where is None:
            return [Slice(None, None)]
        return [Slice(where, (grouping, ALL), rows=stats.groups[grouping][ALL].rows)]
    found = stats.groups[grouping]
    keys = found if where is None else data.groups((by,))[1].groups[Grouping((by,))]  # values outside where too
    ordered = sorted(keys, key=lambda key: str(key[0]))
    return [Slice(f"{by}={key[0]}" if where is None else f"{where}, {by}={key[0]}", (grouping, key), key[0],
                  rows=found[key].rows if key in found else 0) for key in ordered]


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
        checks.append(_stated(Check(name, PASSED if passed else FAILED, metric=spec.name, dataset=data.name,
                                    candidate=value, baseline=base, delta=None if base is None else value - base,
                                    threshold=f"{sign} {limit_here:g}", message=message, kind="performance",
                                    details={"rows": n, "limit": limit_here, **_bound(data, candidate, spec, piece)}),
                              data, spec))
    return checks


def _bound(data: Dataset, model: ModelUnderTest, spec: Metric, piece: Slice) -> dict[str, float]:
    """The largest possible error of a metric read off binned statistics, when it is not exact."""
    if not getattr(data, "streamed", False):
        return {}
    bound = data.error_bound(model, spec, piece.mask)
    return {} if bound is None else {"error_bound": bound}


def _stated(check: Check, data: Dataset, spec: Metric) -> Check:
    """A custom metric on a streamed dataset was evaluated on its seeded sample: the check says so in
    its details, its message and its threshold (which every report's row prints)."""
    if getattr(data, "streamed", False) and data.on_sample(spec):
        check.details.update(sampled_rows=data.sampled, rows_total=len(data))
        check.message = f"{check.message} [{data.sample_note()}]"
        check.threshold = f"{check.threshold} [sample {data.sampled} of {len(data)}]"
    return check


def _percent(value: float, base: float | None) -> str:
    if base is None or base == 0:
        return "n/a"
    return f"{(value - base) / abs(base) * 100:+.1f}%"


def regression(metric: str | Callable[..., float] | Metric, data: Dataset, candidate: ModelUnderTest,
               baseline: ModelUnderTest | None, *, max_absolute_drop: float | None = None,
               max_relative_drop: float | None = None, criterion: str = "point",
               confidence: float = 0.95, n_boot: int = 1000, seed: int = 0, by: str | None = None,
               where: str | None = None, min_size: int = 30, correction: str = "bonferroni",
               underpowered: str = "review") -> list[Check]:
    """The candidate must not be worse than the baseline by more than the allowed drop, per slice.

    ``criterion``: ``point`` fails when the measured drop exceeds the allowance; ``significant``
    only when the drop exceeds it with ``confidence``; ``non_inferiority`` unless the interval shows
    the drop within it; ``superiority`` unless the candidate is significantly better. Each check
    reports the change detectable at 80% power; a ``point`` or ``significant`` check that passes
    with an allowance below it is ``underpowered``: ``review`` (a failure needing review), ``fail``
    or ``pass``. Slices inherit this, each at its own size.
    """
    spec = resolve(metric)
    if criterion not in CRITERIA:
        raise MlgateError(f"no_regression: criterion must be one of {', '.join(CRITERIA)}, got {criterion!r}")
    if correction not in ("bonferroni", "none"):
        raise MlgateError(f"no_regression: correction must be 'bonferroni' or 'none', got {correction!r}")
    if underpowered not in UNDERPOWERED:
        raise MlgateError(f"no_regression: underpowered must be one of {', '.join(UNDERPOWERED)}, got {underpowered!r}")
    pieces = slices(data, by, where)
    if baseline is None:
        return [Check(p.name(spec.name), NOT_APPLICABLE, metric=spec.name, dataset=data.name, kind="regression",
                      message=f"{p.name(spec.name)}: no baseline configured, regression not applicable")
                for p in pieces]
    level = 1 - (1 - confidence) / len(pieces) if correction == "bonferroni" else confidence
    streamed = getattr(data, "streamed", False)
    if not streamed:
        y_all = data.y
        out_c, out_b = candidate.output(data, spec.needs), baseline.output(data, spec.needs)
    checks = []
    for piece in pieces:
        name, n = piece.name(spec.name), piece.size(data)
        if piece.mask is not None and n < min_size:
            checks.append(_too_small(name, spec, data, n, min_size))
            continue
        kwargs = {"pos_label": candidate.pos_label, "classes": candidate.classes}
        value = candidate.metric(spec, data, mask=piece.mask, observe=False)
        base = baseline.metric(spec, data, mask=piece.mask, observe=False)
        if streamed:
            low, high, method = data.interval(spec, [candidate, baseline], piece.mask, confidence=level,
                                              n_boot=n_boot, seed=seed)
        else:
            sel = slice(None) if piece.mask is None else piece.mask
            y, c, b = y_all[sel], out_c[sel], out_b[sel]
            rows = None if piece.mask is None else np.flatnonzero(piece.mask)
            low, high, method = interval(spec, y, [c, b], confidence=level, n_boot=n_boot, seed=seed, rows=rows,
                                         **kwargs)
        checks.append(_stated(_judge(name, spec, data, value, base, (low, high), method, level, n, criterion,
                                     max_absolute_drop, max_relative_drop, underpowered), data, spec))
    return checks


def _judge(name: str, spec: Metric, data: Dataset, value: float, base: float, ci: tuple[float, float],
           method: str, level: float, n: int, criterion: str, max_abs: float | None,
           max_rel: float | None, underpowered: str) -> Check:
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
    loss = "drop" if spec.greater_is_better else "rise"
    limit = f"{loss} <= {allowed:.4g}" if criterion != "superiority" else "significant improvement"
    ci_text = f"{level:.0%} CI of delta [{_fmt(ci[0])}, {_fmt(ci[1])}]"
    moved = ("rose" if delta > 0 else "dropped") + (" (worse)" if worse > 0 else " (better)" if worse < 0 else "")
    mde = detectable_change(ci, level)
    # a check that passes only because it could not see: the allowance is below what n rows can detect
    # (unless its interval already rules out a loss beyond the allowance)
    blind = criterion in ("point", "significant") and not failed and (np.isnan(mde) or mde > allowed) \
        and not worse_ci[1] <= allowed
    power = f"detectable {loss} at 80% power {_fmt(mde)}"
    message = (f"{name} {moved} {abs(delta):.4g} ({_percent(value, base)}) from baseline {_fmt(base)} to "
               f"{_fmt(value)}; allowed {limit} ({criterion}); {ci_text}; {power}")
    outcome, severity = (FAILED if failed else PASSED), None
    if blind:
        message += f" > allowed {allowed:.4g}: underpowered ({n} rows), underpowered = {underpowered!r}"
        outcome, severity = {"review": (FAILED, "review"), "fail": (FAILED, None), "pass": (PASSED, None)}[underpowered]
    return Check(name, outcome, metric=spec.name, dataset=data.name, candidate=value,
                 baseline=base, delta=delta, threshold=limit, ci=(float(ci[0]), float(ci[1])),
                 message=message, kind="regression", severity=severity,
                 details={"rows": n, "criterion": criterion, "ci_method": method, "confidence": level,
                          "allowed_drop": allowed, "detectable_change": mde, "power": 0.8,
                          "underpowered": bool(blind), "worse_direction": loss})


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
                      correction: str = "bonferroni", against: str | None = None,
                      underpowered: str | None = None) -> list[Check]:
        """The candidate must not lose more than the allowed drop against the baseline, on the same rows.

        ``against="best_of_last:N"`` (default: ``[tool.mlgate] ratchet``) compares with the best of
        production and the last N approved registry versions instead.
        """
        __tracebackhide__ = True
        from pytest_mlgate.checks import ratchet
        from pytest_mlgate.lifecycle.history import parse_against

        s = self.settings
        data = self.dataset(dataset)
        last, baseline, info = parse_against(against, s.ratchet), self.model("baseline"), None
        if last:
            baseline, info = ratchet.best_of_last(self, metric, data, last)
        checks = regression(
            metric, data, self.model("candidate"), baseline,
            max_absolute_drop=max_absolute_drop, max_relative_drop=max_relative_drop, criterion=criterion,
            confidence=confidence or s.confidence, n_boot=s.bootstrap, seed=s.seed, by=by, where=where,
            min_size=min_size or s.min_slice_size, correction=correction,
            underpowered=underpowered or s.underpowered)
        return self.record(*(ratchet.annotate(checks, info) if info else checks))

    def _threshold(self, metric, limit, dataset, model, by, where, min_size, lower):
        __tracebackhide__ = True
        data = self.dataset(dataset)
        subject = self.model(model)
        if subject is None:
            raise MlgateError(f"model '{model}' is not configured")
        baseline = self.model("baseline") if model == "candidate" else None
        return self.record(*threshold(metric, limit, data, subject, baseline, lower=lower, by=by, where=where,
                                      min_size=min_size or self.settings.min_slice_size))
