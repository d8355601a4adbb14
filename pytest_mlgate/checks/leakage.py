"""Label leakage: the evidence leaks leave, which a strong genuine feature does not.

A single feature that predicts the label well is not a leak; the checks here look for what a leak
does: its predictive power changes between the training data and the holdout (Deepchecks'
feature-label correlation change), it is a near-identical copy of the label (the label is a
monotone function of it on almost every row), it is a noisy copy of the label (the label explains
nearly all of it and the other features explain none of the rest), or it becomes known only after
prediction time (as declared in ``[tool.mlgate.leakage]``). Whether a feature alone is as good as
the whole model is reported for review. One Check with a row per feature.

A single-feature score cannot tell a noisy copy from a strong genuine feature (breast cancer's
``worst radius`` alone has ROC AUC 0.976, the label with 3% of rows changed 0.97), and neither can
Deepchecks' predictive-power-score threshold or a correlation cut-off. What differs is how the
feature relates to the other features once the label is known: a feature computed from the label
(plus noise) is conditionally independent of every other feature given the label, while a genuine
measurement shares variation with the other measurements within each class (iris's petal width
with petal length). :func:`label_and_rest` measures both parts on ranks: the relevance to the label
against the redundancy with the other features, the two terms of Peng, Long and Ding's
max-relevance min-redundancy criterion (IEEE TPAMI 27(8), 2005), the redundancy taken as the
partial R^2 given the label (the inverse-correlation-matrix identity R^2_j = 1 - 1/(C^-1)_jj,
adjusted for the degrees of freedom).
"""

from __future__ import annotations

import bisect
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from pytest_mlgate.checks.leakage_ranks import average_ranks, binary_columns, blas_threads, gini
from pytest_mlgate.checks.recorder import Recorder
from pytest_mlgate.decision import FAILED, NOT_APPLICABLE, PASSED, Check
from pytest_mlgate.errors import MlgateError
from pytest_mlgate.evaluate.models import Dataset, ModelUnderTest

NUMERIC_TARGET_VALUES = 20  # a float target with more distinct values is numeric, not classes
MIN_CATEGORY_ROWS = 10
SAMPLE_ROWS = 5_000
MAX_CHANGE = 0.4  # at 0.2, breast cancer's weak features changed that much between random splits
COPY_SHARE = 0.99
LABEL_EXPLAINED = 0.8  # a noisy copy: the label explains at least this share of its rank variance
OTHERS_EXPLAINED = 0.15  # ... and the other features at most this share of the rest (adjusted R^2)
COPY_ROWS = 4_000  # rows ranked for the noisy-copy rule (ranking is most of its cost)
SHOWN = 5


# ---------------------------------------------------------------- pure statistics


def scores(ref: pd.Series, cur: pd.Series, y_ref: np.ndarray, classes: int | None) -> tuple[list, list]:
    """Per-class scores of a feature on both datasets: the values of a numeric feature (for several
    classes, closeness to each class's median in the reference, so a middle class ranks too), or for a
    categorical one the reference's class rate (target mean) of each category with at least
    MIN_CATEGORY_ROWS rows, rarer and unseen categories pooled (an identifier then carries no
    signal); NaN where the feature is missing."""
    if pd.api.types.is_numeric_dtype(ref) and not pd.api.types.is_bool_dtype(ref):
        values = ref.to_numpy(dtype=float), cur.to_numpy(dtype=float)
        if _width(classes) == 1:
            return [values[0]], [values[1]]
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a class without values: NaN centre
            centres = [np.nanmedian(values[0][y_ref == k]) if (y_ref == k).any() else np.nan for k in range(classes)]
        return [-np.abs(values[0] - c) for c in centres], [-np.abs(values[1] - c) for c in centres]
    codes, uniques = pd.factorize(ref)
    counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
    pooled = np.append(np.where(counts >= MIN_CATEGORY_ROWS, np.arange(len(uniques)), len(uniques)), len(uniques))
    place = lambda c, s: np.where(s.isna().to_numpy(), -1, pooled[c])  # unseen: -1 -> pooled
    at_ref, at_cur = place(codes, ref), place(uniques.get_indexer(cur), cur)
    sizes = np.bincount(at_ref[at_ref >= 0], minlength=len(uniques) + 1)
    out_ref, out_cur = [], []
    for k in range(_width(classes)):
        hits = np.asarray(y_ref == (1 if classes == 2 else k) if classes else y_ref, dtype=float)
        total = np.bincount(at_ref[at_ref >= 0], weights=hits[at_ref >= 0], minlength=len(uniques) + 1)
        rate = np.where(sizes > 0, total / np.maximum(sizes, 1), hits.mean() if len(hits) else np.nan)
        rate = np.append(rate, np.nan)  # index -1: missing
        out_ref.append(rate[at_ref])
        out_cur.append(rate[at_cur])
    return out_ref, out_cur


def _width(classes: int | None) -> int:
    return 1 if classes in (None, 2) else classes


def power(score: list[np.ndarray], y: np.ndarray, classes: int | None) -> tuple[float, float]:
    """How well a score ranks the target, 0 (no information) to 1 (perfectly), and its standard
    error: for class codes the Gini coefficient |2 AUC - 1| (mean one-vs-rest; SE by Hanley and
    McNeil 1982), for a numeric target |Spearman's rho| (SE of Fisher's z, Fieller et al. 1957).
    Rank-based, so unbiased at any sample size; rows without a score are left out."""
    from scipy import stats

    keep = ~np.isnan(score[0])
    if classes is None:
        x, t = score[0][keep], y[keep]
        if len(x) < 4 or np.ptp(x) == 0 or np.ptp(t) == 0:
            return float("nan"), float("nan")
        rho = abs(float(stats.spearmanr(x, t).statistic))
        return rho, float(np.sqrt(1.06 / (len(x) - 3)))
    ginis, errors = [], []
    for k, s in enumerate(score):
        hit = (y[keep] == (1 if classes == 2 else k))
        m, n = int(hit.sum()), int((~hit).sum())
        if not m or not n:
            continue
        g, se = gini(stats.rankdata(s[keep])[hit].sum(), m, n)
        ginis.append(g)
        errors.append(se)
    if not ginis:
        return float("nan"), float("nan")
    return float(np.mean(ginis)), float(np.mean(errors))


def monotone_share(feature: np.ndarray, y: np.ndarray) -> float:
    """The largest share of rows on which the target is a monotone function of the feature (either
    direction): the longest non-decreasing run of targets in feature order, ties in the feature
    ordered against it so a value shared by several targets is no function. Missing values never match."""
    keep = ~np.isnan(feature)
    if not keep.any():
        return 0.0
    longest = _longest_two_valued if len(np.unique(y[keep])) <= 2 else _longest_non_decreasing
    best = 0
    for sign in (1, -1):
        order = np.lexsort((-sign * y[keep], feature[keep]))
        best = max(best, longest(sign * y[keep][order]))
    return best / len(feature)


def copy_of(feature: np.ndarray, y: np.ndarray, share: float) -> float:
    """:func:`monotone_share`; for a target of more than two values computed only when the rank
    correlation allows a copy on ``share`` of the rows (a cheap screen; 0 otherwise). A two-valued
    target needs no screen, and must not have this one: a feature that separates a rare class
    perfectly has a rank correlation of about sqrt(3 p) with it."""
    keep = ~np.isnan(feature)
    if keep.sum() < 4 or np.ptp(feature[keep]) == 0 or np.ptp(y[keep]) == 0:
        return 0.0
    if len(np.unique(y[keep])) > 2:
        from scipy import stats

        if abs(stats.spearmanr(feature[keep], y[keep]).statistic) < share - 0.15:
            return 0.0
    return monotone_share(feature, np.asarray(y, dtype=float))


def _longest_two_valued(values: np.ndarray) -> int:
    """Length of the longest non-decreasing subsequence of a sequence of at most two values: the
    best split into the low values before it and the high values after it (O(n))."""
    low = values == values.min()
    before = np.concatenate([[0], np.cumsum(low)])
    after = np.concatenate([np.cumsum((~low)[::-1])[::-1], [0]])
    return int((before + after).max())


def _longest_non_decreasing(values: np.ndarray) -> int:
    """Length of the longest non-decreasing subsequence (patience sorting, O(n log n))."""
    tails: list[float] = []
    for value in values.tolist():
        at = bisect.bisect_right(tails, value)
        if at == len(tails):
            tails.append(value)
        else:
            tails[at] = value
    return len(tails)


def label_and_rest(frame: pd.DataFrame, y: np.ndarray, classes: int | None,
                   seed: int = 0) -> dict[str, tuple[float, float]]:
    """Per numeric column of ``frame``: the share of its rank variance the target explains (the rank
    correlation ratio for class codes, Spearman's rho squared for a numeric target) and the adjusted
    R^2 with which the other columns, with what the target explains removed from them too, explain
    the rest (0 when nothing is left, NaN when too few rows or columns to tell). A seeded sample of
    COPY_ROWS rows when there are more."""
    from scipy import stats

    names = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    if len(names) < 2 or len(frame) < 4:
        return {}
    if len(frame) > COPY_ROWS:
        rows = np.sort(np.random.default_rng(seed).choice(len(frame), COPY_ROWS, replace=False))
        frame, y = frame.iloc[rows], np.asarray(y)[rows]
    ranks = average_ranks(frame[names].astype(float).to_numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a column with no values: its ranks stay 0
        ranks = np.nan_to_num(ranks - np.nanmean(ranks, axis=0))  # a missing value: the mean rank
    rest = ranks.copy()
    if classes is None:
        t = stats.rankdata(y) - (len(y) + 1) / 2
        rest -= np.outer(t, t @ ranks / (t @ t))
    else:
        for k in np.unique(y):
            rest[y == k] -= rest[y == k].mean(axis=0)
    total, left = (ranks ** 2).sum(axis=0), (rest ** 2).sum(axis=0)
    varies = left > 1e-12 * np.maximum(total, 1e-300)
    others = np.where(varies, np.nan, 0.0)
    fitted = 2 if classes is None else classes  # what the target's fit used up: class means, or a line
    dof = len(y) - fitted - int(varies.sum()) + 1
    if varies.sum() >= 2 and dof > 0:
        with blas_threads().limit(limits=1, user_api="blas"):  # a second thread spins longer than it saves
            corr = np.corrcoef(rest[:, varies], rowvar=False) + 1e-9 * np.eye(int(varies.sum()))
            r2 = 1 - 1 / np.diag(np.linalg.inv(corr))
        others[varies] = 1 - (1 - r2) * (len(y) - fitted) / dof
    explained = np.where(total > 0, 1 - left / np.where(total > 0, total, 1), np.nan)
    return {name: (float(explained[i]), float(others[i])) for i, name in enumerate(names)}


def late_share(available: pd.Series, as_of: pd.Series) -> float:
    """Share of rows whose feature becomes available after the prediction time (missing times: not late)."""
    late = pd.to_datetime(available, errors="coerce") > pd.to_datetime(as_of, errors="coerce")
    return float(late.mean()) if len(late) else 0.0


# ---------------------------------------------------------------- the check


def _target_codes(reference: pd.Series, data: pd.Series) -> tuple[np.ndarray, np.ndarray, int | None]:
    """Both targets as shared class codes, or as floats (classes None) for a numeric target with many values."""
    both = pd.concat([reference, data], ignore_index=True)
    if pd.api.types.is_float_dtype(both) and both.nunique() > NUMERIC_TARGET_VALUES:
        return reference.to_numpy(dtype=float), data.to_numpy(dtype=float), None
    codes, uniques = pd.factorize(both, sort=True)
    return codes[:len(reference)], codes[len(reference):], len(uniques)


def _sample(frame: pd.DataFrame, target: str, seed: int) -> np.ndarray:
    """Positions of the rows with a target, a seeded sample of SAMPLE_ROWS of them when more."""
    rows = np.flatnonzero(frame[target].notna().to_numpy())
    if len(rows) > SAMPLE_ROWS:
        rows = np.sort(np.random.default_rng(seed).choice(rows, SAMPLE_ROWS, replace=False))
    return rows


def model_power(model: ModelUnderTest, data: Dataset, rows: np.ndarray, y: np.ndarray,
                classes: int | None) -> float:
    """The model's own :func:`power` on ``rows`` of ``data``, from its scores (probabilities) or values."""
    if not model.is_classifier:
        return power([np.asarray(model.predict(data), dtype=float)[rows]], y, None)[0]
    if classes == 2:
        return power([np.asarray(model.score(data), dtype=float)[rows]], y, classes)[0]
    proba = np.asarray(model.predict_proba(data), dtype=float)[rows]
    return power([proba[:, k] for k in range(proba.shape[1])], y, classes)[0] if proba.shape[1] == classes \
        else float("nan")


def feature_row(name: str, ref: pd.Series, cur: pd.Series, y_ref: np.ndarray, y_cur: np.ndarray,
                classes: int | None, copy_share: float) -> dict[str, Any]:
    """What one feature shows: its power on each dataset, the change and its z score, and (for a
    feature strong enough to be one) its share as a copy of the target."""
    s_ref, s_cur = scores(ref, cur, y_ref, classes)
    o_ref, o_cur = ordered(ref, cur, y_ref)
    # a copy in both datasets: on a few rows a strong feature can order them perfectly by chance
    copy = min(copy_of(o_ref, y_ref, copy_share), copy_of(o_cur, y_cur, copy_share))
    return _row(name, power(s_ref, y_ref, classes), power(s_cur, y_cur, classes), copy)


def ordered(ref: pd.Series, cur: pd.Series, y_ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A feature as numbers to order rows by: its values, or a category's mean target in the reference.
    For a two-valued target these are also its :func:`scores`."""
    if pd.api.types.is_numeric_dtype(ref) and not pd.api.types.is_bool_dtype(ref):
        return ref.to_numpy(dtype=float), cur.to_numpy(dtype=float)
    (o_ref,), (o_cur,) = scores(ref, cur, y_ref.astype(float), None)
    return o_ref, o_cur


def feature_rows(features: list[str], ref: pd.DataFrame, cur: pd.DataFrame, y_ref: np.ndarray,
                 y_cur: np.ndarray, classes: int | None, copy_share: float) -> list[dict[str, Any]]:
    """:func:`feature_row` of each feature; for a two-valued target all at once, from one sort of each
    column (:func:`~pytest_mlgate.checks.leakage_ranks.binary_columns`: the same numbers)."""
    if classes != 2 or not len(ref) or not len(cur) or not features:
        return [feature_row(name, ref[name], cur[name], y_ref, y_cur, classes, copy_share) for name in features]
    pairs = [ordered(ref[name], cur[name], y_ref) for name in features]
    p_ref, se_ref, c_ref = binary_columns(np.column_stack([p[0] for p in pairs]), y_ref == 1)
    p_cur, se_cur, c_cur = binary_columns(np.column_stack([p[1] for p in pairs]), y_cur == 1)
    return [_row(name, (float(p_ref[i]), float(se_ref[i])), (float(p_cur[i]), float(se_cur[i])),
                 min(float(c_ref[i]), float(c_cur[i]))) for i, name in enumerate(features)]


def _row(name: str, at_ref: tuple[float, float], at_cur: tuple[float, float], copy: float) -> dict[str, Any]:
    (p_ref, se_ref), (p_cur, se_cur) = at_ref, at_cur
    change, se = p_cur - p_ref, float(np.hypot(se_ref, se_cur))
    z = abs(change) / se if se > 0 else 0.0
    return {"column": name, "power_reference": p_ref, "power": p_cur, "change": change,
            "z": 0.0 if np.isnan(z) else z, "copy_share": copy}


def label_leakage(data: Dataset, reference: Dataset, target: str, *, model: ModelUnderTest | None = None,
                  columns: Iterable[str] | None = None, max_change: float = MAX_CHANGE,
                  copy_share: float = COPY_SHARE, label_explained: float = LABEL_EXPLAINED,
                  others_explained: float = OTHERS_EXPLAINED, confidence: float = 0.95,
                  available_after: Mapping[str, str] | None = None, prediction_time: str | None = None,
                  seed: int = 0) -> Check:
    """Features that leak the label, judged on ``data`` (holdout or current) against ``reference``
    (the training data): a power change larger than ``max_change`` and significant at ``confidence``
    (Bonferroni over the features), a label copy on at least ``copy_share`` of the rows, a noisy copy
    (on both datasets' rows together the target explains at least ``label_explained`` of its rank
    variance and the other features at most ``others_explained`` of the rest), or a value available
    after the prediction time. The table says what each feature showed."""
    from scipy import stats

    if available_after is not None and not (isinstance(available_after, Mapping) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in available_after.items())):
        raise MlgateError("[tool.mlgate.leakage] available_after: must map feature columns to the columns "
                          "holding when each value becomes known, e.g. {refund = \"refund_time\"}")
    available_after = dict(available_after or {})
    if available_after and prediction_time is None:
        raise MlgateError("[tool.mlgate.leakage] available_after needs prediction_time (the column "
                          "holding when each prediction is made)")
    for frame_data in (reference, data):
        frame_data.column(target)
        for column in (*available_after.values(), *([prediction_time] if prediction_time else [])):
            frame_data.column(column)
    times = {*available_after.values(), *([prediction_time] if prediction_time else [])}
    eligible = [c for c in data.frame.columns if c != target and c in reference.frame.columns and c not in times]
    features = eligible if columns is None else list(columns)
    for name in features:
        if name not in eligible:
            raise MlgateError(f"no_label_leakage: '{name}' is not a feature column of both "
                              f"'{reference.name}' and '{data.name}'")
    at = _sample(data.frame, target, seed)
    ref, cur = reference.frame.iloc[_sample(reference.frame, target, seed)], data.frame.iloc[at]
    y_ref, y_cur, classes = _target_codes(ref[target], cur[target])
    critical = stats.norm.ppf(1 - (1 - confidence) / max(len(features), 1))
    model_score = None if model is None else model_power(model, data, at, y_cur, classes)
    parts = label_and_rest(pd.concat([ref[features], cur[features]], ignore_index=True),
                           np.concatenate([y_ref, y_cur]), classes, seed)
    rows = feature_rows(features, ref, cur, y_ref, y_cur, classes, copy_share)
    for row in rows:
        name = row["column"]
        row["label_explained"], row["others_explained"] = parts.get(name, (float("nan"), float("nan")))
        if name in available_after:
            row["late_share"] = late_share(cur[available_after[name]], cur[prediction_time])
        row["as_good_as_model"] = model_score is not None and row["power"] >= model_score
        row["evidence"] = _evidence(row, max_change, critical, copy_share, (label_explained, others_explained))
        row["outcome"] = FAILED if row["evidence"] else PASSED
    return _summary(data, reference, target, rows, model_score, classes, max_change=max_change,
                    copy_share=copy_share, label_explained=label_explained, others_explained=others_explained,
                    confidence=confidence)


def _evidence(row: dict[str, Any], max_change: float, critical: float, copy_share: float,
              noisy: tuple[float, float]) -> list[str]:
    found = []
    if np.nan_to_num(abs(row["change"])) > max_change and row["z"] > critical:
        found.append(f"power {row['power_reference']:.3f} on the reference, {row['power']:.3f} here")
    if row["copy_share"] >= copy_share:
        found.append(f"the target is a monotone function of it on {row['copy_share']:.1%} of rows")
    elif row["label_explained"] >= noisy[0] and row["others_explained"] <= noisy[1]:
        found.append(f"a noisy copy: the target explains {row['label_explained']:.0%} of it and the other "
                     f"features {max(row['others_explained'], 0):.0%} of the rest")
    if row.get("late_share", 0) > 0:
        found.append(f"available after prediction time on {row['late_share']:.1%} of rows")
    return found


def _summary(data: Dataset, reference: Dataset, target: str, rows: list[dict[str, Any]],
             model_score: float | None, classes: int | None, **limits: Any) -> Check:
    name = f"no_label_leakage[{data.name}]"
    details = {"table": rows, "reference": reference.name, "target": target, "model_power": model_score,
               "power_measure": "correlation ratio" if classes is None else "Gini (2 AUC - 1)", **limits}
    if not rows:
        return Check(name, NOT_APPLICABLE, metric="leakage", dataset=data.name, kind="leakage",
                     message=f"{name}: no feature column shared with '{reference.name}'", details=details)
    failing = [r for r in rows if r["outcome"] == FAILED]
    strong = [r["column"] for r in rows if r["as_good_as_model"]]
    review = f"; alone as good as the model (review): {', '.join(strong[:SHOWN])}" if strong else ""
    if failing:
        listed = "; ".join(f"{r['column']}: {', '.join(r['evidence'])}" for r in failing[:SHOWN])
        more = f"; +{len(failing) - SHOWN} more" if len(failing) > SHOWN else ""
        message = f"{name}: {len(failing)} of {len(rows)} feature(s) look leaked: {listed}{more}{review}"
    else:
        message = (f"{name}: no leak among {len(rows)} feature(s) (largest power change "
                   f"{max(abs(r['change']) for r in rows):.3f}, largest copy share "
                   f"{max(r['copy_share'] for r in rows):.1%}){review}")
    return Check(name, FAILED if failing else PASSED, metric="leaked_features", dataset=data.name,
                 candidate=float(len(failing)), threshold="== 0", kind="leakage", severity="review",
                 message=message, details=details)


class LeakageGates(Recorder):
    """``mlgate.no_label_leakage``."""

    def no_label_leakage(self, dataset: str | Dataset = "holdout", reference: str | Dataset = "reference", *,
                         target: str | None = None, columns: Iterable[str] | None = None,
                         max_change: float | None = None, copy_share: float | None = None,
                         label_explained: float | None = None, others_explained: float | None = None,
                         model: str | None = "candidate") -> list[Check]:
        """No feature may leak the target: judged on ``dataset`` against the training data ``reference``
        by power change, label copies (exact or noisy) and declared availability times (``[tool.mlgate.leakage]``);
        a failure needs review unless the gate marker says otherwise."""
        __tracebackhide__ = True
        table = self.settings.section("leakage")
        data, ref = self.rows(dataset), self.rows(reference)
        name = target or data.target or self.settings.target
        if name is None:
            raise MlgateError(f"no_label_leakage: dataset '{data.name}' has no target column "
                              "([tool.mlgate] target or target=)")
        return self.record(label_leakage(
            data, ref, name, model=self.model(model) if model else None, columns=columns,
            max_change=_setting(max_change, table, "max_change", MAX_CHANGE),
            copy_share=_setting(copy_share, table, "copy_share", COPY_SHARE),
            label_explained=_setting(label_explained, table, "label_explained", LABEL_EXPLAINED),
            others_explained=_setting(others_explained, table, "others_explained", OTHERS_EXPLAINED),
            confidence=self.settings.confidence, available_after=table.get("available_after"),
            prediction_time=table.get("prediction_time"), seed=self.settings.seed))


def _setting(given: float | None, table: Mapping[str, Any], key: str, default: float) -> float:
    value = table.get(key, default) if given is None else given
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise MlgateError(f"[tool.mlgate.leakage] {key}: must be a number between 0 and 1, got {value!r}")
    return float(value)
