"""Data drift tests from column profiles (quantile sketches and category counts) instead of rows.

The same tests as :mod:`pytest_mlgate.checks.drift_stats`, corrected and judged by the same code. Categorical features
are exact (chi-square, PSI, TVD and new categories from exact counts). A numeric feature whose
sketch still holds every value is exact as well; otherwise the KS statistic, the Wasserstein
distance and PSI come from the KLL sketches of both batches, evaluated on a grid of ``GRID``
quantiles of each, and each row carries ``ks_bound``: the largest possible error of the KS
statistic (both sketches' rank errors plus the grid's step). The Wasserstein distance is off by
at most ``ks_bound`` times the range of values, divided by the reference's standard deviation
(``wasserstein_bound``). The KS p-value uses the asymptotic distribution scipy uses above
``KS_EXACT_MAX_N`` rows.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

from pytest_mlgate.checks.drift_stats import (
    KS_EXACT_MAX_N,
    DriftOptions,
    Feature,
    Results,
    _untestable,
    ks_test,
    numeric_effects,
    psi,
    select_features,
)
from pytest_mlgate.decision import NOT_APPLICABLE, TOO_SMALL, Check
from pytest_mlgate.errors import MlgateError
from pytest_mlgate.evaluate.fold import Statistics
from pytest_mlgate.evaluate.statistics import MAX_VALUES, Column, Sketch

GRID = 4096


def tested(reference: Any, current: Any, features: Sequence[str] | None, options: DriftOptions,
           exclude: Sequence[str] = ()) -> tuple[list[Feature], list[Check], Results]:
    """Every feature of two datasets (one or both streamed) prepared and tested from their column
    profiles: the testable features, the untestable ones' checks, and the tests' results."""
    return tested_profiles(profile_of(reference), profile_of(current), (reference.name, current.name), features,
                           options, exclude)


def tested_profiles(ref: Statistics, cur: Statistics, names: tuple[str, str], features: Sequence[str] | None,
                    options: DriftOptions, exclude: Sequence[str] = ()) -> tuple[list[Feature], list[Check], Results]:
    """As :func:`tested`, from the column profiles of two batches."""
    columns = select_features([(ref.rows, list(ref.columns)), (cur.rows, list(cur.columns))], features, exclude, names)
    prepared, untestable = [], []
    for name in columns:
        item = _prepare(name, ref.columns[name], cur.columns[name], options, names)
        (prepared if isinstance(item, Feature) else untestable).append(item)
    tests = {f.name: _test(f, ref.columns[f.name], cur.columns[f.name], options) for f in prepared}
    for feature in prepared:
        feature.row["streamed"] = True
    return prepared, untestable, Results(tests)


def _prepare(name: str, ref: Column, cur: Column, options: DriftOptions, names: tuple[str, str]) -> Feature | Check:
    categorical = name in options.categorical or ref.kind == "categorical"
    if name not in options.categorical and (ref.kind == "categorical") != (cur.kind == "categorical"):
        raise MlgateError(f"drift: feature '{name}' is {ref.dtype} in dataset '{names[0]}' but {cur.dtype} "
                          f"in dataset '{names[1]}' (cast it, or list it in categorical=)")
    present = [c.rows - c.nulls for c in (ref, cur)]
    row = {"feature": name, "kind": "categorical" if categorical else "numeric",
           "rows_reference": ref.rows, "rows_current": cur.rows,
           "null_reference": ref.nulls / ref.rows if ref.rows else 0.0,
           "null_current": cur.nulls / cur.rows if cur.rows else 0.0}
    if ref.kind == "datetime" and name not in options.categorical:
        return _untestable(name, NOT_APPLICABLE, f"'{name}' is a {ref.dtype} column: timestamps are not "
                                                 "compared (leave it out of features=)", row)
    for count, which in zip(present, names):
        if not count:
            return _untestable(name, NOT_APPLICABLE, f"'{name}' has no non-null values in dataset '{which}'", row)
        if count < options.min_rows:
            return _untestable(name, TOO_SMALL, f"'{name}' has {count} non-null rows in dataset '{which}' "
                                                f"< {options.min_rows}, too few to test", row)
    if categorical and (ref.categories is None or cur.categories is None):
        raise MlgateError(f"drift: feature '{name}' ({ref.dtype}) is not counted by value in streamed statistics "
                          f"(floats, or more than {MAX_VALUES} distinct integers): leave it out of categorical=")
    return Feature(name, "categorical" if categorical else "numeric", np.empty(0), np.empty(0), row)


def _test(feature: Feature, ref: Column, cur: Column, options: DriftOptions) -> tuple[str, float, float]:
    if feature.kind == "categorical":
        return _categorical(feature, ref, cur)
    values = [_exact_values(c.sketch) for c in (ref, cur)]
    if values[0] is not None and values[1] is not None:
        feature.row.update(numeric_effects(values[0], values[1], options.bins), ks_bound=0.0)
        return "ks", feature.row["ks"], ks_test(values[0], values[1], feature.row["ks"])
    feature.row.update(sketch_effects(ref.sketch, cur.sketch, options.bins))
    m, n = sorted([float(ref.sketch.n), float(cur.sketch.n)], reverse=True)
    from scipy import stats

    p_value = float(np.clip(stats.kstwo.sf(feature.row["ks"], np.round(m * n / (m + n))), 0, 1))
    return "ks", feature.row["ks"], p_value


def _exact_values(sketch: Sketch) -> np.ndarray | None:
    """Every value, sorted, when the sketch still holds them all (small batches); else ``None``."""
    if sketch.kll.is_estimation_mode() or sketch.n > KS_EXACT_MAX_N:
        return None
    items = np.array([item for item, weight in sketch.kll for _ in range(weight)], dtype=float)
    return np.sort(items)


def sketch_effects(ref: Sketch, cur: Sketch, bins: int) -> dict[str, float]:
    """KS statistic, Wasserstein distance in reference sds and PSI from two KLL sketches, with the
    largest possible error of the KS statistic (``ks_bound``) and of the distance."""
    ranks = np.linspace(0.0, 1.0, GRID + 1)
    grid = np.unique(np.concatenate([ref.quantiles(ranks), cur.quantiles(ranks)]))
    gap = np.abs(ref.cdf(grid) - cur.cdf(grid))
    scale = float(np.sqrt(ref.moments.m2 / ref.moments.n)) if ref.moments.n else 0.0
    distance = float(gap[:-1] @ np.diff(grid)) if len(grid) > 1 else 0.0
    bound = ref.rank_error + cur.rank_error + 2.0 / GRID
    low, high = min(ref.support()[0], cur.support()[0]), max(ref.support()[1], cur.support()[1])
    edges = np.unique(ref.quantiles(np.arange(1, bins) / bins))
    shares = [np.diff(np.concatenate([[0.0], _below(s, edges), [1.0]])) for s in (ref, cur)]
    return {"ks": float(gap.max()) if len(gap) else 0.0, "wasserstein": distance / scale if scale else 0.0,
            "psi": psi(shares[0] * ref.n, shares[1] * cur.n), "ks_bound": bound,
            "wasserstein_bound": bound * (high - low) / scale if scale else 0.0}


def _below(sketch: Sketch, edges: np.ndarray) -> np.ndarray:
    """Share of values strictly below each edge."""
    if not len(edges):
        return np.zeros(0)
    return np.asarray(sketch.kll.get_cdf(list(map(float, edges)), inclusive=False)[:-1])


def _categorical(feature: Feature, ref: Column, cur: Column) -> tuple[str, float, float]:
    from scipy import stats

    labels = list(dict.fromkeys([*ref.categories.table, *cur.categories.table]))
    ref_counts = np.array([ref.categories.table.get(k, 0) for k in labels])
    cur_counts = np.array([cur.categories.table.get(k, 0) for k in labels])
    new = (ref_counts == 0) & (cur_counts > 0)
    p, q = ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum()
    feature.row.update(psi=psi(ref_counts, cur_counts), tvd=float(np.abs(p - q).sum() / 2),
                       new_share=float(q[new].sum()),
                       new_categories=", ".join(str(labels[i][0]) for i in np.flatnonzero(new)) or None)
    if len(labels) < 2:
        return "chi2", 0.0, 1.0
    result = stats.chi2_contingency(np.vstack([ref_counts, cur_counts]))
    return "chi2", float(result.statistic), float(result.pvalue)


def profile_of(data: Any) -> Statistics:
    """Column profiles of a dataset: a streamed one's pass, or one fold of an in-memory frame."""
    if getattr(data, "streamed", False):
        return data.profile()
    from pytest_mlgate.evaluate.fold import Plan, fold_chunk

    found = _PROFILES.get(data)
    if found is None or found[0] is not data.frame:
        found = _PROFILES[data] = (data.frame, fold_chunk(data.frame, data.name, data.target, {}, Plan(columns=True)))
    return found[1]


_PROFILES: weakref.WeakKeyDictionary[Any, tuple[Any, Statistics]] = weakref.WeakKeyDictionary()
