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

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from pytest_mlgate.checks.drift_stats import (
    SCIPY_METHODS,
    DriftOptions,
    Feature,
    Results,
    adjust,
    categorical_effects,
    each,
    numeric_effects,
    prepare,
    scipy_test,
    select_features,
)
from pytest_mlgate.checks.recorder import Recorder
from pytest_mlgate.decision import FAILED, NOT_APPLICABLE, PASSED, TOO_SMALL, Check
from pytest_mlgate.errors import MlgateError
from pytest_mlgate.evaluate.fold import Statistics, profile_column
from pytest_mlgate.evaluate.metrics import Metric, resolve
from pytest_mlgate.evaluate.models import Dataset, ModelUnderTest
from pytest_mlgate.evaluate.stats import interval

# ---------------------------------------------------------------- data drift


def data_drift(reference: pd.DataFrame, current: pd.DataFrame, features: Sequence[str] | None = None,
               options: DriftOptions | None = None, *, names: tuple[str, str] = ("reference", "current"),
               exclude: Sequence[str] = (), check: str = "data_drift") -> list[Check]:
    """Per-feature drift of ``current`` from ``reference``: one summary check plus untestable rows.

    ``features`` defaults to the reference's columns less ``exclude``. The summary check fails when
    any feature drifted; its ``details["table"]`` has one row per feature.
    """
    options = options or DriftOptions()
    columns = select_features([(len(reference), list(reference.columns)), (len(current), list(current.columns))],
                              features, exclude, names)
    scipy = isinstance(options.method, str) and options.method in SCIPY_METHODS
    items = each(lambda name: _feature(name, reference[name], current[name], options, names, scipy), columns)
    prepared = [item for item, _ in items if isinstance(item, Feature)]
    untestable = [item for item, _ in items if not isinstance(item, Feature)]
    if scipy:
        rows = judged(prepared, Results({f.name: test for f, test in items if isinstance(f, Feature)}), options)
    else:
        rows = _judge(prepared, (reference[columns], current[columns]), options)
    return conclude(rows, untestable, options, names, check)


def _feature(name: str, ref: pd.Series, cur: pd.Series, options: DriftOptions, names: tuple[str, str],
             test: bool) -> tuple[Feature | Check, tuple[str, float, float] | None]:
    """One feature prepared, its effect sizes measured and (scipy's methods) tested, its rows released."""
    item = prepare(name, ref, cur, options, names)
    if not isinstance(item, Feature):
        return item, None
    table = _effects(item, options)
    if not test:
        return item, None
    result = scipy_test(item, options.method, table)
    item.ref = item.cur = item.ref[:0]  # only the row is read from here on
    return item, result


def _effects(feature: Feature, options: DriftOptions) -> np.ndarray | None:
    """Add the feature's effect sizes to its row; a categorical feature's contingency table."""
    if feature.kind == "numeric":
        feature.row.update(numeric_effects(feature.ref, feature.cur, options.bins))
        return None
    effects, table = categorical_effects(feature)
    feature.row.update(effects)
    return table


def conclude(rows: list[dict[str, Any]], untestable: list[Check], options: DriftOptions, names: tuple[str, str],
             check: str = "data_drift") -> list[Check]:
    """The summary check over the judged ``rows``, then the untestable features' checks."""
    untestable += [Check(r["feature"], NOT_APPLICABLE, message=f"drift: '{r['feature']}': {r['note']}", kind="drift")
                   for r in rows if r["outcome"] == NOT_APPLICABLE]
    table = [*rows, *(c.details["row"] for c in untestable if "row" in c.details)]
    summary = _summary(check, rows, table, options, names)
    for item in untestable:
        item.name = f"{check}[{item.name}]"
        item.dataset = names[1]
    return [summary, *untestable]


def _judge(prepared: list[Feature], frames: tuple[pd.DataFrame, pd.DataFrame],
           options: DriftOptions) -> list[dict[str, Any]]:
    """Test (with alibi-detect), correct and judge the prepared features; the table rows (joint row first)."""
    if not prepared:
        return []
    from pytest_mlgate.checks import drift_alibi

    return judged(prepared, drift_alibi.results(prepared, frames, options), options)


def judged(prepared: list[Feature], results: Results, options: DriftOptions) -> list[dict[str, Any]]:
    """Correct the tests' p-values across features and judge each one; the table rows."""
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


def streamed(*datasets: Dataset) -> bool:
    return any(getattr(d, "streamed", False) for d in datasets)


def folded(options: DriftOptions, *datasets: Dataset) -> bool:
    """Whether drift between ``datasets`` is tested from folded column profiles: a streamed dataset
    and the KS family. Other methods (``cvm``, an alibi-detect detector) need rows, so a streamed
    dataset gives them its seeded sample of ``sample_rows`` rows, and their checks say so."""
    return streamed(*datasets) and isinstance(options.method, str) and options.method == "ks"


def _method_name(method: Any) -> str:
    return method if isinstance(method, str) else type(method).__name__


# ---------------------------------------------------------------- predictions, labels, concept


def prediction_drift(model: ModelUnderTest, reference: Dataset, current: Dataset,
                     options: DriftOptions | None = None) -> list[Check]:
    """Drift of the model's outputs: the positive-class score of a binary classifier, the predicted
    label of a multi-class one, a regressor's values. A streamed dataset's outputs are folded into
    the same column profiles (sketches, exact counts) as its columns, not sampled."""
    options = options or DriftOptions()
    if folded(options, reference, current):
        return _streamed_prediction_drift(model, reference, current, options)
    column, outputs = _outputs(model, _rows_of(reference)), _outputs(model, _rows_of(current))
    if column[0] == "predicted_label":
        options = replace(options, categorical=(*options.categorical, "predicted_label"))
    checks = data_drift(pd.DataFrame({column[0]: column[1]}), pd.DataFrame({outputs[0]: outputs[1]}),
                        options=options, names=(reference.name, current.name), check=f"prediction_drift[{model.role}]")
    checks[0].details["model"] = model.role
    return checks


def _streamed_prediction_drift(model: ModelUnderTest, reference: Dataset, current: Dataset,
                               options: DriftOptions) -> list[Check]:
    from pytest_mlgate.checks import drift_streamed

    (column, ref), (_, cur) = _output_profile(model, reference), _output_profile(model, current)
    if column == "predicted_label":
        options = replace(options, categorical=(*options.categorical, column))
    prepared, untestable, results = drift_streamed.tested_profiles(ref, cur, (reference.name, current.name), None,
                                                                   options)
    checks = conclude(judged(prepared, results, options), untestable, options, (reference.name, current.name),
                      f"prediction_drift[{model.role}]")
    checks[0].details["model"] = model.role
    return checks


def _output_profile(model: ModelUnderTest, data: Dataset) -> tuple[str, Statistics]:
    """The model's output column on ``data`` as a one-column profile: folded over a streamed
    dataset's chunks, or profiled from an in-memory dataset's outputs."""
    if getattr(data, "streamed", False):
        found = data.output_profile(model)
        column = {"score": "score", "value": "prediction", "label": "predicted_label"}[found.kinds[model.role]]
        return column, Statistics(rows=found.rows, columns={column: found.outputs[model.role]})
    column, values = _outputs(model, data)
    return column, Statistics(rows=len(data), columns={column: profile_column(pd.Series(values))})


def _rows_of(data: Dataset) -> Dataset:
    """``data``, or a streamed dataset's seeded sample as a dataset of its own."""
    return data.sample_dataset() if streamed(data) else data


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
    options = options or DriftOptions()
    if folded(options, reference, current):  # from column profiles
        from pytest_mlgate.checks import drift_streamed

        if not drift_streamed.profile_of(reference).columns[target].dtype.startswith("float"):
            options = replace(options, categorical=(*options.categorical, target))
        prepared, untestable, results = drift_streamed.tested(reference, current, [target], options)
        return conclude(judged(prepared, results, options), untestable, options, (reference.name, current.name),
                        "label_drift")
    ref, cur = reference.column(target), current.column(target)
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
    name = f"concept_drift[{spec.name}, {reference.name}->{current.name}]"  # what the row compares
    if len(current) < min_rows:
        return [Check(name, TOO_SMALL, metric=spec.name, dataset=current.name, kind="drift",
                      message=f"{name}: dataset '{current.name}' has {len(current)} rows < {min_rows}, too few to judge",
                      details={"rows": len(current), "model": model.role})]
    before = model.metric(spec, reference, observe=False)
    after = model.metric(spec, current, observe=False)
    kwargs = {"pos_label": model.pos_label, "classes": model.classes}
    if getattr(current, "streamed", False):
        low, high, method = current.interval(spec, [model], None, confidence=confidence, n_boot=n_boot, seed=seed)
    else:
        low, high, method = interval(spec, current.y, [model.output(current, spec.needs)], confidence=confidence,
                                     n_boot=n_boot, seed=seed, **kwargs)
    allowed = min(a for a in (max_drop, None if max_relative_drop is None else max_relative_drop * abs(before))
                  if a is not None)
    delta = after - before
    worse = -delta if spec.greater_is_better else delta
    relative = f"{delta / abs(before) * 100:+.1f}%" if before else "n/a"
    loss = "drop" if spec.greater_is_better else "rise"
    moved = ("rose" if delta > 0 else "dropped") + (" (worse)" if worse > 0 else " (better)" if worse < 0 else "")
    message = (f"{name}: model '{model.role}' {moved} {abs(delta):.4g} ({relative}) "
               f"from {before:.4g} on '{reference.name}' to {after:.4g} on '{current.name}' "
               f"({len(current)} rows, {confidence:.0%} CI [{low:.4g}, {high:.4g}]); allowed {loss} <= {allowed:.4g}")
    return [Check(name, FAILED if worse > allowed else PASSED, metric=spec.name, dataset=current.name,
                  candidate=after, baseline=before, delta=delta, threshold=f"{loss} <= {allowed:.4g}",
                  ci=(float(low), float(high)), message=message, kind="drift",
                  details={"compared": ["current", "reference"], "model": model.role,
                           "reference": reference.name, "rows": len(current),
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
        exclude, chosen = [self.settings.target or ""], self._drift_options(**options)
        if folded(chosen, ref, cur):  # from column profiles
            from pytest_mlgate.checks import drift_streamed

            prepared, untestable, results = drift_streamed.tested(ref, cur, features, chosen, exclude)
            return self.record(*conclude(judged(prepared, results, chosen), untestable, chosen, (ref.name, cur.name)))
        names = (ref.name, cur.name)

        def compute() -> list[Check]:
            return data_drift(ref.frame, cur.frame, features, chosen, names=names, exclude=exclude)

        if not isinstance(chosen.method, str) or streamed(ref, cur):  # no stable key, or a sample
            return self.record(*compute())
        params = (None if features is None else list(features), chosen, exclude, names)
        return self.record(*ref.remembered("data_drift", params, compute, cur))

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
