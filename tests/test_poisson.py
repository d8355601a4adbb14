"""The Poisson bootstrap: weights keyed by row position, replicate counters that merge like one
pass, and intervals that agree with the multinomial row bootstrap they replace."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as skm

from pytest_mlgate.evaluate import poisson
from pytest_mlgate.evaluate.metrics import BUILTIN, Metric
from pytest_mlgate.evaluate.stats import interval


def test_weights_are_poisson_one_and_a_function_of_seed_row_and_replicate() -> None:
    rows = np.arange(20_000)
    w = poisson.weights(rows, 50, seed=7)
    assert w.shape == (20_000, 50)
    # any split of the rows, in any order, gives each row the same weights
    order = np.random.default_rng(0).permutation(rows)
    assert np.array_equal(poisson.weights(order[:777], 50, seed=7), w[order[:777]])
    assert not np.array_equal(poisson.weights(rows[:100], 50, seed=8), w[:100])
    # Poisson(1): mean 1, variance 1, P(0) = 1/e, P(1) = 1/e, P(2) = 1/(2e)
    assert w.mean() == pytest.approx(1.0, abs=0.01)
    assert w.var() == pytest.approx(1.0, abs=0.02)
    for k, p in ((0, math.exp(-1)), (1, math.exp(-1)), (2, math.exp(-1) / 2)):
        assert np.mean(w == k) == pytest.approx(p, abs=0.005)
    # replicates and neighbouring rows are uncorrelated
    assert abs(np.corrcoef(w[:, 0], w[:, 1])[0, 1]) < 0.03
    assert abs(np.corrcoef(w[:-1, 0], w[1:, 0])[0, 1]) < 0.03


def _fold_in_chunks(y, outputs, needs, sizes, n_boot=200, seed=3):
    """Replicates folded chunk by chunk (each chunk at its own dataset positions) and merged."""
    from pytest_mlgate.evaluate.statistics import merge_maps

    total, start = {}, 0
    for size in sizes:
        rows = np.arange(start, start + size)
        merge_maps(total, poisson.fold_replicates(rows, y[rows], {r: o[rows] for r, o in outputs.items()}, needs, 1, n_boot, seed))
        start += size
    return total


def test_replicates_folded_in_chunks_equal_one_pass() -> None:
    rng = np.random.default_rng(1)
    n = 5_000
    y = rng.normal(100, 3, n)  # a large mean: the centred sums must not lose the variance
    outputs = {"a": y + rng.normal(0, 1, n), "b": y + rng.normal(0, 1.3, n)}
    one = poisson.fold_replicates(np.arange(n), y, outputs, "value", 1, 200, 3)
    chunked = _fold_in_chunks(y, outputs, "value", [1234, 1, 2000, 1765])
    for key in one:
        for part in ("weight", "mean", "m2"):
            np.testing.assert_allclose(getattr(chunked[key], part), getattr(one[key], part), rtol=1e-10)
    # each replicate is the weighted statistic of the rows
    w = poisson.weights(np.arange(n), 200, 3)
    sse = ((y - outputs["a"]) ** 2) @ w
    np.testing.assert_allclose(one[("squared_error", "a")].mean * one[("squared_error", "a")].weight, sse, rtol=1e-10)
    mean_y = (y @ w) / w.sum(axis=0)
    np.testing.assert_allclose(one[("target",)].mean, mean_y, rtol=1e-12)
    for name in ("rmse", "r2"):
        assert poisson.replicate_interval(name, chunked, ["a", "b"], 0.95) == pytest.approx(
            poisson.replicate_interval(name, one, ["a", "b"], 0.95), rel=1e-9)


def test_replicate_histograms_are_integer_counts_and_give_sklearn_average_precision() -> None:
    rng = np.random.default_rng(2)
    n = 4_000
    y = (rng.random(n) < 0.3).astype(int)
    score = {"a": np.clip(rng.normal(0.4 + 0.25 * y, 0.2), 0, 1)}
    one = poisson.fold_replicates(np.arange(n), y, score, "score", 1, 100, 5)
    chunked = _fold_in_chunks(y, score, "score", [999, 3001], n_boot=100, seed=5)
    assert np.array_equal(one[("scores", "a")].counts, chunked[("scores", "a")].counts)
    w = poisson.weights(np.arange(n), 100, 5)
    bins = np.clip((score["a"] * poisson.REPLICATE_BINS).astype(int), 0, poisson.REPLICATE_BINS - 1)
    aps = one[("scores", "a")].average_precision()
    for b in (0, 17, 99):
        assert aps[b] == pytest.approx(skm.average_precision_score(y, bins, sample_weight=w[:, b]), rel=1e-12)
    # the stated size: 2 x 1,024 counts a replicate, about 16 MB at the default 1,000 replicates
    big = poisson.fold_replicates(np.arange(10), y[:10], {"a": score["a"][:10]}, "score", 1, 1000, 0)
    assert big[("scores", "a")].counts.nbytes == 1000 * 2 * 1024 * 8


def test_in_memory_intervals_use_the_poisson_bootstrap_keyed_by_row_position() -> None:
    rng = np.random.default_rng(4)
    n = 3_000
    y = rng.normal(0, 1, n)
    a, b = y + rng.normal(0, 0.5, n), y + rng.normal(0, 0.6, n)
    whole = interval(BUILTIN["r2"], y, [a, b], pos_label=None, classes=None, confidence=0.9, n_boot=300, seed=1)
    assert whole[2] == "Poisson bootstrap"
    # a slice's interval is the one its rows give at their dataset positions
    mask = y > 0
    rows = np.flatnonzero(mask)
    sliced = interval(BUILTIN["r2"], y[mask], [a[mask], b[mask]], pos_label=None, classes=None, confidence=0.9,
                      n_boot=300, seed=1, rows=rows)
    found = poisson.fold_replicates(rows, y[mask], {"0": a[mask], "1": b[mask]}, "value", None, 300, 1)
    assert sliced[:2] == poisson.replicate_interval("r2", found, ["0", "1"], 0.9)
    assert sliced[:2] != interval(BUILTIN["r2"], y[mask], [a[mask], b[mask]], pos_label=None, classes=None,
                                  confidence=0.9, n_boot=300, seed=1)[:2]  # positions 0..k-1 weigh other rows


@pytest.mark.parametrize("name", ["r2", "rmse", "average_precision"])
def test_poisson_and_multinomial_row_bootstrap_intervals_agree_over_simulated_data(name: str) -> None:
    """Both resample the same rows (a row's multinomial count tends to Poisson(1)): over simulated
    data sets their interval ends differ by a small share of the interval's width, and the
    Poisson interval covers the true difference as often as the row bootstrap's does."""
    spec = BUILTIN[name]
    multinomial = Metric(f"row_{name}", spec.fn, spec.needs, spec.greater_is_better)  # the row bootstrap
    gaps, covered = [], {"poisson": 0, "rows": 0}
    trials = 8
    for trial in range(trials):
        rng = np.random.default_rng(100 + trial)
        n = 1_000
        if name == "average_precision":
            y = (rng.random(n) < 0.35).astype(int)
            a, b = (np.clip(rng.normal(0.4 + s * y, 0.2), 0, 1) for s in (0.30, 0.22))
            truth = 0.0  # only a consistency check of the two resampling schemes below
        else:
            y = rng.normal(0, 1, n)
            a, b = y + rng.normal(0, 0.5, n), y + rng.normal(0, 0.6, n)
            truth = (1 - 0.25) - (1 - 0.36) if name == "r2" else math.sqrt(0.25) - math.sqrt(0.36)
        kw = {"pos_label": 1, "classes": None, "confidence": 0.9, "n_boot": 200, "seed": trial}
        p = interval(spec, y, [a, b], **kw)
        r = interval(multinomial, y, [a, b], **kw)
        assert p[2] == "Poisson bootstrap" and r[2] == "row bootstrap"
        width = r[1] - r[0]
        gaps.append(max(abs(p[0] - r[0]), abs(p[1] - r[1])) / width)
        if name != "average_precision":
            covered["poisson"] += p[0] <= truth <= p[1]
            covered["rows"] += r[0] <= truth <= r[1]
    assert np.median(gaps) < 0.12 and max(gaps) < 0.3, gaps
    assert abs(covered["poisson"] - covered["rows"]) <= 2, covered


def _three_classes(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    logits = rng.normal(0, 1, (n, 3)) + 1.2 * np.eye(3)[y]
    a = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    weak = logits + rng.normal(0, 1.5, (n, 3))
    return y, a, np.exp(weak) / np.exp(weak).sum(axis=1, keepdims=True)


def test_per_replicate_multiclass_auc_is_sklearns_with_the_poisson_weights() -> None:
    n, n_boot, classes = 3_000, 60, np.arange(3)
    y, a, b = _three_classes(n, 6)
    one = poisson.fold_class_replicates(np.arange(n), y, {"a": a, "b": b}, {"a": classes, "b": classes}, n_boot, 9)
    merged: dict = {}
    for rows in np.array_split(np.arange(n), [5, 1200, 1201]):  # chunks at their own positions, in any sizes
        piece = poisson.fold_class_replicates(rows, y[rows], {"a": a[rows], "b": b[rows]}, {"a": classes, "b": classes},
                                              n_boot, 9)
        for key, value in piece.items():
            merged[key] = value if key not in merged else merged[key].merge(value)
    assert merged.keys() == one.keys() and all(np.array_equal(merged[k].counts, one[k].counts) for k in one)
    w = poisson.weights(np.arange(n), n_boot, 9)
    bins = 256  # 1,024 / 4 for three classes
    binned = np.clip((a * bins).astype(int), 0, bins - 1)
    macro = poisson.macro_roc_auc(one, "a")
    for r in (0, 31, 59):
        per_class = [skm.roc_auc_score(y == k, binned[:, k], sample_weight=w[:, r]) for k in classes]
        assert poisson.replicate_auc(one[("class scores", "a", "1")])[r] == pytest.approx(per_class[1], rel=1e-12)
        assert macro[r] == pytest.approx(np.mean(per_class), rel=1e-12)
    # the stated size: 2 x 256 counts per class and replicate, 12 MB a model at 1,000 replicates
    big = poisson.fold_class_replicates(np.arange(10), y[:10], {"a": a[:10]}, {"a": classes}, 1000, 0)
    assert sum(h.counts.nbytes for h in big.values()) == 3 * 1000 * 2 * 256 * 8


def test_in_memory_multiclass_auc_interval_folds_the_same_replicates() -> None:
    n = 2_000
    y, a, b = _three_classes(n, 7)
    auc = BUILTIN["roc_auc"]
    kw = {"pos_label": 1, "classes": np.arange(3), "confidence": 0.9, "n_boot": 100, "seed": 2}
    low, high, method = interval(auc, y, [a, b], **kw)
    assert method == "Poisson bootstrap"
    w = poisson.weights(np.arange(n), 100, 2)
    binned = [np.clip((p * 256).astype(int), 0, 255) for p in (a, b)]
    draws = [np.mean([skm.roc_auc_score(y == k, s[:, k], sample_weight=w[:, r]) for k in range(3)])
             - np.mean([skm.roc_auc_score(y == k, t[:, k], sample_weight=w[:, r]) for k in range(3)])
             for r in range(100) for s, t in [binned]]
    assert (low, high) == pytest.approx(tuple(np.percentile(draws, [5, 95])), rel=1e-12)
    # a slice's interval is the one its rows give at their dataset positions
    mask = a[:, 0] > 0.2
    rows = np.flatnonzero(mask)
    sliced = interval(auc, y[mask], [a[mask]], **kw, rows=rows)
    found = poisson.fold_class_replicates(rows, y[mask], {"0": a[mask]}, {"0": np.arange(3)}, 100, 2)
    assert sliced[:2] == poisson.replicate_interval("roc_auc", found, ["0"], 0.9)
    assert sliced[:2] != interval(auc, y[mask], [a[mask]], **kw)[:2]
    # a class without rows: undefined in every replicate, as scikit-learn says of the rows
    assert np.isnan(interval(auc, y[y != 1], [a[y != 1]], **kw)[:2]).all()


def test_poisson_and_row_bootstrap_intervals_of_a_multiclass_auc_agree_over_simulated_data() -> None:
    spec = BUILTIN["roc_auc"]
    rows_bootstrap = Metric("row_roc_auc", spec.fn, spec.needs, spec.greater_is_better)
    gaps = []
    for trial in range(4):
        y, a, b = _three_classes(800, 200 + trial)
        kw = {"pos_label": 1, "classes": np.arange(3), "confidence": 0.9, "n_boot": 150, "seed": trial}
        p, r = interval(spec, y, [a, b], **kw), interval(rows_bootstrap, y, [a, b], **kw)
        assert p[2] == "Poisson bootstrap" and r[2] == "row bootstrap"
        gaps.append(max(abs(p[0] - r[0]), abs(p[1] - r[1])) / (r[1] - r[0]))
    assert np.median(gaps) < 0.12 and max(gaps) < 0.3, gaps
