"""Monitoring checks on a prediction-log window: latency, error rate, live metric, drift.

Latency and error rate are measured here; the live metric and drift reuse the drift module's
``concept_drift``, ``data_drift`` and ``prediction_drift`` on the window.

The window is a dataset like any other (``current = "predlog:logs/predictions.sqlite?window=24h"``);
it carries the log's own columns (:data:`pytest_mlgate.monitoring.window.META`) next to the features, and the
target where late labels arrived (``mlgate feedback add``).
"""

from __future__ import annotations

import copy
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from pytest_mlgate.checks.drift import concept_drift, data_drift, prediction_drift
from pytest_mlgate.checks.drift_stats import DriftOptions
from pytest_mlgate.checks.recorder import Recorder
from pytest_mlgate.decision import FAILED, PASSED, TOO_SMALL, Check
from pytest_mlgate.errors import MlgateError
from pytest_mlgate.evaluate.metrics import Metric, resolve
from pytest_mlgate.evaluate.models import Dataset, ModelUnderTest
from pytest_mlgate.monitoring.window import META

KIND = "monitor"
# Derived datasets live as long as their source: models cache predictions by dataset identity.
_DERIVED: weakref.WeakKeyDictionary[Dataset, dict[str, Dataset]] = weakref.WeakKeyDictionary()


def _log_column(data: Dataset, column: str) -> Any:
    if column not in data.frame.columns:
        raise MlgateError(f"dataset '{data.name}' has no '{column}' column: monitoring checks need a "
                          "prediction-log window (predlog:PATH?window=24h)")
    return data.frame[column]


def _too_small(name: str, data: Dataset, n: int, min_size: int, what: str = "rows") -> Check:
    return Check(name, TOO_SMALL, dataset=data.name, kind=KIND, details={"rows": n},
                 message=f"{name}: {n} {what} in '{data.name}' < {min_size}, too small to judge")


def latency(data: Dataset, limits: dict[str, float], *, min_size: int = 30) -> list[Check]:
    """One check per percentile in ``limits`` (e.g. ``{"p95": 50.0}``, milliseconds) over logged latency."""
    values = _log_column(data, "latency_ms").dropna().to_numpy(dtype=float)
    percentiles = {name: _percentile(name) for name in limits}
    if len(values) < min_size:
        return [_too_small(f"latency_{name}", data, len(values), min_size) for name in limits]
    measured = {name: float(np.percentile(values, q)) for name, q in percentiles.items()}
    table = [{"percentile": p, "latency_ms": round(float(np.percentile(values, _percentile(p))), 4)}
             for p in ("p50", "p90", "p95", "p99")]
    checks = []
    for name, limit in limits.items():
        value, passed = measured[name], measured[name] <= limit
        message = (f"latency {name} {value:.3g} ms {'<=' if passed else '>'} {limit:g} ms "
                   f"over {len(values)} logged predictions")
        checks.append(Check(f"latency_{name}", PASSED if passed else FAILED, metric=f"latency_{name}_ms",
                            dataset=data.name, candidate=value, threshold=f"<= {limit:g} ms", message=message,
                            kind=KIND, details={"rows": len(values), "max_ms": float(values.max()),
                                                "table": table}))
    return checks


def _percentile(name: str) -> float:
    try:
        q = float(name.lstrip("p"))
    except ValueError:
        q = -1.0
    if not name.startswith("p") or not 0 < q <= 100:
        raise MlgateError(f"latency: percentile names look like p50, p95 or p99.9, got {name!r}")
    return q


def error_rate(data: Dataset, max_rate: float, *, min_size: int = 30, confidence: float = 0.95) -> Check:
    """The share of logged predictions that raised must be at most ``max_rate``."""
    from scipy.stats import binomtest

    errors = _log_column(data, "error")
    n, k = len(errors), int(errors.notna().sum())
    if n < min_size:
        return _too_small("error_rate", data, n, min_size, "logged predictions")
    rate = k / n
    ci = binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    passed = rate <= max_rate
    kinds = errors.dropna().astype(str).str.split("(").str[0].value_counts().head(10)
    return Check("error_rate", PASSED if passed else FAILED, metric="error_rate", dataset=data.name,
                 candidate=rate, threshold=f"<= {max_rate:g}", ci=(float(ci.low), float(ci.high)), kind=KIND,
                 message=(f"error rate {rate:.4g} ({k} of {n} predictions) {'<=' if passed else '>'} {max_rate:g}"),
                 details={"rows": n, "errors": k,
                          "table": [{"error": e, "count": int(c)} for e, c in kinds.items()]})


#: Resource limits: the column of the resources table, and the statistic judged over the window.
RESOURCES = {"max_rss_mb": ("rss_mb", "max", "MB"), "max_cpu_percent": ("cpu_percent", "p95", "%"),
             "max_queue": ("queue", "max", "rows")}


def resource_use(samples: Any, limits: dict[str, float], dataset: str) -> list[Check]:
    """The serving process's peak memory, 95th-percentile CPU and peak log queue within limits.

    ``samples`` is :func:`pytest_mlgate.monitoring.window.read_resources`'s table for the window.
    """
    checks = []
    for key, limit in limits.items():
        column, statistic, unit = RESOURCES[key]
        name = f"{column}_{statistic}"
        values = samples[column].dropna().to_numpy(dtype=float)
        if not len(values):
            checks.append(Check(name, TOO_SMALL, metric=name, dataset=dataset, kind=KIND, details={"samples": 0},
                                message=f"{name}: no resource samples in '{dataset}', cannot judge"))
            continue
        value = float(values.max() if statistic == "max" else np.percentile(values, 95))
        passed = value <= limit
        checks.append(Check(name, PASSED if passed else FAILED, metric=name, dataset=dataset, candidate=value,
                            threshold=f"<= {limit:g} {unit}", kind=KIND,
                            message=(f"{column} {statistic} {value:.4g} {unit} {'<=' if passed else '>'} {limit:g} "
                                     f"{unit} over {len(values)} samples from {samples['pid'].nunique()} process(es)"),
                            details={"samples": len(values), "mean": float(values.mean())}))
    return checks


def labelled(data: Dataset) -> Dataset:
    """The rows of a window whose label has arrived, as a dataset of their own."""
    if data.target is None:
        raise MlgateError(f"dataset '{data.name}': no target column configured ([tool.mlgate] target)")
    mask = _log_column(data, data.target).notna().to_numpy()

    def build() -> Dataset:
        frame = data.frame.loc[mask].reset_index(drop=True)
        frame[data.target] = frame[data.target].infer_objects()
        return Dataset(f"{data.name}[labelled]", frame, data.target, data.artifact)

    return _derived(data, "labelled", build)


def _derived(data: Dataset, kind: str, build: Callable[[], Dataset]) -> Dataset:
    found = _DERIVED.setdefault(data, {})
    if kind not in found:
        found[kind] = build()
    return found[kind]


def model_inputs(model: ModelUnderTest, data: Dataset) -> list[str]:
    """The columns the model reads (``feature_names_in_``), else every logged feature column."""
    wanted = getattr(model.model, "feature_names_in_", None)
    if wanted is not None and model.live:  # a predictions table reads only its id column
        return [str(c) for c in wanted]
    return [c for c in data.frame.columns if c not in META and c != data.target]


class MonitoringGates(Recorder):
    """``mlgate.latency`` / ``error_rate`` / ``resources`` / ``live_metric`` / ``no_production_drift``."""

    def latency(self, dataset: str | Dataset = "current", *, min_size: int | None = None,
                **limits: float) -> list[Check]:
        """Logged latency percentiles must stay under limits in ms, e.g. ``latency(p95=50, p99=200)``."""
        __tracebackhide__ = True
        if not limits:
            raise MlgateError("latency: give at least one percentile limit, e.g. p95=50 (milliseconds)")
        return self.record(*latency(self.dataset(dataset), limits, min_size=min_size or self.settings.min_slice_size))

    def error_rate(self, max_rate: float, dataset: str | Dataset = "current", *,
                   min_size: int | None = None) -> list[Check]:
        """The share of logged predictions that failed must be at most ``max_rate``."""
        __tracebackhide__ = True
        s = self.settings
        return self.record(error_rate(self.dataset(dataset), max_rate, min_size=min_size or s.min_slice_size,
                                      confidence=s.confidence))

    def resources(self, dataset: str | Dataset = "current", *, max_rss_mb: float | None = None,
                  max_cpu_percent: float | None = None, max_queue: float | None = None) -> list[Check]:
        """The serving process's resource samples in the window: peak RSS (MB), 95th-percentile CPU
        (% of one core) and peak prediction-log queue must stay within the limits given."""
        __tracebackhide__ = True
        from pytest_mlgate.monitoring import window

        given = {"max_rss_mb": max_rss_mb, "max_cpu_percent": max_cpu_percent, "max_queue": max_queue}
        limits = {k: float(v) for k, v in given.items() if v is not None}
        if not limits:
            raise MlgateError("resources: give max_rss_mb, max_cpu_percent and/or max_queue")
        data = self.dataset(dataset)
        spec = data.artifact.spec if data.artifact else ""
        if not window.is_spec(spec):
            raise MlgateError(f"resources: dataset '{data.name}' is not a prediction-log window "
                              "(predlog:PATH?window=24h)")
        return self.record(*resource_use(window.load_spec_resources(spec, self.settings), limits, data.name))

    def live_metric(self, metric: str | Callable[..., float] | Metric, dataset: str | Dataset = "current",
                    holdout: str | Dataset = "holdout", *, max_drop: float | None = None,
                    max_relative_drop: float | None = None, min_rows: int | None = None) -> list[Check]:
        """Production's metric on the labelled rows of the window may not drop more than allowed below
        its figure on the holdout set (concept drift, measured where late labels arrived)."""
        __tracebackhide__ = True
        s = self.settings
        model, ref, window = self._production(), self.dataset(holdout), labelled(self.dataset(dataset))
        checks = concept_drift(metric, model, ref, window, max_drop=max_drop, max_relative_drop=max_relative_drop,
                               min_rows=s.min_slice_size if min_rows is None else min_rows,
                               confidence=s.confidence, n_boot=s.bootstrap, seed=s.seed)
        if s.stage == "monitor" and checks[0].outcome != TOO_SMALL:  # also an anytime-valid sequence
            from pytest_mlgate.checks.sequential import live_statistic, record_sequence

            stat = live_statistic(resolve(metric), model, ref, window, checks[0], s)
            checks.append(record_sequence(s, model, stat, window.name, self.gate))
        return self.record(*checks)

    def no_production_drift(self, reference: str | Dataset = "reference", dataset: str | Dataset = "current",
                            *, max_score_shift: float = 0.05, **options: Any) -> list[Check]:
        """Neither the production model's inputs nor its scores may drift from ``reference`` to the window.

        ``options`` are the drift options of ``mlgate.no_drift`` (method, alpha, min_psi...). In the
        monitor stage the mean score also forms anytime-valid sequences: it may not move more than
        ``max_score_shift`` (probability units) either way.
        """
        __tracebackhide__ = True
        model, ref, cur = self._production(), self.dataset(reference), self.dataset(dataset)
        drift_options = DriftOptions.from_settings(self.settings, **options)
        checks = [*data_drift(ref.frame, cur.frame, model_inputs(model, cur), drift_options, names=(ref.name, cur.name)),
                  *prediction_drift(model, ref, cur, drift_options)]
        if self.settings.stage == "monitor" and model.is_classifier and len(cur) >= self.settings.min_slice_size:
            from pytest_mlgate.checks.sequential import (
                record_sequence,
                score_mean_statistics,
            )

            stats, alpha = score_mean_statistics(model, ref, cur, self.settings, max_score_shift)
            checks += [record_sequence(self.settings, model, (stat, alpha), cur.name, self.gate) for stat in stats]
        return self.record(*checks)

    def _production(self) -> ModelUnderTest:
        """The model in production: the candidate role, which the monitor stage points at production."""
        model = self.model("candidate")
        if model is None:
            raise MlgateError("monitoring: no production model configured ([tool.mlgate] baseline)")
        if self.settings.stage != "monitor":
            return model
        production = copy.copy(model)  # shares the cached outputs; only the name in messages changes
        production.role = "production"
        return production
