"""Fairness gates on ROC AUC, average precision, log loss and Brier: per-group Poisson bootstrap
replicates (the same in memory, streamed and on Dask), point values off folded statistics with ROC
AUC's error bound, and custom metrics on a streamed dataset judged on its stated sample."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from engine_scenarios import BINNED_TOLERANCE, TINY_BUDGET, copy_project, workspace, write_project
from sklearn import metrics as skm

from pytest_mlgate.checks import fairness as F
from pytest_mlgate.checks import fairness_groups as G
from pytest_mlgate.evaluate import poisson
from pytest_mlgate.evaluate.metrics import BUILTIN, register_metric
from pytest_mlgate.evaluate.models import Dataset, ModelUnderTest
from pytest_mlgate.evaluate.statistics import ScoreHistogram
from pytest_mlgate.gates import MlGate


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_project(tmp_path_factory.mktemp("fair-scores"), rows=6_000)


def test_replicate_auc_is_sklearn_weighted_auc_on_the_binned_scores() -> None:
    rng = np.random.default_rng(4)
    n, n_boot = 3_000, 40
    y = rng.random(n) < 0.3
    # informative scores with many ties: a third rounded to two decimals, some at 0 and 1 exactly
    score = np.clip(0.35 * y + rng.random(n) * 0.7, 0, 1)
    score[: n // 3] = np.round(score[: n // 3], 2)
    score[:20], score[20:40] = 0.0, 1.0
    rows = np.arange(n) + 1_000  # dataset positions, not 0..n-1
    w = poisson.weights(rows, n_boot, seed=5)
    found = poisson.fold_replicates(rows, y, {"m": score}, "score", True, n_boot, 5)
    auc = poisson.replicate_auc(found[("scores", "m")])
    binned = ScoreHistogram.bin_of(score, poisson.REPLICATE_BINS)
    want = np.array([skm.roc_auc_score(y, binned, sample_weight=w[:, b]) for b in range(n_boot)])
    np.testing.assert_allclose(auc, want, rtol=1e-13, atol=0)  # scikit-learn sums trapezoids in floats
    # exact: every weighted (positive, negative) pair by brute force, in integers, divided once
    pos, neg = binned[y], binned[~y]
    order = 2 * (pos[:, None] > neg[None, :]) + (pos[:, None] == neg[None, :])
    for b in range(5):
        wp, wn = w[y, b].astype(np.int64), w[~y, b].astype(np.int64)
        twice = int(wp @ order @ wn)
        assert auc[b] == float(Fraction(twice, 2 * int(wp.sum()) * int(wn.sum())))  # correctly rounded
    # a replicate without negatives (or positives) is undefined, not 0.5
    counts = found[("scores", "m")].counts.copy()
    counts[0, 0, :] = 0
    assert np.isnan(poisson.replicate_auc(poisson.ReplicateHistogram(counts))[0])


def test_row_replicate_moments_are_weighted_means_and_merge_like_one_pass() -> None:
    from pytest_mlgate.evaluate.statistics import merge_maps

    rng = np.random.default_rng(6)
    loss = rng.exponential(0.5, 5_000)
    rows = np.arange(5_000)
    one = poisson.fold_row_replicates(rows, {("loss", "log_loss", "m"): loss}, 30, 2)
    merged: dict = {}
    for piece in np.array_split(rows, 7):
        merge_maps(merged, poisson.fold_row_replicates(piece, {("loss", "log_loss", "m"): loss[piece]}, 30, 2))
    w = poisson.weights(rows, 30, 2)
    want = np.array([np.average(loss, weights=w[:, b]) for b in range(30)])
    for found in (one, merged):
        moments = found[("loss", "log_loss", "m")]
        assert np.array_equal(moments.weight, w.sum(axis=0))
        np.testing.assert_allclose(moments.mean, want, rtol=1e-12)


class Scored:
    """A binary 'model' whose positive-class probability is the column ``s``."""

    classes_ = np.array([0, 1])

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return np.c_[1 - X["s"], X["s"]]

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (X["s"] >= 0.5).astype(int).to_numpy()


def scored_data(n: int = 1_500) -> Dataset:
    rng = np.random.default_rng(2)
    grp = rng.choice(["a", "b"], n)
    y = rng.integers(0, 2, n)
    s = np.where(grp == "a", 0.5 * y + 0.5 * rng.random(n), 0.2 * y + 0.8 * rng.random(n))
    return Dataset("holdout", pd.DataFrame({"grp": grp, "y": y, "s": s}), target="y")


@pytest.mark.parametrize("metric", ["roc_auc", "average_precision", "log_loss", "brier"])
def test_in_memory_draws_are_the_poisson_replicates_of_each_group(metric: str, monkeypatch) -> None:
    data = scored_data()
    monkeypatch.setattr(F, "row_draws", lambda *a, **k: pytest.fail("row bootstrap used for a built-in metric"))
    checks = F.fairness(data, ModelUnderTest("candidate", Scored()), "grp", metric,
                        F.Criteria(max_difference=0.5), n_boot=60, seed=9)
    table = {r["group"]: r for r in checks[0].details["table"]}
    frame, spec = data.frame, BUILTIN[metric]
    for group in ("a", "b"):
        rows = np.flatnonzero(frame["grp"].to_numpy() == group)
        y, s = frame["y"].to_numpy()[rows], frame["s"].to_numpy()[rows]
        w = poisson.weights(rows, 60, 9)  # weights keyed by the rows' dataset positions
        if metric in ("roc_auc", "average_precision"):
            binned = ScoreHistogram.bin_of(s, poisson.REPLICATE_BINS)
            fn = skm.roc_auc_score if metric == "roc_auc" else skm.average_precision_score
            draws = [fn(y, binned, sample_weight=w[:, b]) for b in range(60)]
        else:
            out = np.c_[1 - s, s] if metric == "log_loss" else s
            loss = spec.row_loss(y, out, 1, np.array([0, 1]))
            draws = [np.average(loss, weights=w[:, b]) for b in range(60)]
        low, high = G.percentiles(np.array(draws), 0.95)
        assert table[f"grp={group}"][f"{metric}_ci"] == pytest.approx([low, high], rel=1e-9)
        exact = spec(y, np.c_[1 - s, s] if metric == "log_loss" else s, pos_label=1, classes=np.array([0, 1]))
        assert table[f"grp={group}"][metric] == pytest.approx(exact, rel=1e-12)  # MetricFrame on the rows
    assert f"{metric}_error_bound" not in table["grp=a"]  # exact in memory


def test_a_custom_metric_in_memory_keeps_the_row_bootstrap(monkeypatch) -> None:
    calls = []
    real = F.row_draws
    monkeypatch.setattr(F, "row_draws", lambda *a, **k: calls.append(1) or real(*a, **k))
    spec = BUILTIN["roc_auc"]
    custom = F.resolve(lambda y, s: spec(y, s))  # a callable is not the built-in metric
    assert not F.replicated(custom, [ModelUnderTest("candidate", Scored())])
    register_metric("auc_again", lambda y, s: skm.roc_auc_score(y, s), needs="score")
    F.fairness(scored_data(400), ModelUnderTest("candidate", Scored()), "grp", "auc_again",
               F.Criteria(max_difference=0.5), n_boot=20)
    assert calls == [1]


@pytest.mark.parametrize("metric", ["roc_auc", "average_precision", "log_loss", "brier"])
def test_intervals_are_identical_for_any_chunk_size(project: Path, metric: str) -> None:
    found = []
    for budget in (None, "200KiB", TINY_BUDGET):
        ws = workspace(project, **({"memory_budget": budget} if budget else {}))
        checks = MlGate("g", ws).fairness("sex", metric, max_difference=1.0)
        found.append(([c.ci for c in checks], [r[f"{metric}_ci"] for r in checks[0].details["table"]], checks))
    assert getattr(ws.dataset("holdout"), "streamed", False) and ws.dataset("holdout").chunk_rows < 1000
    for cis, rows, checks in found[1:]:
        if metric in ("roc_auc", "average_precision"):  # integer replicate counts: the same numbers
            assert cis == found[0][0] and rows == found[0][1]
        if metric == "roc_auc":
            bounds = [r["roc_auc_error_bound"] for r in checks[0].details["table"]]
            assert all(0 < b < 1e-3 for b in bounds)
            assert checks[0].details["error_bound"] == pytest.approx(2 * max(bounds))
            assert abs(checks[0].candidate - found[0][2][0].candidate) <= checks[0].details["error_bound"]
        elif metric == "average_precision":  # no guaranteed bound: the measured agreement
            for want, have in zip(found[0][2][0].details["table"], checks[0].details["table"], strict=True):
                assert abs(want[metric] - have[metric]) <= BINNED_TOLERANCE, want["group"]
            assert abs(checks[0].candidate - found[0][2][0].candidate) <= 2 * BINNED_TOLERANCE
            assert "error_bound" not in checks[0].details
        else:
            np.testing.assert_allclose(np.array(cis, dtype=float), np.array(found[0][0], dtype=float), rtol=1e-10)
            assert checks[0].candidate == pytest.approx(found[0][2][0].candidate, rel=1e-10)
    assert "error_bound" not in found[0][2][0].details  # in memory: MetricFrame on the rows, exact


def test_a_custom_metric_on_a_streamed_dataset_reports_its_sample(project: Path) -> None:
    register_metric("auc_by_hand", lambda y, s: skm.roc_auc_score(y, s), needs="score")
    ws = workspace(project, memory_budget=TINY_BUDGET, sample_rows=800)
    gate = MlGate("g", ws)
    checks = gate.fairness("sex", "auc_by_hand", max_difference=1.0)
    check = checks[-1]
    assert check.name == "auc_by_hand difference[holdout, sex]"  # as in memory: history keys on it
    assert check.details["sampled_rows"] == 800 and check.details["rows_total"] == 6000
    assert "uniform sample of 800 of 6000 rows" in check.message
    assert sum(r["rows"] for r in check.details["table"]) == 800  # the groups are the sample's
    # so is a built-in metric without a per-group mergeable statistic here
    other = gate.fairness("sex", "balanced_accuracy", max_difference=1.0)[-1]
    assert other.details["sampled_rows"] == 800 and "uniform sample of 800 of 6000 rows" in other.message
    # a built-in metric on the same dataset reads every row's folded statistics, no sample
    whole = gate.fairness("sex", "roc_auc", max_difference=1.0)[-1]
    assert "sampled_rows" not in whole.details and sum(r["rows"] for r in whole.details["table"]) == 6000


GATE = """
def test_auc_parity(mlgate):
    mlgate.fairness("sex", metric="roc_auc", max_difference={limit})
"""


@pytest.mark.parametrize(("limit", "status", "decision"), [(0.2, 0, "approved"), (0.0001, 1, "rejected")])
def test_a_streamed_fairness_gate_on_roc_auc_decides(pytester: pytest.Pytester, project: Path, limit: float,
                                                     status: int, decision: str) -> None:
    copy_project(project, pytester.path)
    pytester.makefile(".toml", pyproject=(
        '[tool.mlgate]\ncandidate = "candidate.skops"\ntarget = "defaulted"\nbootstrap = 200\n'
        f'memory_budget = "{TINY_BUDGET}"\n[tool.mlgate.datasets]\nholdout = "holdout"\n'))
    pytester.makepyfile(test_gates=GATE.format(limit=limit))
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == status
    record = json.loads((pytester.path / "reports" / "mlgate-decision.json").read_text())
    assert record["decision"] == decision and record["datasets"]["holdout"]["engine"] == "local"
    (check,) = record["gates"][0]["checks"]
    assert check["name"] == "roc_auc difference[holdout, sex]"
    assert 0 < check["details"]["error_bound"] < 1e-3 and check["ci"][0] <= check["candidate"] <= check["ci"][1]
    if status:
        result.stdout.fnmatch_lines(["*roc_auc difference[[]sex[]] 0.* exceeds 0.0001, 95% CI*",
                                     "test_auc_parity*roc_auc difference[[]holdout, sex[]]*<= 0.0001*failed"])
