"""Estimated performance on an unlabelled window (``mlgate.estimated_metric``), and its sequence.

The estimate itself is :mod:`pytest_mlgate.monitoring.estimate` (CBPE); this module turns it into
checks: a floor, a no-regression against the reference's realized value, the refusal when the
model's calibration on the reference is too poor, and, where late labels arrived, the realized
value next to the estimate on the same rows. In the monitor stage every run's estimate also joins
an anytime-valid sequence (:mod:`pytest_mlgate.monitoring.anytime`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pytest_mlgate.checks.recorder import Recorder
from pytest_mlgate.decision import ERROR, FAILED, PASSED, TOO_SMALL, Check
from pytest_mlgate.errors import MlgateError
from pytest_mlgate.evaluate.metrics import Metric, resolve
from pytest_mlgate.evaluate.models import Dataset, ModelUnderTest
from pytest_mlgate.monitoring import estimate as cbpe
from pytest_mlgate.monitoring.estimate import Estimated

KIND = "estimate"


@dataclass(frozen=True)
class EstimateOptions:
    """How to estimate: calibration ``method`` (sigmoid or isotonic), the largest calibration error
    on the reference accepted, interval level, draws and seed."""

    method: str = "sigmoid"
    max_calibration_error: float = 0.05
    confidence: float = 0.95
    n_boot: int = 200
    seed: int = 0
    min_rows: int = 30


def _binary(model: ModelUnderTest, data: Dataset) -> np.ndarray:
    score = model.score(data)
    if score.ndim != 1:
        raise MlgateError(f"estimated_metric: model '{model.role}' is not a binary classifier; "
                          "performance is estimated from one positive-class probability")
    return score


def _evaluator(spec: Metric, model: ModelUnderTest, data: Dataset, mask: np.ndarray | None = None
               ) -> Callable[[np.ndarray], np.ndarray]:
    score = _binary(model, data)
    predicted = None if spec.needs == "score" else np.asarray(model.predict(data) == model.pos_label)
    output = score if spec.needs == "score" else model.output(data, spec.needs)
    if mask is not None:
        score, output = score[mask], output[mask]
        predicted = None if predicted is None else predicted[mask]
    classes = list(model.classes) if model.classes is not None else [0, 1]
    other = next(c for c in classes if c != model.pos_label)

    def general(labels: np.ndarray) -> float:
        return spec(np.where(labels, model.pos_label, other), output, pos_label=model.pos_label,
                    classes=model.classes)

    name = spec.name if spec.name in cbpe.FAST else ""
    return cbpe.evaluator(name, score, predicted, general)


def refusal(model: ModelUnderTest, reference: Dataset, options: EstimateOptions, name: str) -> Check | None:
    """An error check when the model's scores are clearly miscalibrated on the reference."""
    y = np.asarray(reference.y == model.pos_label)
    ece, chance = cbpe.calibration_error(y, _binary(model, reference), n_boot=200,
                                         rng=np.random.default_rng(options.seed))
    if ece <= max(chance, options.max_calibration_error):
        return None
    return Check(name, ERROR, dataset=reference.name, kind=KIND,
                 details={"ece": ece, "ece_chance_99": chance, "max_calibration_error": options.max_calibration_error},
                 message=(f"{name}: refused: model '{model.role}' is miscalibrated on '{reference.name}' (expected "
                          f"calibration error {ece:.3f} > {options.max_calibration_error:g}, and above the {chance:.3f} "
                          "a calibrated model shows by chance), so its probabilities say nothing reliable about "
                          "performance on unlabelled data; recalibrate the model or use live_metric on labels"))


def estimate_metric(spec: Metric, model: ModelUnderTest, reference: Dataset, window: Dataset,
                    options: EstimateOptions) -> Estimated:
    """The metric estimated on ``window`` from the reference's calibration (see the module doc)."""
    rng = np.random.default_rng(options.seed)
    y_ref = np.asarray(reference.y == model.pos_label)
    full, refits = cbpe.calibrators(y_ref, _binary(model, reference), options.method, options.n_boot, rng)
    score = _binary(model, window)
    est = cbpe.estimate(full, refits, score, _evaluator(spec, model, window), confidence=options.confidence, rng=rng)
    realized, rows, on_labelled = None, 0, None
    target = window.target
    if target is not None and target in window.frame.columns:
        known = window.frame[target].notna().to_numpy()
        rows = int(known.sum())
        if rows >= options.min_rows:
            y = window.frame[target].to_numpy()[known]
            y = np.asarray(y == model.pos_label) if y.dtype.kind in "biuf" or model.pos_label in set(y) else \
                np.asarray(y.astype(str) == str(model.pos_label))
            realized = float(_evaluator(spec, model, window, known)(y[None, :])[0])
            on_labelled = cbpe.estimate(full, refits[:50], score[known], _evaluator(spec, model, window, known),
                                        confidence=options.confidence, rng=rng).value
    return Estimated(est, model.metric(spec, reference, observe=False), realized, rows, on_labelled)


def estimated_checks(metric: str | Callable[..., float] | Metric, model: ModelUnderTest, reference: Dataset,
                     window: Dataset, options: EstimateOptions, *, min_value: float | None = None,
                     max_drop: float | None = None, max_relative_drop: float | None = None
                     ) -> tuple[list[Check], Estimated | None]:
    """Checks on the estimated metric: ``>= min_value`` and/or at most the allowed drop below the
    reference's realized value; an error instead when calibration is too poor to estimate."""
    spec = resolve(metric)
    if min_value is None and max_drop is None and max_relative_drop is None:
        raise MlgateError("estimated_metric: give min_value, max_drop and/or max_relative_drop")
    name = f"estimated[{spec.name}]"
    if min(len(reference), len(window)) < options.min_rows:
        return [Check(name, TOO_SMALL, metric=spec.name, dataset=window.name, kind=KIND,
                      details={"rows": len(window), "reference_rows": len(reference)},
                      message=f"{name}: {len(window)} window rows / {len(reference)} reference rows < "
                              f"{options.min_rows}, too few to estimate")], None
    refused = refusal(model, reference, options, name)
    if refused is not None:
        return [refused], None
    found = estimate_metric(spec, model, reference, window, options)
    est, sign = found.estimate, 1 if spec.greater_is_better else -1
    side = _side_by_side(found)
    details = {"model": model.role, "reference": reference.name, "rows": est.rows, "method": options.method,
               "sampling_se": est.sampling_se, "calibration_se": est.calibration_se, "realized": found.realized,
               "realized_rows": found.realized_rows, "estimate_on_labelled": found.estimate_on_labelled}
    head = (f"{name}: model '{model.role}' estimated {est.value:.4g} ({options.confidence:.0%} interval "
            f"[{est.low:.4g}, {est.high:.4g}]) on {est.rows} unlabelled rows of '{window.name}'")
    checks = []
    if min_value is not None:
        passed = sign * (est.value - min_value) >= 0
        checks.append(Check(name, PASSED if passed else FAILED, metric=spec.name, dataset=window.name,
                            candidate=est.value, threshold=f"{'>=' if sign > 0 else '<='} {min_value:g}",
                            ci=(est.low, est.high), kind=KIND, details=details,
                            message=f"{head} {'meets' if passed else 'misses'} {min_value:g}{side}"))
    if max_drop is not None or max_relative_drop is not None:
        allowed = allowed_drop(found.reference, max_drop, max_relative_drop)
        worse = sign * (found.reference - est.value)
        checks.append(Check(f"estimated_drop[{spec.name}]", FAILED if worse > allowed else PASSED, metric=spec.name,
                            dataset=window.name, candidate=est.value, baseline=found.reference,
                            delta=est.value - found.reference, threshold=f"drop <= {allowed:.4g}",
                            ci=(est.low, est.high), kind=KIND, details={**details, "allowed_drop": allowed},
                            message=(f"{head}, {'a drop of' if worse > 0 else 'a change of'} {abs(worse):.4g} from "
                                     f"{found.reference:.4g} realized on '{reference.name}'; allowed drop <= "
                                     f"{allowed:.4g}{side}")))
    return checks, found


def allowed_drop(reference: float, max_drop: float | None, max_relative_drop: float | None) -> float:
    """The smaller of an absolute and a relative allowed drop (either may be missing)."""
    relative = None if max_relative_drop is None else max_relative_drop * abs(reference)
    return min(a for a in (max_drop, relative) if a is not None)


def _side_by_side(found: Estimated) -> str:
    if found.realized is None:
        return "; no labels yet"
    return (f"; labels arrived for {found.realized_rows} rows: realized {found.realized:.4g}, "
            f"estimated {found.estimate_on_labelled:.4g} on the same rows")


class EstimatedGates(Recorder):
    """``mlgate.estimated_metric``: performance estimated without labels, gated like a measured one."""

    def estimated_metric(self, metric: str | Callable[..., float] | Metric, dataset: str | Dataset = "current",
                         reference: str | Dataset = "holdout", *, min_value: float | None = None,
                         max_drop: float | None = None, max_relative_drop: float | None = None,
                         method: str = "sigmoid", max_calibration_error: float = 0.05,
                         n_boot: int = 200) -> list[Check]:
        """The model's ``metric`` on ``dataset`` estimated from its probabilities after calibrating them
        on the labelled ``reference`` (CBPE); in the monitor stage also an anytime-valid sequence."""
        __tracebackhide__ = True
        if method not in ("sigmoid", "isotonic"):
            raise MlgateError(f"estimated_metric: method must be sigmoid or isotonic, got {method!r}")
        s = self.settings
        model = self._estimated_model()
        window, ref = self.rows(dataset), self.rows(reference)
        options = EstimateOptions(method, max_calibration_error, s.confidence, n_boot, s.seed, s.min_slice_size)
        checks, found = estimated_checks(metric, model, ref, window, options, min_value=min_value,
                                         max_drop=max_drop, max_relative_drop=max_relative_drop)
        if found is not None and s.stage == "monitor":
            from pytest_mlgate.checks.sequential import (
                estimate_statistic,
                record_sequence,
            )

            allowed = None if max_drop is None and max_relative_drop is None else \
                allowed_drop(found.reference, max_drop, max_relative_drop)
            stat = estimate_statistic(resolve(metric), model, ref, window, found, s, min_value=min_value,
                                      allowed=allowed)
            checks.append(record_sequence(s, model, stat, window.name, self.gate))
        return self.record(*checks)

    def _estimated_model(self) -> ModelUnderTest:
        model = self.model("candidate")
        if model is None:
            raise MlgateError("estimated_metric: no model configured ([tool.mlgate] candidate or baseline)")
        return model
