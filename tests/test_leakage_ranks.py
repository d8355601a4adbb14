"""The leakage check's all-features-at-once statistics give exactly the per-feature definitions' numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pytest_mlgate.checks import leakage, leakage_ranks


def definition_power(score: list[np.ndarray], y: np.ndarray, classes: int | None) -> tuple[float, float]:
    """The power as first written: scipy's average ranks and Hanley and McNeil's formula, one class at a time."""
    keep = ~np.isnan(score[0])
    if classes is None:
        x, t = score[0][keep], y[keep]
        if len(x) < 4 or np.ptp(x) == 0 or np.ptp(t) == 0:
            return float("nan"), float("nan")
        return abs(float(stats.spearmanr(x, t).statistic)), float(np.sqrt(1.06 / (len(x) - 3)))
    ginis, errors = [], []
    for k, s in enumerate(score):
        hit = y[keep] == (1 if classes == 2 else k)
        m, n = int(hit.sum()), int((~hit).sum())
        if not m or not n:
            continue
        ranks = stats.rankdata(s[keep])
        auc = (ranks[hit].sum() - m * (m + 1) / 2) / (m * n)
        a = max(auc, 1 - auc)
        q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
        var = (a * (1 - a) + (m - 1) * (q1 - a * a) + (n - 1) * (q2 - a * a)) / (m * n)
        ginis.append(2 * a - 1)
        errors.append(2 * np.sqrt(max(var, 0.0)))
    if not ginis:
        return float("nan"), float("nan")
    return float(np.mean(ginis)), float(np.mean(errors))


def definition_copy(feature: np.ndarray, y: np.ndarray, share: float) -> float:
    """The copy share by its definition: the longest non-decreasing run of targets in feature order, ties
    ordered against it, either direction, by patience sorting (no two-valued shortcut)."""
    keep = ~np.isnan(feature)
    if keep.sum() < 4 or np.ptp(feature[keep]) == 0 or np.ptp(y[keep]) == 0:
        return 0.0
    if len(np.unique(y[keep])) > 2 and abs(stats.spearmanr(feature[keep], y[keep]).statistic) < share - 0.15:
        return 0.0
    x, t = feature[keep], np.asarray(y, dtype=float)[keep]
    best = max(leakage._longest_non_decreasing(sign * t[np.lexsort((-sign * t, x))]) for sign in (1, -1))
    return best / len(feature)


def definition_row(name, ref, cur, y_ref, y_cur, classes, share) -> dict:
    s_ref, s_cur = leakage.scores(ref, cur, y_ref, classes)
    (p_ref, se_ref), (p_cur, se_cur) = definition_power(s_ref, y_ref, classes), definition_power(s_cur, y_cur, classes)
    change, se = p_cur - p_ref, float(np.hypot(se_ref, se_cur))
    if pd.api.types.is_numeric_dtype(ref) and not pd.api.types.is_bool_dtype(ref):
        o_ref, o_cur = ref.to_numpy(dtype=float), cur.to_numpy(dtype=float)
    else:
        (o_ref,), (o_cur,) = leakage.scores(ref, cur, y_ref.astype(float), None)
    copy = min(definition_copy(o_ref, y_ref, share), definition_copy(o_cur, y_cur, share))
    z = abs(change) / se if se > 0 else 0.0
    return {"column": name, "power_reference": p_ref, "power": p_cur, "change": change,
            "z": 0.0 if np.isnan(z) else z, "copy_share": copy}


def random_frame(rng: np.random.Generator, rows: int, target: str) -> pd.DataFrame:
    """Ties, discrete and constant columns, missing values, text categories (some rare), booleans, exact
    and noisy copies of the label, and a binary target with a common or a rare class (or three classes,
    or a numeric target)."""
    rate = rng.choice([0.5, 0.2, 0.03])
    y = (rng.random(rows) < rate).astype(int) if target == "binary" else (
        rng.integers(0, 3, rows) if target == "classes" else rng.normal(size=rows))
    noisy = y.astype(float).copy()
    flip = rng.random(rows) < rng.choice([0.0, 0.005, 0.03])
    noisy[flip] = rng.permutation(noisy[flip]) + (0.5 if target == "numeric" else 0)
    frame = pd.DataFrame({
        "normal": rng.normal(size=rows),
        "rounded": np.round(rng.normal(size=rows), 1),
        "few": rng.integers(0, 3, rows),
        "constant": np.full(rows, 2.0),
        "gappy": np.where(rng.random(rows) < 0.3, np.nan, rng.integers(0, 5, rows).astype(float)),
        "empty": np.full(rows, np.nan),
        "signed_zero": rng.choice([-0.0, 0.0, 1.0], rows),
        "copy": y.astype(float),
        "noisy_copy": noisy,
        "step": 10.0 * y + rng.random(rows),
        "tied_step": 10.0 * y + rng.integers(0, 2, rows),
        "flag": rng.random(rows) < 0.5,
        "city": rng.choice(["a", "b", "c", "rare"], rows, p=[0.4, 0.3, 0.29, 0.01]),
        "label_text": np.where(noisy > np.median(noisy), "yes", "no"),
    })
    frame.loc[rng.random(rows) < 0.05, "city"] = None
    frame["target"] = y
    return frame


def both_ways(rng: np.random.Generator, rows: tuple[int, int], target: str) -> tuple[list[dict], list[dict]]:
    ref, cur = random_frame(rng, rows[0], target), random_frame(rng, rows[1], target)
    y_ref, y_cur, classes = leakage._target_codes(ref["target"], cur["target"])
    features = [c for c in ref.columns if c != "target"]
    fast = leakage.feature_rows(features, ref, cur, y_ref, y_cur, classes, leakage.COPY_SHARE)
    return fast, [definition_row(name, ref[name], cur[name], y_ref, y_cur, classes, leakage.COPY_SHARE)
                  for name in features]


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(a[k] == b[k] or (np.isnan(a[k]) and np.isnan(b[k]))
                                        for k in a if k != "column") and a["column"] == b["column"]


@pytest.mark.parametrize("target", ["binary", "classes", "numeric"])
def test_all_features_at_once_give_the_definitions_numbers(target):
    rng = np.random.default_rng(7)
    sizes = [(int(rng.integers(1, 12)), int(rng.integers(1, 12))) for _ in range(30)]
    sizes += [(int(rng.integers(40, 400)), int(rng.integers(40, 400))) for _ in range(30)] + [(3000, 2500)]
    for rows in sizes:
        fast, definition = both_ways(rng, rows, target)
        for a, b in zip(fast, definition, strict=True):
            assert same(a, b), (rows, a, b)


def test_the_copies_are_found_on_a_rare_class():
    rng = np.random.default_rng(11)
    found = 0
    for _ in range(20):
        fast, definition = both_ways(rng, (2000, 2000), "binary")
        rows = {r["column"]: r for r in fast}
        found += rows["copy"]["copy_share"] == 1.0 and rows["step"]["copy_share"] == 1.0
        assert all(same(a, b) for a, b in zip(fast, definition, strict=True))
    assert found == 20


def test_average_ranks_are_pandas_ranks():
    rng = np.random.default_rng(5)
    for rows in (1, 2, 7, 300):
        matrix = rng.choice([-np.inf, -1.0, -0.0, 0.0, 0.5, 2.0, np.inf, np.nan], (rows, 6))
        matrix[:, 0] = rng.normal(size=rows)
        expected = pd.DataFrame(matrix).rank().to_numpy()
        np.testing.assert_array_equal(leakage_ranks.average_ranks(matrix), expected)


def test_the_gini_of_a_perfect_and_a_reversed_separation():
    hit = np.array([False, False, True, True, True])
    matrix = np.column_stack([np.arange(5.0), -np.arange(5.0), [0, 0, 1, 0, 1.0]])
    power, _, copy = leakage_ranks.binary_columns(matrix, hit)
    assert power[:2].tolist() == [1.0, 1.0] and copy[:2].tolist() == [1.0, 1.0]
    assert copy[2] == 0.8  # the tied 0s with one high target: one row off
