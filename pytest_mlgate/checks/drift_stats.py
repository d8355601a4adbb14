"""Per-feature drift statistics: options, prepared features, two-sample tests, effect sizes, corrections.

Shared by the drift gates and the alibi-detect backend (which uses these types, never the gates).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
import pandas as pd

from pytest_mlgate.decision import NOT_APPLICABLE, TOO_SMALL, Check
from pytest_mlgate.errors import ConfigError, MlgateError

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


def each(work: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
    """``work`` on every item, in order, on up to one thread per available core.

    The heavy steps (sorting, merging, counting) run in numpy, which releases the GIL, so features
    are tested side by side; the first error raised (in item order) propagates.
    """
    workers = min(len(items), len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    if workers <= 1:
        return [work(item) for item in items]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers, thread_name_prefix="mlgate-drift") as pool:
        return list(pool.map(work, items))


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
    return Feature(name, "numeric", values[0], values[1], row)


def _non_null(series: pd.Series, categorical: bool) -> np.ndarray:
    """Categorical values as objects; numeric ones as sorted floats (NaN sorts last and is cut off)."""
    if categorical:
        return series.dropna().to_numpy(dtype=object)
    values = np.sort(series.to_numpy(dtype=float, na_value=np.nan))
    return values[:np.searchsorted(values, np.nan)] if len(values) and np.isnan(values[-1]) else values


def _share(count: int, total: int) -> float:
    return float(count) / total if total else 0.0


def _untestable(name: str, outcome: str, why: str, row: dict[str, Any]) -> Check:
    row.update(outcome=outcome, note=why)
    return Check(name, outcome, message=f"drift: {why}", kind="drift", details={"row": row})


def numeric_effects(ref: np.ndarray, cur: np.ndarray, bins: int) -> dict[str, float]:
    """KS statistic, Wasserstein distance in reference sds and PSI of two sorted samples.

    One stable merge of the two sorted runs gives both empirical CDFs at every value (a running
    count of reference values), so both CDF distances are exact without a search per value.
    """
    n, m = len(ref), len(cur)
    both = np.concatenate([ref, cur])
    order = np.argsort(both, kind="stable")  # timsort: one merge of two sorted runs
    merged = both[order]
    del both
    below = np.cumsum(order < n)  # reference values at or before each merged position
    del order
    gap = np.abs(below / n - (np.arange(1, n + m + 1) - below) / m)
    del below
    last = np.empty(n + m, dtype=bool)  # the last of each run of ties: where both CDFs are read
    np.not_equal(merged[1:], merged[:-1], out=last[:-1])
    last[-1] = True
    distance = float(gap[:-1] @ np.diff(merged))  # ties add zero-width steps
    scale = float(np.std(ref)) or float(np.std(merged))
    return {"ks": float(gap[last].max()), "wasserstein": distance / scale if scale else 0.0,
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
    from scipy import stats

    if max(len(ref), len(cur)) <= KS_EXACT_MAX_N:
        return float(stats.ks_2samp(ref, cur).pvalue)
    m, n = sorted([float(len(ref)), float(len(cur))], reverse=True)
    return float(np.clip(stats.kstwo.sf(statistic, np.round(m * n / (m + n))), 0, 1))


def scipy_test(feature: Feature, method: str, table: np.ndarray | None) -> tuple[str, float, float]:
    """(test name, statistic, p-value) of one prepared feature."""
    from scipy import stats

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
    from scipy import stats

    p = np.asarray(p_values, dtype=float)
    if correction == "bonferroni":
        return np.minimum(p * len(p), 1.0)
    if correction == "fdr" and len(p):
        return stats.false_discovery_control(p, method="bh")
    return p


@dataclass
class Results:
    """What a backend found: per-feature (test, statistic, p-value), and for a configured detector
    its own p-value threshold, or for a multivariate detector one joint row."""

    tests: dict[str, tuple[str, float, float]] = field(default_factory=dict)
    threshold: float | None = None
    joint: dict[str, Any] | None = None


def select_features(shapes: Sequence[tuple[int, Sequence[str]]], features: Sequence[str] | str | None,
                    exclude: Sequence[str], names: tuple[str, str]) -> list[str]:
    """The features to compare, given each dataset's (rows, columns); one line naming the dataset at fault."""
    for (rows, _), name in zip(shapes, names):
        if not rows:
            raise MlgateError(f"drift: dataset '{name}' has no rows")
    if features is None:
        features = [c for c in shapes[0][1] if c not in exclude]
    features = [features] if isinstance(features, str) else list(features)
    if not features:
        raise MlgateError(f"drift: no features to compare in dataset '{names[0]}'")
    for (_, columns), name in zip(shapes, names):
        missing = [f for f in features if f not in columns]
        if missing:
            raise MlgateError(f"drift: feature(s) {missing} missing from dataset '{name}'")
    return features
