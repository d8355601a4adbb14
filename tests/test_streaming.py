"""Streamed evaluation: the same gates on partitioned Parquet, in memory and folded chunk by chunk."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from engine_scenarios import (
    TINY_BUDGET,
    assert_same_checks,
    copy_project,
    frame,
    run_gates,
    run_regression_gates,
    workspace,
    write_parts,
    write_project,
    write_regression_project,
)

from pytest_mlgate.engines.select import PartsInMemory
from pytest_mlgate.errors import ConfigError, MlgateError
from pytest_mlgate.evaluate.statistics import Moments, ScoreHistogram, Sketch
from pytest_mlgate.evaluate.streamed import StreamedDataset


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_project(tmp_path_factory.mktemp("scale"))


@pytest.fixture(scope="module")
def regression_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_regression_project(tmp_path_factory.mktemp("regression"))


def test_budget_chooses_memory_or_streaming(project: Path) -> None:
    in_memory = workspace(project).dataset("holdout")
    streamed = workspace(project, memory_budget=TINY_BUDGET).dataset("holdout")
    assert isinstance(in_memory, PartsInMemory) and not isinstance(in_memory, StreamedDataset)
    assert len(in_memory) == 12_000 and in_memory.reads == 0  # rows are read when a gate needs them
    assert isinstance(streamed, StreamedDataset) and len(streamed) == 12_000
    assert streamed.chunk_rows < 1000  # many chunks per part


def test_every_gate_gives_the_same_checks_streamed(project: Path) -> None:
    expected = run_gates(workspace(project))
    ws = workspace(project, memory_budget=TINY_BUDGET)
    got = run_gates(ws)
    assert any(c.failed for c in expected) and any(not c.failed for c in expected)
    assert_same_checks(expected, got)
    holdout = ws.dataset("holdout")
    assert holdout.sampled is None and ws.dataset("current").sampled is None  # no gate here needed rows
    # one pass with both models for the whole set and the sensitive column, one per other slicing
    # (by region, where age > 0, by region where income > 2.5, sex & region), one reading pass for
    # the column profiles, two Poisson bootstrap passes (average precision where age > 0 and by
    # region), three per sex (fairness on ROC AUC, on log loss, and ROC AUC of both models), one
    # folding the baseline's output column (prediction drift)
    assert holdout.passes == 12


def test_every_regression_gate_gives_the_same_checks_streamed(regression_project: Path) -> None:
    expected = run_regression_gates(workspace(regression_project, target="amount"))
    ws = workspace(regression_project, target="amount", memory_budget=TINY_BUDGET)
    got = run_regression_gates(ws)
    assert any(c.failed for c in expected) and any(not c.failed for c in expected)
    assert {c.details.get("ci_method") for c in expected} >= {"paired normal", "Poisson bootstrap"}
    assert_same_checks(expected, got)
    assert ws.dataset("current").sampled is None  # prediction drift folded, not sampled


def test_poisson_intervals_do_not_depend_on_the_chunk_size(project: Path) -> None:
    from pytest_mlgate.gates import MlGate

    cis = []
    for budget in (TINY_BUDGET, "200KiB", None):
        ws = workspace(project, **({"memory_budget": budget} if budget else {}))
        checks = MlGate("g", ws).no_regression("average_precision", max_absolute_drop=0.05, by="sex")
        cis.append([c.ci for c in checks])
        assert {c.details["ci_method"] for c in checks} == {"Poisson bootstrap"}
    assert ws.dataset("holdout").__class__ is PartsInMemory
    assert cis[0] == cis[1] == cis[2]  # integer replicate counts: identical, not merely close


def test_streamed_metrics_match_sklearn_on_rows(project: Path) -> None:
    from sklearn.metrics import accuracy_score, roc_auc_score

    from pytest_mlgate.evaluate.metrics import resolve

    ws = workspace(project, memory_budget=TINY_BUDGET)
    rows = workspace(project).dataset("holdout").frame
    model = ws.model("candidate")
    score = model.model.predict_proba(rows[model.model.feature_names_in_])[:, 1]
    data = ws.dataset("holdout")
    assert model.metric("accuracy", data) == accuracy_score(rows["defaulted"], score >= 0.5)
    bound = data.error_bound(model, resolve("roc_auc"))
    assert 0 < bound < 1e-3
    assert abs(model.metric("roc_auc", data) - roc_auc_score(rows["defaulted"], score)) <= bound


def test_drift_on_small_streamed_batches_is_exact(tmp_path: Path) -> None:
    from pytest_mlgate.gates import MlGate

    write_parts(frame(1500, seed=1), tmp_path / "reference", 2)
    write_parts(frame(1500, seed=3, shift=0.25), tmp_path / "current", 3)
    tables = []
    for budget in ("4GiB", TINY_BUDGET):
        ws = workspace(tmp_path, memory_budget=budget, datasets={"reference": "reference", "current": "current"})
        gate = MlGate("g", ws)
        gate.no_drift()
        with pytest.raises(AssertionError, match="income"):
            gate.raise_failures()
        tables.append({r["feature"]: r for r in gate.checks[0].details["table"]})
    assert isinstance(ws.dataset("current"), StreamedDataset)
    for name, want in tables[0].items():
        have = tables[1][name]
        for key in ("ks", "wasserstein", "psi", "p_value", "p_adjusted", "drifted"):
            if key in want:
                assert have[key] == pytest.approx(want[key], rel=1e-9, abs=1e-12), (name, key)


def test_gates_needing_rows_use_a_stated_sample(project: Path) -> None:
    from pytest_mlgate.gates import MlGate

    ws = workspace(project, memory_budget=TINY_BUDGET, sample_rows=500)
    gate = MlGate("g", ws)
    checks = gate.calibration("holdout")
    assert checks[0].details["sampled_rows"] == 500
    assert checks[0].details["rows"] == 500  # the sample's rows, not the 12000 of the dataset
    assert "uniform sample of 500 of 12000 rows" in checks[0].message
    later = gate.no_missing("holdout", max_rate=0.05)  # from folded counts: not a sample
    assert "sampled_rows" not in later[0].details


def test_moments_merge_like_one_pass() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(5, 2, 10_001)
    merged = Moments()
    for piece in np.array_split(values, 7):
        merged.merge(Moments.of(piece))
    assert merged.n == len(values)
    assert merged.mean == pytest.approx(values.mean(), rel=1e-12)
    assert merged.variance() == pytest.approx(values.var(ddof=1), rel=1e-12)


def test_auc_bound_holds_and_sketch_rank_error_holds() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(1)
    y = rng.random(50_000) < 0.3
    score = np.clip(rng.normal(0.4 + 0.2 * y, 0.15), 0, 1)
    hist = ScoreHistogram.of(y, score)
    positive, bins, weight = hist.cells()
    binned = roc_auc_score(positive, bins, sample_weight=weight)
    assert abs(binned - roc_auc_score(y, score)) <= hist.auc_bound()
    sketch = Sketch()
    for piece in np.array_split(score, 9):
        sketch.merge(Sketch.of(piece))
    points = np.quantile(score, [0.1, 0.5, 0.9])
    exact = np.searchsorted(np.sort(score), points, "right") / len(score)
    assert np.all(np.abs(sketch.cdf(points) - exact) <= sketch.rank_error)


def test_parts_are_hashed_together_and_pinned(project: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(project, copy)
    first = workspace(copy).artifacts()["holdout"]["sha256"]
    assert first == workspace(project).artifacts()["holdout"]["sha256"]
    write_parts(frame(100, seed=9), copy / "holdout" / "extra", 1)  # a new partition changes the data
    assert workspace(copy).artifacts()["holdout"]["sha256"] != first
    pinned = workspace(copy, sha256={"holdout": first})
    with pytest.raises(MlgateError, match="holdout: sha256 mismatch"):
        pinned.dataset("holdout")


def test_unreadable_or_empty_parts_fail_closed(project: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(project, copy)
    (copy / "holdout" / "part-001.parquet").write_bytes(b"not parquet")
    with pytest.raises(MlgateError, match=r"dataset 'holdout': cannot read part \S+/holdout/part-001.parquet: ArrowInvalid"):
        workspace(copy, memory_budget=TINY_BUDGET).dataset("holdout")
    (copy / "empty").mkdir()
    with pytest.raises(MlgateError, match="empty: no Parquet files found"):
        workspace(copy, datasets={"empty": "empty"}).dataset("empty")


def test_memory_budget_is_validated(project: Path) -> None:
    with pytest.raises(ConfigError, match="'memory_budget' must be a size such as 512MiB"):
        workspace(project, memory_budget="lots")


GATES = """
import pytest

def test_auc(candidate, holdout):
    assert candidate.metric("roc_auc", holdout) >= 0.7

def test_no_regression(mlgate):
    mlgate.no_regression("accuracy", max_absolute_drop=0.05, by="region")

@pytest.mark.gate(severity="review")
def test_parity(mlgate):
    mlgate.fairness("sex", metric="selection_rate", min_ratio=0.8)

def test_drift(mlgate):
    mlgate.no_drift("reference", "current")

def test_nulls(mlgate):
    mlgate.no_missing("holdout", max_rate=0.05)

def test_average_precision(mlgate):
    mlgate.no_regression("average_precision", max_absolute_drop=0.05, where="age > -1")

def test_scores_as_trained(mlgate):
    mlgate.no_prediction_drift("reference", "holdout")
"""


@pytest.mark.parametrize("budget", [None, TINY_BUDGET])
def test_the_same_gate_file_decides_the_same(pytester: pytest.Pytester, project: Path, budget: str | None) -> None:
    copy_project(project, pytester.path)
    extra = f'memory_budget = "{budget}"\n' if budget else ""
    pytester.makefile(".toml", pyproject=(
        '[tool.mlgate]\ncandidate = "candidate.skops"\nbaseline = "baseline.skops"\ntarget = "defaulted"\n'
        f'sensitive = ["sex"]\n{extra}[tool.mlgate.datasets]\n'
        'holdout = "holdout"\nreference = "reference"\ncurrent = "current/*.parquet"\n'))
    pytester.makepyfile(test_gates=GATES)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=6, failed=1)  # the shifted income drifts
    record = json.loads((pytester.path / "reports" / "mlgate-decision.json").read_text())
    assert record["decision"] == "rejected"
    holdout = record["datasets"]["holdout"]
    assert holdout["rows"] == 12_000 and holdout["sha256"]
    assert ("engine" in holdout) is (budget is not None)


def test_prediction_drift_of_predicted_labels_is_folded_exactly(tmp_path: Path) -> None:
    """A multi-class model's predicted labels: exact counts streamed, the in-memory chi-square."""
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    from pytest_mlgate.gates import MlGate

    train = frame(3000, seed=1)
    sio.dump(LogisticRegression().fit(train[["income", "debt", "age"]], train["region"]), tmp_path / "candidate.skops")
    write_parts(train, tmp_path / "reference", 2)
    write_parts(frame(3000, seed=3, shift=0.6), tmp_path / "current", 3)
    rows = []
    for budget in ("4GiB", TINY_BUDGET):
        ws = workspace(tmp_path, memory_budget=budget, target="region", sensitive=[], baseline=None,
                       datasets={"reference": "reference", "current": "current"})
        gate = MlGate("g", ws)
        (check,) = gate.no_prediction_drift()
        rows.append(check.details["table"][0])
    assert isinstance(ws.dataset("current"), StreamedDataset) and ws.dataset("current").sampled is None
    assert rows[0]["kind"] == rows[1]["kind"] == "categorical"
    for key in ("psi", "tvd", "p_value", "statistic", "drifted"):
        assert rows[1][key] == pytest.approx(rows[0][key], rel=1e-9), key


def test_chunks_are_read_one_file_at_a_time(tmp_path: Path) -> None:
    import time

    import pyarrow as pa

    from pytest_mlgate.evaluate.parts import Parts

    rows = 40_000
    data = pd.DataFrame(np.random.default_rng(0).normal(size=(rows * 12, 8)), columns=[f"x{i}" for i in range(8)])
    write_parts(data, tmp_path / "parts", 12)
    parts = Parts("big", sorted((tmp_path / "parts").glob("*.parquet")))
    held, seen, before = [], 0, pa.total_allocated_bytes()  # what earlier work left allocated
    for chunk in parts.chunks(rows):
        time.sleep(0.05)  # a slow consumer: read-ahead would fill memory with later files meanwhile
        held.append(pa.total_allocated_bytes() - before)
        seen += len(chunk)
    one_file = rows * 8 * 8
    assert seen == len(data)
    assert max(held) < 4 * one_file, f"{max(held) / one_file:.1f} files' worth of rows held at once"
