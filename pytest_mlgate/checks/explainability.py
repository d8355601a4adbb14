"""Explainability gates: permutation importance, forbidden drivers, ranking agreement, monotonicity
(partial dependence) and complexity bounds for high-risk models.

Permutation importance is computed once per (model, dataset) and cached; datasets larger than
``max_rows`` are subsampled with a fixed seed (the checks say how many rows were used).
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pytest_mlgate.checks.recorder import Recorder
from pytest_mlgate.config import Settings
from pytest_mlgate.decision import FAILED, NOT_APPLICABLE, PASSED, Check
from pytest_mlgate.errors import ConfigError, MlgateError
from pytest_mlgate.evaluate.models import Dataset, ModelUnderTest

DIRECTIONS = ("increasing", "decreasing")
CORRELATIONS = ("spearman", "kendall")
AGAINST = ("predictions", "labels")


@dataclass(frozen=True)
class ExplainConfig:
    """``[tool.mlgate.explain]``, validated."""

    proxies: tuple[str, ...] = ()
    top_k: int = 5
    n_repeats: int = 5
    max_rows: int = 5000
    scoring: str | None = None
    against: str = "predictions"
    min_correlation: float = 0.7
    monotonic: dict[str, str] | None = None
    max_features: int | None = None
    max_depth: int | None = None
    max_estimators: int | None = None


def _bad(key: str, what: str, value: Any) -> ConfigError:
    return ConfigError(f"mlgate config: [tool.mlgate.explain] key '{key}' must be {what}, got {value!r}")


def _count(table: Mapping[str, Any], key: str, default: int | None) -> int | None:
    value = table.get(key, default)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise _bad(key, "a positive integer", value)
    return value


def explain_config(settings: Settings) -> ExplainConfig:
    """Read and validate ``[tool.mlgate.explain]``."""
    table = settings.section("explain")
    known = set(ExplainConfig.__dataclass_fields__)
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"mlgate config: [tool.mlgate.explain] unknown key '{unknown[0]}' "
                          f"(known: {', '.join(sorted(known))})")
    proxies = table.get("proxies", [])
    if not isinstance(proxies, list) or not all(isinstance(p, str) for p in proxies):
        raise _bad("proxies", "a list of column names", proxies)
    monotonic = table.get("monotonic", {})
    if not isinstance(monotonic, Mapping) or any(v not in DIRECTIONS for v in monotonic.values()):
        raise _bad("monotonic", "a table of feature = \"increasing\" | \"decreasing\"", monotonic)
    correlation = table.get("min_correlation", 0.7)
    if isinstance(correlation, bool) or not isinstance(correlation, (int, float)) or not -1 <= correlation <= 1:
        raise _bad("min_correlation", "a number in [-1, 1]", correlation)
    scoring = table.get("scoring")
    if scoring is not None and not isinstance(scoring, str):
        raise _bad("scoring", "a scikit-learn scorer name", scoring)
    against = table.get("against", "predictions")
    if against not in AGAINST:
        raise _bad("against", "\"predictions\" or \"labels\"", against)
    return ExplainConfig(tuple(proxies), _count(table, "top_k", 5), _count(table, "n_repeats", 5),
                         _count(table, "max_rows", 5000), scoring, against, float(correlation), dict(monotonic),
                         _count(table, "max_features", None), _count(table, "max_depth", None),
                         _count(table, "max_estimators", None))


# ---------------------------------------------------------------- permutation importance


@dataclass(frozen=True)
class Importance:
    """Permutation importance of each feature (mean and std of the score drop over repeats)."""

    features: list[str]
    mean: np.ndarray
    std: np.ndarray
    scoring: str
    rows_used: int
    rows_total: int
    against: str = "predictions"

    def ranking(self) -> list[str]:
        """Features from most to least important (ties keep the model's column order)."""
        order = np.argsort(-self.mean, kind="stable")
        return [self.features[i] for i in order]

    def table(self) -> list[dict[str, Any]]:
        """One row per feature, most important first: rank, feature, importance, std."""
        return [{"rank": r + 1, "feature": f, "importance": float(self.mean[self.features.index(f)]),
                 "std": float(self.std[self.features.index(f)])} for r, f in enumerate(self.ranking())]

    def of(self, feature: str) -> float:
        """A feature's mean importance; 0 for a feature the model does not take."""
        return float(self.mean[self.features.index(feature)]) if feature in self.features else 0.0


_CACHE: weakref.WeakKeyDictionary[ModelUnderTest, weakref.WeakKeyDictionary[Dataset, dict[tuple, Importance]]] = (
    weakref.WeakKeyDictionary())


def _default_scoring(model: ModelUnderTest, against: str) -> str:
    if not model.is_classifier:
        return "r2"
    if against == "predictions":
        return "accuracy"  # the share of the model's own decisions that survive the shuffle
    classes = model.classes
    binary = classes is not None and len(classes) == 2
    return "roc_auc" if binary and hasattr(model.model, "predict_proba") else "accuracy"


def importance(model: ModelUnderTest, data: Dataset, *, n_repeats: int = 5, max_rows: int = 5000,
               scoring: str | None = None, against: str = "predictions", seed: int = 0) -> Importance:
    """Permutation importance of ``model`` on ``data``, computed once per model, dataset and settings.

    ``against="predictions"`` scores the shuffled model against its own unshuffled outputs: what
    drives its decisions, even where the labels do not justify it (a model leaning on a sensitive
    attribute the holdout labels do not depend on shows no loss against the labels).
    ``against="labels"`` is the classic importance for the model's accuracy.
    """
    from sklearn.inspection import permutation_importance

    if against not in AGAINST:
        raise MlgateError(f"importance: against must be one of {', '.join(AGAINST)}, got {against!r}")
    scoring = scoring or _default_scoring(model, against)
    key = (n_repeats, max_rows, scoring, against, seed)
    per_data = _CACHE.setdefault(model, weakref.WeakKeyDictionary()).setdefault(data, {})
    if key in per_data:
        return per_data[key]
    features = data.features_for(model.model, model.role)
    y = model.predict(data) if against == "predictions" else data.y
    if len(features) > max_rows:
        rows = np.sort(np.random.default_rng(seed).choice(len(features), max_rows, replace=False))
        features, y = features.iloc[rows], y[rows]
    try:
        result = permutation_importance(model.model, features, y, scoring=scoring, n_repeats=n_repeats,
                                        random_state=seed)
    except Exception as exc:  # user model or scorer failing must fail the gate closed
        raise MlgateError(f"permutation importance of model '{model.role}' on dataset '{data.name}' "
                          f"({scoring}) failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                          ) from None
    per_data[key] = Importance([str(c) for c in features.columns], result.importances_mean,
                               result.importances_std, scoring, len(features), len(data), against)
    return per_data[key]


def _details(imp: Importance, **extra: Any) -> dict[str, Any]:
    return {"table": imp.table(), "scoring": imp.scoring, "against": imp.against, "rows_used": imp.rows_used,
            "rows_total": imp.rows_total, "subsampled": imp.rows_used < imp.rows_total, **extra}


def forbidden_drivers(imp: Importance, forbidden: Sequence[str], top_k: int, *, dataset: str, role: str
                      ) -> Check:
    """Fails when a forbidden feature with positive importance ranks among the top ``top_k``."""
    name = f"forbidden drivers in top-{top_k}[{role}]"
    top = [f for f in imp.ranking()[:top_k] if imp.of(f) > 0]
    found = [f for f in top if f in set(forbidden)]
    if found:
        where = ", ".join(f"'{f}' rank {top.index(f) + 1} (importance {imp.of(f):.4g})" for f in found)
        basis = "the model's own outputs" if imp.against == "predictions" else "the labels"
        message = f"{name}: {where} among the top-{top_k} drivers ({imp.scoring} drop against {basis}, " \
                  f"{imp.rows_used} rows)"
    else:
        message = f"{name}: none of {', '.join(forbidden) or '(none declared)'} among the top-{top_k} drivers"
    return Check(name, FAILED if found else PASSED, metric="permutation_importance", dataset=dataset,
                 candidate=float(len(found)), threshold=f"no forbidden feature in top-{top_k}",
                 message=message, kind="explainability",
                 details=_details(imp, forbidden=list(forbidden), found=found, top=top))


def ranking_agreement(cand: Importance, base: Importance, *, min_correlation: float, method: str,
                      dataset: str) -> Check:
    """Rank correlation of the candidate's and the baseline's importances over their features."""
    from scipy import stats

    if method not in CORRELATIONS:
        raise MlgateError(f"importance_agrees: method must be one of {', '.join(CORRELATIONS)}, got {method!r}")
    features = list(dict.fromkeys([*cand.features, *base.features]))
    a = np.array([cand.of(f) for f in features])
    b = np.array([base.of(f) for f in features])
    name = f"importance ranking vs baseline[{method}]"
    if len(features) < 2:
        return Check(name, NOT_APPLICABLE, metric=method, dataset=dataset, kind="explainability",
                     message=f"{name}: fewer than 2 features, no ranking to compare")
    fn = stats.spearmanr if method == "spearman" else stats.kendalltau
    value = float(fn(a, b).statistic)
    value = 1.0 if np.isnan(value) and np.array_equal(a, b) else value
    passed = bool(value >= min_correlation)
    top_c, top_b = cand.ranking()[:3], base.ranking()[:3]
    message = (f"{name} {value:.3f} {'>=' if passed else '<'} {min_correlation:g}: candidate's top drivers "
               f"{top_c}, baseline's {top_b}")
    table = [{"feature": f, "candidate": float(x), "baseline": float(y),
              "candidate_rank": cand.ranking().index(f) + 1 if f in cand.features else None,
              "baseline_rank": base.ranking().index(f) + 1 if f in base.features else None}
             for f, x, y in zip(features, a, b)]
    return Check(name, PASSED if passed else FAILED, metric=method, dataset=dataset, candidate=value,
                 threshold=f">= {min_correlation:g}", message=message, kind="explainability",
                 details={"table": table, "scoring": cand.scoring, "rows_used": cand.rows_used})


def monotonicity(model: ModelUnderTest, data: Dataset, feature: str, direction: str, *, grid_resolution: int = 20,
                 tolerance: float = 0.0, max_rows: int = 5000, seed: int = 0) -> Check:
    """Partial dependence of the model's output on ``feature`` must move only in ``direction``."""
    from sklearn.inspection import partial_dependence

    if direction not in DIRECTIONS:
        raise MlgateError(f"monotonic: direction for '{feature}' must be increasing or decreasing, got {direction!r}")
    features = data.features_for(model.model, model.role)
    if feature not in features.columns:
        raise MlgateError(f"monotonic: '{feature}' is not a feature of model '{model.role}' "
                          f"(features: {', '.join(map(str, features.columns))})")
    if len(features) > max_rows:
        features = features.iloc[np.sort(np.random.default_rng(seed).choice(len(features), max_rows, replace=False))]
    if features[feature].dtype.kind in "iu":  # sklearn refuses integer columns (implicit rounding)
        features = features.astype({feature: float})
    try:
        pd_result = partial_dependence(model.model, features, [feature], grid_resolution=grid_resolution,
                                       kind="average")
    except Exception as exc:
        raise MlgateError(f"partial dependence of model '{model.role}' on '{feature}' failed: "
                          f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None
    grid, curve = pd_result["grid_values"][0], pd_result["average"]
    if curve.shape[0] != 1:
        raise MlgateError(f"monotonic: model '{model.role}' has {curve.shape[0]} outputs; "
                          "monotonicity is checked for binary classifiers and regressors")
    curve = curve[0]
    classes = model.classes
    if classes is not None and len(classes) == 2 and model.pos_label == classes[0]:
        curve = 1 - curve  # sklearn reports the second class; the configured positive is the first
    steps = np.diff(curve) if direction == "increasing" else -np.diff(curve)
    worst = int(np.argmin(steps)) if len(steps) else 0
    violation = float(max(0.0, -steps[worst])) if len(steps) else 0.0
    passed = violation <= tolerance
    name = f"monotonic {feature} {direction}[{model.role}]"
    if passed:
        message = f"{name}: partial dependence never moves against {direction} by more than {tolerance:g}"
    else:
        message = (f"{name}: partial dependence moves the wrong way by {violation:.4g} (> {tolerance:g}) "
                   f"between {feature}={grid[worst]:.4g} ({curve[worst]:.4g}) and "
                   f"{feature}={grid[worst + 1]:.4g} ({curve[worst + 1]:.4g})")
    table = [{"value": float(v), "average_output": float(c)} for v, c in zip(grid, curve)]
    return Check(name, PASSED if passed else FAILED, metric="partial_dependence", dataset=data.name,
                 candidate=violation, threshold=f"violation <= {tolerance:g}", message=message,
                 kind="explainability", details={"table": table, "feature": feature, "direction": direction,
                                                 "rows_used": len(features)})


# ---------------------------------------------------------------- complexity


def _final_estimator(model: Any) -> Any:
    steps = getattr(model, "steps", None)
    return steps[-1][1] if steps else model


def _trees(est: Any) -> list[Any]:
    if hasattr(est, "tree_"):
        return [est]
    found = getattr(est, "estimators_", None)
    if found is None:
        return []
    return [t for item in np.ravel(np.asarray(found, dtype=object)) for t in _trees(item)]


def complexity_of(model: Any) -> dict[str, int | None]:
    """Features used, deepest tree and number of estimators (``None`` where the notion does not apply).

    Features used: non-zero importances or coefficients of a bare model; a pipeline's input columns.
    """
    est = _final_estimator(model)
    trees = _trees(est)
    used: int | None = getattr(model, "n_features_in_", None)
    bare = est is model  # in a pipeline, count its input columns, not the encoded ones
    if bare and getattr(est, "feature_importances_", None) is not None and trees:
        used = int(np.count_nonzero(est.feature_importances_))
    elif bare and getattr(est, "coef_", None) is not None:
        used = int(np.count_nonzero(np.any(np.atleast_2d(est.coef_) != 0, axis=0)))
    depth = max((int(t.get_depth()) for t in trees), default=None)
    count = len(trees) if trees and not hasattr(est, "tree_") else (1 if trees else None)
    predictors = getattr(est, "_predictors", None)  # HistGradientBoosting keeps no public tree list
    if predictors:
        depth = max(int(p.nodes["depth"].max()) for stage in predictors for p in stage)
        count = int(est.n_iter_)
    return {"features": used, "depth": depth, "estimators": count}


def complexity(model: ModelUnderTest, limits: Mapping[str, int | None], *, risk: str, force: bool) -> list[Check]:
    """Complexity bounds for high-risk models (or when forced); otherwise one not-applicable check."""
    name = f"complexity[{model.role}]"
    if risk != "high" and not force:
        return [Check(name, NOT_APPLICABLE, kind="explainability",
                      message=f"{name}: risk is '{risk}'; complexity bounds apply to high-risk models")]
    measured = complexity_of(model.model)
    checks = []
    for key, limit in limits.items():
        if limit is None:
            continue
        label, value = f"{key}[{model.role}]", measured[key]
        if value is None:
            checks.append(Check(label, NOT_APPLICABLE, metric=key, kind="explainability",
                                message=f"{label}: not applicable to {type(_final_estimator(model.model)).__name__}"))
            continue
        passed = value <= limit
        checks.append(Check(label, PASSED if passed else FAILED, metric=key, candidate=float(value),
                            threshold=f"<= {limit}", kind="explainability", details=measured,
                            message=f"{label} {value} {'<=' if passed else '>'} {limit} (risk {risk})"))
    if not checks:
        raise MlgateError("complexity: no bound given; set max_features, max_depth or max_estimators "
                          "([tool.mlgate.explain] or arguments)")
    return checks


# ---------------------------------------------------------------- the mixin


class ExplainabilityGates(Recorder):
    """``mlgate.no_forbidden_drivers`` / ``importance_agrees`` / ``monotonic`` / ``complexity``."""

    def importance(self, dataset: str | Dataset = "holdout", model: str = "candidate") -> Importance:
        """The (cached) permutation importance of a model on a dataset."""
        cfg, subject = explain_config(self.settings), self.live_model(model, "permutation importance")
        return importance(subject, self.rows(dataset), n_repeats=cfg.n_repeats, max_rows=cfg.max_rows,
                          scoring=cfg.scoring, against=cfg.against, seed=self.settings.seed)

    def no_forbidden_drivers(self, forbidden: Sequence[str] | None = None, *, top_k: int | None = None,
                             dataset: str | Dataset = "holdout", model: str = "candidate") -> list[Check]:
        """No forbidden feature (default: sensitive columns and declared proxies) among the top-k drivers."""
        __tracebackhide__ = True
        cfg = explain_config(self.settings)
        names = list(forbidden) if forbidden is not None else [*self.settings.sensitive, *cfg.proxies]
        imp, data = self.importance(dataset, model), self.rows(dataset)
        return self.record(forbidden_drivers(imp, names, top_k or cfg.top_k, dataset=data.name, role=model))

    def importance_agrees(self, min_correlation: float | None = None, *, method: str = "spearman",
                          dataset: str | Dataset = "holdout") -> list[Check]:
        """The candidate's importance ranking must agree with the baseline's (use severity="review")."""
        __tracebackhide__ = True
        cfg, data = explain_config(self.settings), self.rows(dataset)
        if self.model("baseline") is None:
            return self.record(Check("importance ranking vs baseline", NOT_APPLICABLE, kind="explainability",
                                     dataset=data.name, message="no baseline configured, ranking not compared"))
        limit = cfg.min_correlation if min_correlation is None else min_correlation
        return self.record(ranking_agreement(self.importance(dataset, "candidate"),
                                             self.importance(dataset, "baseline"),
                                             min_correlation=limit, method=method, dataset=data.name))

    def monotonic(self, feature: str | None = None, direction: str = "increasing", *, tolerance: float = 0.0,
                  dataset: str | Dataset = "holdout", model: str = "candidate",
                  grid_resolution: int = 20) -> list[Check]:
        """Declared monotonic relationships hold (``feature`` given, or all of [tool.mlgate.explain] monotonic)."""
        __tracebackhide__ = True
        cfg, data = explain_config(self.settings), self.rows(dataset)
        subject = self.live_model(model, "monotonicity")
        declared = {feature: direction} if feature is not None else dict(cfg.monotonic or {})
        if not declared:
            raise MlgateError("monotonic: no feature given and [tool.mlgate.explain] monotonic is empty")
        return self.record(*(monotonicity(subject, data, f, d, grid_resolution=grid_resolution,
                                          tolerance=tolerance, max_rows=cfg.max_rows, seed=self.settings.seed)
                             for f, d in declared.items()))

    def complexity(self, *, max_features: int | None = None, max_depth: int | None = None,
                   max_estimators: int | None = None, force: bool = False, model: str = "candidate") -> list[Check]:
        """Complexity bounds, applied when ``[tool.mlgate] risk = "high"`` or ``force=True``."""
        __tracebackhide__ = True
        cfg, subject = explain_config(self.settings), self.live_model(model, "complexity bounds")
        limits = {"features": max_features or cfg.max_features, "depth": max_depth or cfg.max_depth,
                  "estimators": max_estimators or cfg.max_estimators}
        return self.record(*complexity(subject, limits, risk=self.settings.risk, force=force))
