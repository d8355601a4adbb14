"""Data, prediction, label and concept drift between a reference and a current batch.

Each feature gets a two-sample test (Kolmogorov-Smirnov or Cramer-von Mises for numeric
features, chi-square for categorical ones, or an alibi-detect detector), a multiple-testing
correction across features, and effect sizes (PSI, the KS statistic, the Wasserstein distance in
reference standard deviations). By default a feature drifts only when its shift is significant
AND at least the effect-size threshold, so that very large samples do not flag harmless shifts.
The pure functions here (``data_drift``, ``prediction_drift``, ``label_drift``,
``concept_drift``) return Check records and are reused by the monitoring stage.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from pytest_mlgate.checks.recorder import Recorder
from pytest_mlgate.decision import FAILED, NOT_APPLICABLE, PASSED, TOO_SMALL, Check
from pytest_mlgate.errors import ConfigError, MlgateError
from pytest_mlgate.evaluate.metrics import Metric, resolve
from pytest_mlgate.evaluate.models import Dataset, ModelUnderTest
from pytest_mlgate.evaluate.stats import interval

SCIPY_METHODS = ("ks", "cvm")
CORRECTIONS = ("bonferroni", "fdr", "none")
#: Effect sizes for numeric features and their default thresholds: the Wasserstein distance in
#: reference standard deviations, the KS statistic (largest gap between the two CDFs), and PSI.
EFFECTS = {"wasserstein": 0.1, "ks": 0.05, "psi": 0.1}
EPSILON = 1e-4  # floor for empty bins in PSI, so an empty bin adds a large but finite term
KS_EXACT_MAX_N = 10_000  # scipy's ks_2samp switches from the exact to the asymptotic p-value here


@dataclass(frozen=True)
class DriftOptions:
    """How drift is tested and judged; ``min_effect=0`` judges by significance alone.

    ``method``: ``ks`` or ``cvm`` (scipy), an alibi-detect detector name, or a configured
    alibi-detect detector. Categorical features use chi-square and PSI (``min_psi``); a feature
    whose current rows fall in categories unseen in the reference more than ``max_new_share`` of
    the time drifts too.
    """

    method: Any = "ks"
    correction: str = "bonferroni"
    alpha: float = 0.05
    effect: str = "wasserstein"
    min_effect: float | None = None
    min_psi: float = 0.1
    max_new_share: float = 0.01
    bins: int = 10
    min_rows: int = 30
    categorical: tuple[str, ...] = ()
    seed: int = 0

    @property
    def threshold(self) -> float:
        """The numeric effect-size threshold (``min_effect`` or the effect's default)."""
        return EFFECTS[self.effect] if self.min_effect is None else self.min_effect

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> DriftOptions:
        """Defaults, then ``[tool.mlgate.drift]``, then ``overrides`` (``None`` = not given)."""
        base = cls(min_rows=settings.min_slice_size, seed=settings.seed)
        table = settings.section("drift")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(table) - known - {"seed"})
        if unknown:
            raise ConfigError(f"mlgate config: [tool.mlgate.drift] key '{unknown[0]}' is unknown "
                              f"(known: {', '.join(sorted(known - {'seed'}))})")
        configured = validated(base, {k: v for k, v in table.items() if k != "seed"},
                               lambda key, text: ConfigError(f"mlgate config: [tool.mlgate.drift] key '{key}' {text}"))
        wrong = sorted(set(overrides) - known)
        if wrong:
            raise MlgateError(f"drift: unknown option '{wrong[0]}' (known: {', '.join(sorted(known))})")
        given = {k: v for k, v in overrides.items() if v is not None}
        return validated(configured, given, lambda key, text: MlgateError(f"drift: argument '{key}' {text}"))


def validated(options: DriftOptions, values: Mapping[str, Any],
              error: Callable[[str, str], Exception]) -> DriftOptions:
    """``options`` updated with ``values``; a bad value raises ``error(key, reason)``."""
    changes: dict[str, Any] = {}
    for key, value in values.items():
        if key == "method":
            if isinstance(value, str) and value not in SCIPY_METHODS and not value[:1].isupper():
                raise error(key, f"must be one of {', '.join(SCIPY_METHODS)} or an alibi-detect detector, got {value!r}")
        elif key in ("correction", "effect"):
            choices = CORRECTIONS if key == "correction" else tuple(EFFECTS)
            if value not in choices:
                raise error(key, f"must be one of {', '.join(choices)}, got {value!r}")
        elif key == "categorical":
            value = (value,) if isinstance(value, str) else value
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
                raise error(key, f"must be a list of column names, got {value!r}")
            value = tuple(value)
        elif key in ("bins", "min_rows", "seed"):
            if isinstance(value, bool) or not isinstance(value, int) or value < (2 if key == "bins" else 0):
                raise error(key, f"must be an integer >= {2 if key == 'bins' else 0}, got {value!r}")
        elif key in ("alpha", "min_effect", "min_psi", "max_new_share"):
            high = 1.0 if key in ("alpha", "max_new_share") else math.inf
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= high:
                raise error(key, f"must be a number in [0, {high:g}], got {value!r}")
            value = float(value)
        changes[key] = value
    return replace(options, **changes)


# ---------------------------------------------------------------- one feature


@dataclass
class Feature:
    """One feature's non-null values in both batches, ready to test.

    Numeric values are sorted floats; categorical values are integer codes into ``labels``.
    """

    name: str
    kind: str  # "numeric" or "categorical"
    ref: np.ndarray
    cur: np.ndarray
    row: dict[str, Any]
    labels: list[Any] = field(default_factory=list)

    @property
    def binary(self) -> bool:
        if self.kind == "categorical":
            return len(self.labels) <= 2
        return np.union1d(np.unique(self.ref), np.unique(self.cur)).size <= 2


def is_categorical(series: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype)


def prepare(name: str, ref: pd.Series, cur: pd.Series, options: DriftOptions,
            names: tuple[str, str]) -> Feature | Check:
    """The feature ready to test, or a not_applicable / too_small check saying why it cannot be."""
    categorical = name in options.categorical or is_categorical(ref)
    if name not in options.categorical and is_categorical(ref) != is_categorical(cur):
        raise MlgateError(f"drift: feature '{name}' is {ref.dtype} in dataset '{names[0]}' but {cur.dtype} "
                          f"in dataset '{names[1]}' (cast it, or list it in categorical=)")
    values = [_non_null(series, categorical) for series in (ref, cur)]
    row = {"feature": name, "kind": "categorical" if categorical else "numeric",
           "rows_reference": len(ref), "rows_current": len(cur),
           "null_reference": _share(len(ref) - len(values[0]), len(ref)),
           "null_current": _share(len(cur) - len(values[1]), len(cur))}
    if pd.api.types.is_datetime64_any_dtype(ref.dtype) and name not in options.categorical:
        return _untestable(name, NOT_APPLICABLE, f"'{name}' is a {ref.dtype} column: timestamps are not "
                                                 "compared (leave it out of features=)", row)
    for present, which in zip(values, names):
        if not len(present):
            return _untestable(name, NOT_APPLICABLE, f"'{name}' has no non-null values in dataset '{which}'", row)
        if len(present) < options.min_rows:
            return _untestable(name, TOO_SMALL, f"'{name}' has {len(present)} non-null rows in dataset '{which}' "
                                                f"< {options.min_rows}, too few to test", row)
    if categorical:
        codes, labels = pd.factorize(np.concatenate(values))
        return Feature(name, "categorical", codes[:len(values[0])], codes[len(values[0]):], row, list(labels))
    return Feature(name, "numeric", np.sort(values[0]), np.sort(values[1]), row)


def _non_null(series: pd.Series, categorical: bool) -> np.ndarray:
    if categorical:
        return series.dropna().to_numpy(dtype=object)
    values = series.to_numpy(dtype=float, na_value=np.nan)
    missing = np.isnan(values)
    return values[~missing] if missing.any() else values


def _share(count: int, total: int) -> float:
    return float(count) / total if total else 0.0


def _untestable(name: str, outcome: str, why: str, row: dict[str, Any]) -> Check:
    row.update(outcome=outcome, note=why)
    return Check(name, outcome, message=f"drift: {why}", kind="drift", details={"row": row})


def numeric_effects(ref: np.ndarray, cur: np.ndarray, bins: int) -> dict[str, float]:
    """KS statistic, Wasserstein distance in reference sds and PSI of two sorted samples.

    One pass over the merged sorted values gives both CDF distances exactly.
    """
    merged = np.sort(np.concatenate([ref, cur]), kind="stable")  # a merge of two sorted runs
    gap = np.abs(np.searchsorted(ref, merged, "right") / len(ref) - np.searchsorted(cur, merged, "right") / len(cur))
    distance = float(gap[:-1] @ np.diff(merged))
    scale = float(np.std(ref)) or float(np.std(merged))
    return {"ks": float(gap.max()), "wasserstein": distance / scale if scale else 0.0,
            "psi": psi(*_binned(ref, cur, bins))}


def _binned(ref: np.ndarray, cur: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Counts of both sorted samples in the reference's quantile bins."""
    edges = np.unique(ref[(np.arange(1, bins) * len(ref)) // bins])
    counts = [np.diff(np.concatenate([[0], np.searchsorted(v, edges, "left"), [len(v)]])) for v in (ref, cur)]
    return counts[0], counts[1]


def psi(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """Population stability index of two histograms over the same bins (empty bins floored)."""
    p = np.maximum(ref_counts / ref_counts.sum(), EPSILON)
    q = np.maximum(cur_counts / cur_counts.sum(), EPSILON)
    return float(np.sum((q - p) * np.log(q / p)))


def categorical_effects(feature: Feature) -> tuple[dict[str, float], np.ndarray]:
    """PSI, total variation distance and the share of current rows in unseen categories."""
    k = len(feature.labels)
    ref_counts, cur_counts = np.bincount(feature.ref, minlength=k), np.bincount(feature.cur, minlength=k)
    new = (ref_counts == 0) & (cur_counts > 0)
    p, q = ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum()
    feature.row["new_categories"] = ", ".join(str(feature.labels[i]) for i in np.flatnonzero(new)) or None
    return ({"psi": psi(ref_counts, cur_counts), "tvd": float(np.abs(p - q).sum() / 2),
             "new_share": float(q[new].sum())}, np.vstack([ref_counts, cur_counts]))


def ks_test(ref: np.ndarray, cur: np.ndarray, statistic: float) -> float:
    """The two-sided KS p-value exactly as scipy's ``ks_2samp`` computes it (method 'auto')."""
    if max(len(ref), len(cur)) <= KS_EXACT_MAX_N:
        return float(stats.ks_2samp(ref, cur).pvalue)
    m, n = sorted([float(len(ref)), float(len(cur))], reverse=True)
    return float(np.clip(stats.kstwo.sf(statistic, np.round(m * n / (m + n))), 0, 1))


def scipy_test(feature: Feature, method: str, table: np.ndarray | None) -> tuple[str, float, float]:
    """(test name, statistic, p-value) of one prepared feature."""
    if feature.kind == "categorical":
        if table.shape[1] < 2:
            return "chi2", 0.0, 1.0
        result = stats.chi2_contingency(table)
        return "chi2", float(result.statistic), float(result.pvalue)
    if method == "cvm":
        result = stats.cramervonmises_2samp(feature.ref, feature.cur)
        return "cvm", float(result.statistic), float(min(max(result.pvalue, 0.0), 1.0))
    return "ks", feature.row["ks"], ks_test(feature.ref, feature.cur, feature.row["ks"])


def adjust(p_values: Sequence[float], correction: str) -> np.ndarray:
    """P-values adjusted across features: Bonferroni, Benjamini-Hochberg FDR, or none."""
    p = np.asarray(p_values, dtype=float)
    if correction == "bonferroni":
        return np.minimum(p * len(p), 1.0)
    if correction == "fdr" and len(p):
        return stats.false_discovery_control(p, method="bh")
    return p


# ---------------------------------------------------------------- data drift


def data_drift(reference: pd.DataFrame, current: pd.DataFrame, features: Sequence[str] | None = None,
               options: DriftOptions | None = None, *, names: tuple[str, str] = ("reference", "current"),
               exclude: Sequence[str] = (), check: str = "data_drift") -> list[Check]:
    """Per-feature drift of ``current`` from ``reference``: one summary check plus untestable rows.

    ``features`` defaults to the reference's columns less ``exclude``. The summary check fails when
    any feature drifted; its ``details["table"]`` has one row per feature.
    """
    options = options or DriftOptions()
    columns = _features(reference, current, features, exclude, names)
    prepared, untestable = [], []
    for name in columns:
        item = prepare(name, reference[name], current[name], options, names)
        (prepared if isinstance(item, Feature) else untestable).append(item)
    rows = _judge(prepared, (reference[columns], current[columns]), options)
    untestable += [Check(r["feature"], NOT_APPLICABLE, message=f"drift: '{r['feature']}': {r['note']}", kind="drift")
                   for r in rows if r["outcome"] == NOT_APPLICABLE]
    table = [*rows, *(c.details["row"] for c in untestable if "row" in c.details)]
    summary = _summary(check, rows, table, options, names)
    for item in untestable:
        item.name = f"{check}[{item.name}]"
        item.dataset = names[1]
    return [summary, *untestable]


def _features(reference: pd.DataFrame, current: pd.DataFrame, features: Sequence[str] | None,
              exclude: Sequence[str], names: tuple[str, str]) -> list[str]:
    for frame, name in ((reference, names[0]), (current, names[1])):
        if frame.empty:
            raise MlgateError(f"drift: dataset '{name}' has no rows")
    if features is None:
        features = [c for c in reference.columns if c not in exclude]
    features = [features] if isinstance(features, str) else list(features)
    if not features:
        raise MlgateError(f"drift: no features to compare in dataset '{names[0]}'")
    for frame, name in ((reference, names[0]), (current, names[1])):
        missing = [f for f in features if f not in frame.columns]
        if missing:
            raise MlgateError(f"drift: feature(s) {missing} missing from dataset '{name}'")
    return features


@dataclass
class Results:
    """What a backend found: per-feature (test, statistic, p-value), and for a configured detector
    its own p-value threshold, or for a multivariate detector one joint row."""

    tests: dict[str, tuple[str, float, float]] = field(default_factory=dict)
    threshold: float | None = None
    joint: dict[str, Any] | None = None


def _judge(prepared: list[Feature], frames: tuple[pd.DataFrame, pd.DataFrame],
           options: DriftOptions) -> list[dict[str, Any]]:
    """Test, correct and judge every prepared feature; returns the table rows (joint row first)."""
    tables = {}
    for feature in prepared:
        if feature.kind == "numeric":
            feature.row.update(numeric_effects(feature.ref, feature.cur, options.bins))
        else:
            effects, tables[feature.name] = categorical_effects(feature)
            feature.row.update(effects)
    if not prepared:
        return []
    if isinstance(options.method, str) and options.method in SCIPY_METHODS:
        results = Results({f.name: scipy_test(f, options.method, tables.get(f.name)) for f in prepared})
    else:
        from pytest_mlgate.checks import drift_alibi

        results = drift_alibi.results(prepared, frames, options)
    if results.joint is not None:
        for feature in prepared:
            feature.row.update(outcome="effect only", note=f"tested jointly by {_method_name(options.method)}")
        return [results.joint, *(f.row for f in prepared)]
    tested = [f for f in prepared if f.name in results.tests]
    adjusted = adjust([results.tests[f.name][2] for f in tested],
                      "none" if results.threshold is not None else options.correction)
    for feature, p_adj in zip(tested, adjusted):
        feature.row["p_adjusted"] = float(p_adj)
        _verdict(feature, results.tests[feature.name], results.threshold, options)
    for feature in prepared:
        if feature.name not in results.tests:
            feature.row.update(outcome=NOT_APPLICABLE,
                               note=f"{_method_name(options.method)} does not test this {feature.kind} feature")
    return [f.row for f in prepared]


def _verdict(feature: Feature, result: tuple[str, float, float], threshold: float | None,
             options: DriftOptions) -> None:
    test, statistic, p_value = result
    row = feature.row
    significant = row["p_adjusted"] < (options.alpha if threshold is None else threshold)
    if feature.kind == "numeric":
        effect, limit = options.effect, options.threshold
    else:
        effect, limit = "psi", options.min_psi
    large = row[effect] >= limit
    new = feature.kind == "categorical" and row["new_share"] > options.max_new_share
    drifted = (significant and large) or new
    row.update(test=test, statistic=float(statistic), p_value=float(p_value), effect=effect, effect_value=row[effect],
               min_effect=limit, significant=bool(significant), drifted=bool(drifted),
               outcome="drifted" if drifted else "stable")


def _summary(check: str, rows: list[dict[str, Any]], table: list[dict[str, Any]], options: DriftOptions,
             names: tuple[str, str]) -> Check:
    tested = [r for r in rows if r["outcome"] in ("drifted", "stable")]
    drifted = [r for r in tested if r["drifted"]]
    how = (f"{_method_name(options.method)}, {options.correction} alpha {options.alpha:g}, "
           f"{options.effect} >= {options.threshold:g}, categorical psi >= {options.min_psi:g}")
    details = {"reference": names[0], "current": names[1], "method": _method_name(options.method),
               "correction": options.correction, "alpha": options.alpha, "effect": options.effect,
               "min_effect": options.threshold, "min_psi": options.min_psi, "max_new_share": options.max_new_share,
               "tested": len(tested), "drifted": [r["feature"] for r in drifted], "table": table}
    name = f"{check}[{names[0]}->{names[1]}]"
    if not tested:
        return Check(name, NOT_APPLICABLE, metric="drifted features", dataset=names[1], kind="drift",
                     threshold="0 drifted", details=details,
                     message=f"{name}: none of {len(table)} feature(s) could be tested")
    if drifted:
        message = (f"{name}: {len(drifted)} of {len(tested)} feature(s) drifted ({how}): "
                   + "; ".join(describe(r) for r in drifted))
    else:
        message = f"{name}: no drift in {len(tested)} feature(s) ({how})"
    return Check(name, FAILED if drifted else PASSED, metric="drifted features", dataset=names[1],
                 candidate=float(len(drifted)), threshold="0 drifted", message=message, kind="drift",
                 details=details)


def describe(row: dict[str, Any]) -> str:
    """One drifted feature (or a joint test) with its statistics, for failure messages."""
    if row["kind"] == "joint":
        return (f"{row['feature']} ({row['test']} distance {row['statistic']:.4g}, p={row['p_value']:.3g} "
                f"< {row['threshold']:.3g}; largest shift {row['largest_shift']})")
    parts = [f"{row['test']} {row['statistic']:.4g}", f"p={row['p_value']:.3g}", f"adj p={row['p_adjusted']:.3g}"]
    if row["kind"] == "numeric":
        parts += [f"ks {row['ks']:.3f}"] if row["test"] not in ("ks", "KSDrift", "TabularDrift") else []
        parts += [f"wasserstein {row['wasserstein']:.3f} sd", f"psi {row['psi']:.3f}"]
    else:
        parts += [f"psi {row['psi']:.3f}", f"tvd {row['tvd']:.3f}"]
        if row.get("new_categories"):
            parts.append(f"new {row['new_categories']} ({row['new_share']:.1%} of rows)")
    return f"{row['feature']} ({', '.join(parts)})"


def _method_name(method: Any) -> str:
    return method if isinstance(method, str) else type(method).__name__


# ---------------------------------------------------------------- predictions, labels, concept


def prediction_drift(model: ModelUnderTest, reference: Dataset, current: Dataset,
                     options: DriftOptions | None = None) -> list[Check]:
    """Drift of the model's outputs: the positive-class score of a binary classifier, the predicted
    label of a multi-class one, a regressor's values."""
    column, outputs = _outputs(model, reference), _outputs(model, current)
    options = options or DriftOptions()
    if column[0] == "predicted_label":
        options = replace(options, categorical=(*options.categorical, "predicted_label"))
    checks = data_drift(pd.DataFrame({column[0]: column[1]}), pd.DataFrame({outputs[0]: outputs[1]}),
                        options=options, names=(reference.name, current.name), check=f"prediction_drift[{model.role}]")
    checks[0].details["model"] = model.role
    return checks


def _outputs(model: ModelUnderTest, data: Dataset) -> tuple[str, np.ndarray]:
    if hasattr(model.model, "predict_proba"):
        score = model.score(data)
        if score.ndim == 1:
            return "score", score
    return ("predicted_label" if model.is_classifier else "prediction"), model.predict(data)


def label_drift(reference: Dataset, current: Dataset, options: DriftOptions | None = None) -> list[Check]:
    """Drift of the target column; categorical unless the target is a float column."""
    if reference.target is None:
        raise MlgateError("label drift: no target column configured ([tool.mlgate] target)")
    target = reference.target
    ref, cur = reference.column(target), current.column(target)
    options = options or DriftOptions()
    if not pd.api.types.is_float_dtype(ref.dtype):
        options = replace(options, categorical=(*options.categorical, target))
    return data_drift(ref.to_frame(), cur.to_frame(), options=options, names=(reference.name, current.name),
                      check="label_drift")


def concept_drift(metric: str | Callable[..., float] | Metric, model: ModelUnderTest, reference: Dataset,
                  current: Dataset, *, max_drop: float | None = None, max_relative_drop: float | None = None,
                  min_rows: int = 30, confidence: float = 0.95, n_boot: int = 1000, seed: int = 0) -> list[Check]:
    """The model's metric on a labelled current batch may not fall more than allowed below its
    metric on ``reference`` (the holdout)."""
    spec = resolve(metric)
    if max_drop is None and max_relative_drop is None:
        raise MlgateError("no_concept_drift: give max_drop and/or max_relative_drop")
    name = f"concept_drift[{spec.name}]"
    if len(current) < min_rows:
        return [Check(name, TOO_SMALL, metric=spec.name, dataset=current.name, kind="drift",
                      message=f"{name}: dataset '{current.name}' has {len(current)} rows < {min_rows}, too few to judge",
                      details={"rows": len(current), "model": model.role})]
    before = model.metric(spec, reference, observe=False)
    after = model.metric(spec, current, observe=False)
    kwargs = {"pos_label": model.pos_label, "classes": model.classes}
    low, high, method = interval(spec, current.y, [model.output(current, spec.needs)], confidence=confidence,
                                 n_boot=n_boot, seed=seed, **kwargs)
    allowed = min(a for a in (max_drop, None if max_relative_drop is None else max_relative_drop * abs(before))
                  if a is not None)
    delta = after - before
    worse = -delta if spec.greater_is_better else delta
    relative = f"{delta / abs(before) * 100:+.1f}%" if before else "n/a"
    message = (f"{name}: model '{model.role}' {'dropped' if worse > 0 else 'changed'} {abs(delta):.4g} ({relative}) "
               f"from {before:.4g} on '{reference.name}' to {after:.4g} on '{current.name}' "
               f"({len(current)} rows, {confidence:.0%} CI [{low:.4g}, {high:.4g}]); allowed drop <= {allowed:.4g}")
    return [Check(name, FAILED if worse > allowed else PASSED, metric=spec.name, dataset=current.name,
                  candidate=after, baseline=before, delta=delta, threshold=f"drop <= {allowed:.4g}",
                  ci=(float(low), float(high)), message=message, kind="drift",
                  details={"model": model.role, "reference": reference.name, "rows": len(current),
                           "reference_rows": len(reference), "ci_method": method, "allowed_drop": allowed})]


# ---------------------------------------------------------------- the mixin


class DriftGates(Recorder):
    """``mlgate.no_drift`` / ``no_prediction_drift`` / ``no_label_drift`` / ``no_concept_drift``."""

    def no_drift(self, reference: str | Dataset | pd.DataFrame = "reference",
                 current: str | Dataset | pd.DataFrame = "current", features: Sequence[str] | None = None,
                 **options: Any) -> list[Check]:
        """No feature may drift from ``reference`` to ``current`` (all columns but the target by default).

        ``options`` override ``[tool.mlgate.drift]``: method, correction, alpha, effect, min_effect,
        min_psi, max_new_share, bins, min_rows, categorical.
        """
        __tracebackhide__ = True
        ref, cur = self._drift_data(reference, "reference"), self._drift_data(current, "current")
        return self.record(*data_drift(ref.frame, cur.frame, features, self._drift_options(**options),
                                       names=(ref.name, cur.name), exclude=[self.settings.target or ""]))

    def no_prediction_drift(self, reference: str | Dataset = "reference", current: str | Dataset = "current", *,
                            model: str | ModelUnderTest = "candidate", **options: Any) -> list[Check]:
        """The model's score (or prediction) distribution may not drift from ``reference`` to ``current``."""
        __tracebackhide__ = True
        return self.record(*prediction_drift(self._drift_model(model), self._drift_data(reference, "reference"),
                                             self._drift_data(current, "current"), self._drift_options(**options)))

    def no_label_drift(self, reference: str | Dataset = "reference", current: str | Dataset = "current",
                       **options: Any) -> list[Check]:
        """The target's distribution may not drift from ``reference`` to ``current``."""
        __tracebackhide__ = True
        return self.record(*label_drift(self._drift_data(reference, "reference"), self._drift_data(current, "current"),
                                        self._drift_options(**options)))

    def no_concept_drift(self, metric: str | Callable[..., float] | Metric, current: str | Dataset = "current", *,
                         reference: str | Dataset = "holdout", model: str | ModelUnderTest = "candidate",
                         max_drop: float | None = None, max_relative_drop: float | None = None,
                         min_rows: int | None = None) -> list[Check]:
        """The model's metric on a labelled current batch may not drop more than allowed below ``reference``."""
        __tracebackhide__ = True
        s = self.settings
        return self.record(*concept_drift(
            metric, self._drift_model(model), self._drift_data(reference, "holdout"), self._drift_data(current, "current"),
            max_drop=max_drop, max_relative_drop=max_relative_drop,
            min_rows=s.min_slice_size if min_rows is None else min_rows,
            confidence=s.confidence, n_boot=s.bootstrap, seed=s.seed))

    def _drift_options(self, **overrides: Any) -> DriftOptions:
        return DriftOptions.from_settings(self.settings, **overrides)

    def _drift_data(self, data: str | Dataset | pd.DataFrame, name: str) -> Dataset:
        if isinstance(data, pd.DataFrame):
            return Dataset(name, data, self.settings.target)
        return self.dataset(data)

    def _drift_model(self, role: str | ModelUnderTest) -> ModelUnderTest:
        found = self.model(role)
        if found is None:
            raise MlgateError(f"model '{role}' is not configured")
        return found
