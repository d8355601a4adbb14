"""Multi-class ROC AUC and custom metrics on streamed datasets: one-vs-rest score bins, one-vs-rest
Poisson bootstrap replicates shared with in-memory evaluation, and custom metrics on a stated sample."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from engine_scenarios import (
    TIERS,
    TINY_BUDGET,
    assert_same_checks,
    copy_project,
    run_multiclass_gates,
    workspace,
    write_multiclass_project,
    write_project,
)
from sklearn import metrics as skm

from pytest_mlgate.errors import MlgateError
from pytest_mlgate.evaluate import readouts
from pytest_mlgate.evaluate.fold import Group, Statistics
from pytest_mlgate.evaluate.metrics import resolve
from pytest_mlgate.evaluate.statistics import ClassHistograms, ScoreHistogram, class_bins
from pytest_mlgate.evaluate.streamed import StreamedDataset
from pytest_mlgate.gates import MlGate


@pytest.fixture(scope="module")
def multiclass(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_multiclass_project(tmp_path_factory.mktemp("multiclass"))


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_project(tmp_path_factory.mktemp("binary"))


def test_every_multiclass_gate_gives_the_same_checks_streamed(multiclass: Path) -> None:
    expected = run_multiclass_gates(workspace(multiclass, target="tier"))
    ws = workspace(multiclass, target="tier", memory_budget=TINY_BUDGET)
    got = run_multiclass_gates(ws)
    assert any(c.failed for c in expected) and any(not c.failed for c in expected)
    auc = [c for c in got if c.metric == "roc_auc"]
    assert {c.details.get("ci_method") for c in auc if c.ci} == {"Poisson bootstrap"}
    assert all(0 < c.details["error_bound"] < 1e-3 for c in auc if c.kind == "performance")
    assert_same_checks(expected, got)  # values within the bound, identical intervals, same outcomes
    assert isinstance(ws.dataset("holdout"), StreamedDataset)


def _scores(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1, (n, 3))
    y = TIERS[np.argmax(logits + rng.gumbel(0, 1.5, (n, 3)), axis=1)]
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y, proba


def test_folded_multiclass_auc_is_sklearns_on_the_binned_scores() -> None:
    y, proba = _scores(20_000, 0)
    hists = ClassHistograms.of(y[:7000], proba[:7000], TIERS).merge(ClassHistograms.of(y[7000:], proba[7000:], TIERS))
    assert np.array_equal(hists.counts, ClassHistograms.of(y, proba, TIERS).counts)
    bins = class_bins(3)
    assert bins == 4096 and hists.counts.shape == (3, 2, bins)
    binned = ScoreHistogram.bin_of(proba, bins)
    model = type("Model", (), {"role": "candidate"})()
    data = type("Data", (), {"name": "holdout"})()
    group = Group(rows=len(y), class_scores={"candidate": hists})
    folded = readouts.metric_value(resolve("roc_auc"), group, Statistics(), model, data)
    on_bins = np.mean([skm.roc_auc_score(y == c, binned[:, k]) for k, c in enumerate(TIERS)])
    assert folded == pytest.approx(on_bins, rel=1e-14, abs=0)
    # the stated bound: the mean of the classes' bounds, and the exact macro AUC is within it
    bound = readouts.auc_bound(group, "candidate")
    per_class = [ScoreHistogram(hists.counts[k]).auc_bound() for k in range(3)]
    assert bound == pytest.approx(np.mean(per_class)) and 0 < bound < 1e-3
    assert abs(folded - skm.roc_auc_score(y, proba, multi_class="ovr", labels=TIERS)) <= bound
    # a target outside the model's classes fails closed, as scikit-learn does on the rows
    model.classes = TIERS
    unknown = ClassHistograms.of(np.where(np.arange(len(y)) == 5, "top", y), proba, TIERS)
    with pytest.raises(MlgateError, match=r"roc_auc on model 'candidate', dataset 'holdout': 1 rows have a target "
                                          r"that is not one of the model's classes \['high', 'low', 'mid'\]"):
        readouts.metric_value(resolve("roc_auc"), Group(class_scores={"candidate": unknown}), Statistics(), model, data)


def test_class_bins_keep_a_models_histograms_the_size_of_a_binary_ones() -> None:
    assert [class_bins(k) for k in (3, 4, 5, 8, 9, 64, 200)] == [4096, 4096, 2048, 2048, 1024, 256, 256]
    for k in (3, 4, 8, 64):
        assert k * class_bins(k) <= 1 << 14
    # the Poisson replicates' bins per class: 1,024 over the class count rounded up to a power of two, at least 64
    assert [class_bins(k, 1024, 64) for k in (3, 4, 5, 16, 17, 100)] == [256, 256, 128, 64, 64, 64]


def test_streamed_multiclass_auc_is_within_its_bound_of_sklearn_on_rows(multiclass: Path) -> None:
    rows = workspace(multiclass, target="tier").dataset("holdout").frame
    ws = workspace(multiclass, target="tier", memory_budget=TINY_BUDGET)
    model, data = ws.model("candidate"), ws.dataset("holdout")
    proba = model.model.predict_proba(rows[model.model.feature_names_in_])
    exact = skm.roc_auc_score(rows["tier"], proba, multi_class="ovr", labels=model.classes)
    bound = data.error_bound(model, resolve("roc_auc"))
    assert 0 < bound < 1e-3
    assert abs(model.metric("roc_auc", data) - exact) <= bound
    assert data.sampled is None  # folded, not sampled


def test_a_metric_with_no_streamed_statistic_for_a_multiclass_model_fails_closed(multiclass: Path) -> None:
    ws = workspace(multiclass, target="tier", memory_budget=TINY_BUDGET)
    with pytest.raises(MlgateError, match="metric 'average_precision' on dataset 'holdout': not available from streamed"):
        ws.model("candidate").metric("average_precision", ws.dataset("holdout"))


def _predicted_positive(y: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(labels == 1))


def test_a_custom_metric_on_a_streamed_dataset_states_its_sample(project: Path) -> None:
    ws = workspace(project, memory_budget=TINY_BUDGET, sample_rows=500)
    gate = MlGate("g", ws)
    data = ws.dataset("holdout")
    (check,) = gate.at_most(_predicted_positive, 0.9)
    sample = data.frame
    model = ws.model("candidate").model
    assert len(sample) == 500
    assert check.candidate == pytest.approx(np.mean(model.predict(sample[model.feature_names_in_]) == 1), abs=0)
    whole = workspace(project).dataset("holdout").frame
    assert check.candidate != np.mean(model.predict(whole[model.feature_names_in_]) == 1)  # a sample, not the whole
    assert check.details["sampled_rows"] == 500 and check.details["rows_total"] == 12_000
    assert "uniform sample of 500 of 12000 rows" in check.message
    assert check.threshold == "<= 0.9 [sample 500 of 12000]"
    regression = gate.no_regression(_predicted_positive, max_absolute_drop=0.5, by="sex")
    assert [c.details["sampled_rows"] for c in regression] == [500, 500]
    assert {c.details["ci_method"] for c in regression} == {"row bootstrap"}
    assert all(c.threshold.endswith("[sample 500 of 12000]") and c.message.count("uniform sample") == 1
               for c in regression)


def test_a_custom_metric_on_data_smaller_than_the_sample_is_the_in_memory_value(project: Path) -> None:
    checks = []
    for budget in (None, TINY_BUDGET):
        ws = workspace(project, **({"memory_budget": budget} if budget else {}))
        gate = MlGate("g", ws)
        checks.append(gate.at_most(_predicted_positive, 0.9, by="region")
                      + gate.no_regression(_predicted_positive, max_absolute_drop=0.01, where="age > 0"))
    assert isinstance(ws.dataset("holdout"), StreamedDataset)
    for want, have in zip(*checks):
        assert (have.name, have.outcome, have.candidate, have.baseline, have.ci) == \
            (want.name, want.outcome, want.candidate, want.baseline, want.ci)
        assert have.details["sampled_rows"] == 12_000 and "sampled_rows" not in want.details


def test_a_slice_missing_from_the_sample_fails_closed(project: Path) -> None:
    ws = workspace(project, memory_budget=TINY_BUDGET, sample_rows=40)
    gate = MlGate("g", ws)
    with pytest.raises(MlgateError, match="no rows of the slice in its uniform sample of 40 of 12000 rows"):
        gate.at_most(_predicted_positive, 0.9, where="income > 2.5", min_size=1)


GATES = """
import numpy as np
import pytest

def tier_spread(y, labels):
    return float(np.isin(labels, ["high", "low"]).mean())

def test_auc(candidate, holdout):
    assert candidate.metric("roc_auc", holdout) >= 0.78

def test_no_regression(mlgate):
    mlgate.no_regression("roc_auc", max_absolute_drop=0.01, by="sex", criterion="non_inferiority")

def test_spread(mlgate):
    mlgate.at_most(tier_spread, 0.9)

@pytest.mark.gate(severity="review")
def test_auc_by_region(mlgate):
    mlgate.at_least("roc_auc", 0.8, by="region")
"""


@pytest.mark.parametrize("budget", [None, TINY_BUDGET])
def test_a_streamed_multiclass_gate_file_decides_the_same(pytester: pytest.Pytester, multiclass: Path,
                                                          budget: str | None) -> None:
    copy_project(multiclass, pytester.path)
    extra = f'memory_budget = "{budget}"\n' if budget else ""
    pytester.makefile(".toml", pyproject=(
        '[tool.mlgate]\ncandidate = "candidate.skops"\nbaseline = "baseline.skops"\ntarget = "tier"\n'
        f'sample_rows = 1000\nmarkdown = "reports/summary.md"\n{extra}[tool.mlgate.datasets]\nholdout = "holdout"\n'))
    pytester.makepyfile(test_gates=GATES)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, failed=1)  # two regions' macro AUC is below 0.8: a review gate
    assert result.ret == 6
    record = json.loads((pytester.path / "reports" / "mlgate-decision.json").read_text())
    assert record["decision"] == "needs-review"
    checks = {c["name"]: c for g in record["gates"] for c in g["checks"]}
    spread = checks["tier_spread[holdout]"]
    if budget is None:
        assert "sampled_rows" not in spread["details"]
    else:
        assert spread["details"]["sampled_rows"] == 1000 and spread["threshold"] == "<= 0.9 [sample 1000 of 6000]"
        result.stdout.fnmatch_lines(["*tier_spread[[]holdout[]]*<= 0.9 [[]sample 1000 of 6000[]]*passed*"])
        markdown = (pytester.path / "reports" / "summary.md").read_text()
        (row,) = [line for line in markdown.splitlines() if "| tier_spread[holdout] |" in line]
        assert "&lt;= 0.9 [sample 1000 of 6000] |" in row
        assert {c["details"]["ci_method"] for n, c in checks.items() if n.startswith("roc_auc[holdout, sex=")} \
            == {"Poisson bootstrap"}
