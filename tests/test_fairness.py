"""Fairness gates: per-group metrics on MetricFrame, parity rules, small groups, intervals, end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pytest_mlgate.checks import fairness as F
from pytest_mlgate.checks import fairness_groups as G
from pytest_mlgate.decision import FAILED, NOT_APPLICABLE, PASSED, TOO_SMALL
from pytest_mlgate.errors import MlgateError
from pytest_mlgate.evaluate.models import Dataset, ModelUnderTest


class ColumnModel:
    """Predicts the labels stored in column ``p`` (and scores in ``s`` when present)."""

    classes_ = np.array([0, 1])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return X["p"].to_numpy()


def dataset(groups: list[str], y: list[int], p: list[int], **extra) -> Dataset:
    return Dataset("holdout", pd.DataFrame({"grp": groups, "y": y, "p": p, **extra}), target="y")


def model() -> ModelUnderTest:
    return ModelUnderTest("candidate", ColumnModel())


def by_name(checks, prefix):
    return [c for c in checks if c.name.startswith(prefix)]


# ---------------------------------------------------------------- four-fifths rule, by hand


def four_fifths_data(selected_b: int) -> Dataset:
    # group a: 10 rows, 5 selected (rate 0.5); group b: 10 rows, ``selected_b`` selected.
    p = [1] * 5 + [0] * 5 + [1] * selected_b + [0] * (10 - selected_b)
    return dataset(["a"] * 10 + ["b"] * 10, [1, 0] * 10, p)


def test_four_fifths_rule_matches_hand_computation():
    checks = F.fairness(four_fifths_data(3), model(), "grp", "selection_rate", F.Criteria(min_ratio=0.8),
                        min_size=5, n_boot=200)
    (check,) = by_name(checks, "selection_rate ratio")
    assert check.outcome == FAILED
    assert check.candidate == pytest.approx(0.3 / 0.5)  # 0.6 < 0.8: adverse impact
    assert "0.6 is below 0.8" in check.message
    assert "lowest grp=b 0.3" in check.message and "highest grp=a 0.5" in check.message
    rows = {r["group"]: r for r in check.details["table"]}
    assert rows["grp=a"]["selection_rate"] == 0.5 and rows["grp=b"]["selection_rate"] == 0.3
    assert rows["grp=a"]["rows"] == 10

    (passing,) = by_name(F.fairness(four_fifths_data(4), model(), "grp", "selection_rate",
                                    F.Criteria(min_ratio=0.8), min_size=5, n_boot=200), "selection_rate ratio")
    assert passing.outcome == PASSED and passing.candidate == pytest.approx(0.8)  # exactly four fifths


def test_difference_and_group_bounds():
    checks = F.fairness(four_fifths_data(3), model(), "grp", "selection_rate",
                        F.Criteria(max_difference=0.1, min_value=0.4), min_size=5, n_boot=100)
    (diff,) = by_name(checks, "selection_rate difference")
    assert diff.outcome == FAILED and diff.candidate == pytest.approx(0.2)
    bounds = {c.name: c for c in checks if c.details.get("measure") == "group_bound"}
    assert bounds["selection_rate[grp=a]"].outcome == PASSED
    assert bounds["selection_rate[grp=b]"].outcome == FAILED
    assert "0.3 violates >= 0.4" in bounds["selection_rate[grp=b]"].message


# ---------------------------------------------------------------- equalized odds, equal opportunity


def test_equalized_odds_and_equal_opportunity_by_hand():
    # group a: TPR 4/5, FPR 1/5; group b: TPR 2/5, FPR 2/5 -> EO difference max(0.4, 0.2) = 0.4.
    y = [1] * 5 + [0] * 5 + [1] * 5 + [0] * 5
    p = [1, 1, 1, 1, 0, 1, 0, 0, 0, 0] + [1, 1, 0, 0, 0, 1, 1, 0, 0, 0]
    data = dataset(["a"] * 10 + ["b"] * 10, y, p)
    checks = F.fairness(data, model(), "grp", "selection_rate",
                        F.Criteria(max_equalized_odds=0.3, max_equal_opportunity=0.5), min_size=5, n_boot=100)
    (eo,) = by_name(checks, "equalized odds")
    (eop,) = by_name(checks, "equal opportunity")
    assert eo.outcome == FAILED and eo.candidate == pytest.approx(0.4)
    assert eop.outcome == PASSED and eop.candidate == pytest.approx(0.4)
    table = {r["group"]: r for r in eo.details["table"]}
    assert table["grp=a"]["true_positive_rate"] == pytest.approx(0.8)
    assert table["grp=b"]["false_positive_rate"] == pytest.approx(0.4)


def test_group_without_positives_is_not_testable_row():
    y = [1, 0] * 10 + [0] * 10  # group c has no positives: its TPR is undefined, not 0
    p = [1, 0] * 10 + [1, 0] * 5
    data = dataset(["a"] * 10 + ["b"] * 10 + ["c"] * 10, y, p)
    checks = F.fairness(data, model(), "grp", "tpr", F.Criteria(max_equal_opportunity=0.1), min_size=5, n_boot=50)
    (row,) = [c for c in checks if c.outcome == NOT_APPLICABLE]
    assert row.name == "true_positive_rate[grp=c]" and "no positives" in row.message
    (eop,) = by_name(checks, "equal opportunity")
    assert eop.outcome == PASSED and eop.details["groups_judged"] == 2
    status = {r["group"]: r["status"] for r in eop.details["table"]}
    assert status["grp=c"] == "not testable: no positives"


# ---------------------------------------------------------------- small groups, intersections


def test_small_groups_are_reported_not_dropped():
    groups = ["a"] * 40 + ["b"] * 40 + ["c"] * 4
    p = [1, 0] * 20 + [1, 0, 0, 0] * 10 + [0] * 4  # c (4 rows, rate 0) would break the ratio if judged
    data = dataset(groups, [1, 0] * 42, p)
    checks = F.fairness(data, model(), "grp", "selection_rate", F.Criteria(min_ratio=0.4), min_size=30, n_boot=50)
    small = [c for c in checks if c.outcome == TOO_SMALL]
    assert [c.name for c in small] == ["selection_rate[grp=c]"]
    assert "4 rows < 30, too small to judge" in small[0].message
    (ratio,) = by_name(checks, "selection_rate ratio")
    assert ratio.outcome == PASSED and ratio.candidate == pytest.approx(0.25 / 0.5)
    assert {r["group"]: r["status"] for r in ratio.details["table"]}["grp=c"] == "too_small"


def test_only_one_judgeable_group_is_not_applicable():
    data = dataset(["a"] * 40 + ["b"] * 3, [1, 0] * 21 + [1], [1] * 43)
    checks = F.fairness(data, model(), "grp", "selection_rate", F.Criteria(min_ratio=0.8), min_size=30, n_boot=20)
    (ratio,) = by_name(checks, "selection_rate ratio")
    assert ratio.outcome == NOT_APPLICABLE and "fewer than 2 groups" in ratio.message


def test_intersectional_groups_are_labelled_by_every_column():
    rng = np.random.default_rng(3)
    n = 400
    frame = pd.DataFrame({"sex": rng.choice(["f", "m"], n), "band": rng.choice(["old", "young"], n),
                          "y": rng.integers(0, 2, n)})
    frame["p"] = ((frame.sex == "m") | (frame.band == "young")).astype(int)  # only f & old never selected
    checks = F.fairness(Dataset("holdout", frame, "y"), model(), ["sex", "band"], "selection_rate",
                        F.Criteria(min_ratio=0.8), min_size=30, n_boot=50)
    (ratio,) = by_name(checks, "selection_rate ratio[sex&band]")
    assert ratio.outcome == FAILED and ratio.candidate == 0.0
    assert "lowest sex=f, band=old 0" in ratio.message
    assert [r["group"] for r in ratio.details["table"]] == [
        "sex=f, band=old", "sex=f, band=young", "sex=m, band=old", "sex=m, band=young"]
    # Each column alone looks far less unequal than the intersection.
    (by_sex,) = by_name(F.fairness(Dataset("holdout", frame, "y"), model(), "sex", "selection_rate",
                                   F.Criteria(min_ratio=0.4), min_size=30, n_boot=50), "selection_rate ratio")
    assert by_sex.outcome == PASSED


# ---------------------------------------------------------------- intervals


def test_cell_bootstrap_matches_metricframe_and_a_row_bootstrap():
    rng = np.random.default_rng(0)
    n = 3000
    grp = rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])
    y = rng.integers(0, 2, n)
    p = (rng.random(n) < np.where(grp == "a", 0.6, 0.4)).astype(int)
    data = dataset(list(grp), list(y), list(p))
    ev = F.measure_groups(data, [model()], "grp", ["selection_rate", "tpr"], n_boot=2000, seed=1)
    rates = ev.metrics[0]["selection_rate"]
    for g, name in enumerate("abc"):
        assert rates.values[g] == pytest.approx(p[grp == name].mean())  # MetricFrame point values
    # The cell bootstrap is the row bootstrap in distribution: compare the standard errors.
    row_draws = np.empty(2000)
    for b in range(2000):
        idx = rng.integers(0, n, n)
        row_draws[b] = p[idx][grp[idx] == "c"].mean()
    assert np.std(rates.draws[:, 2]) == pytest.approx(np.std(row_draws), rel=0.1)
    assert np.mean(rates.draws[:, 2]) == pytest.approx(rates.values[2], abs=0.005)


def test_weighted_cell_metricframe_equals_the_row_metricframe():
    from fairlearn.metrics import MetricFrame

    rng = np.random.default_rng(5)
    n = 1000
    frame = pd.DataFrame({"sex": rng.choice(["f", "m"], n), "band": rng.choice(["a", "b", "c"], n),
                          "y": rng.integers(0, 2, n)})
    frame["p"] = (rng.random(n) < np.where(frame.band == "a", 0.7, 0.3)).astype(int)
    names = list(G.COUNTS)
    grp = G.groups(Dataset("holdout", frame, "y"), ["sex", "band"])
    own = np.bincount(grp.codes * 4 + frame.y.to_numpy() * 2 + frame.p.to_numpy(),
                      minlength=len(grp.labels) * 4).reshape(-1, 2, 2)
    cells = G.cell_frame(own, grp, names).by_group
    rows = MetricFrame(metrics={n: G._frame_metric(n) for n in names}, y_true=frame.y.to_numpy(),
                       y_pred=frame.p.to_numpy(), sensitive_features=frame[["sex", "band"]]).by_group
    pd.testing.assert_frame_equal(cells.loc[grp.keys], rows.loc[grp.keys], check_dtype=False)


def test_interval_of_the_ratio_brackets_the_estimate():
    checks = F.fairness(four_fifths_data(3), model(), "grp", "selection_rate", F.Criteria(min_ratio=0.8),
                        min_size=5, n_boot=500, confidence=0.9)
    (ratio,) = by_name(checks, "selection_rate ratio")
    low, high = ratio.ci
    assert low < 0.6 < high and high - low > 0.1  # 20 rows: a wide interval
    assert "90% CI" in ratio.message


def test_score_metric_per_group_uses_row_bootstrap():
    rng = np.random.default_rng(2)
    n = 600
    grp = rng.choice(["a", "b"], n)
    y = rng.integers(0, 2, n)
    # informative scores in group a, noise in group b
    s = np.where(grp == "a", 0.5 * y + 0.5 * rng.random(n), rng.random(n))

    class Scored(ColumnModel):
        def predict_proba(self, X):
            return np.c_[1 - X["s"], X["s"]]

    data = dataset(list(grp), list(y), list((s > 0.5).astype(int)), s=s)
    checks = F.fairness(data, ModelUnderTest("candidate", Scored()), "grp", "roc_auc",
                        F.Criteria(max_difference=0.1), min_size=30, n_boot=100)
    (diff,) = by_name(checks, "roc_auc difference")
    assert diff.outcome == FAILED and diff.candidate > 0.3
    assert diff.ci[0] > 0.1


# ---------------------------------------------------------------- bad input


def test_missing_sensitive_column_is_one_line_error():
    with pytest.raises(MlgateError, match="dataset 'holdout': column 'gender' not found"):
        F.fairness(four_fifths_data(3), model(), "gender", "selection_rate", F.Criteria(min_ratio=0.8))


def test_score_metric_without_predict_proba_is_one_line_error():
    with pytest.raises(MlgateError, match="has no predict_proba"):
        F.fairness(four_fifths_data(3), model(), "grp", "roc_auc", F.Criteria(max_difference=0.1), min_size=5)


def test_unknown_measure_is_an_error():
    data = four_fifths_data(3)
    with pytest.raises(MlgateError, match="measure must be one of"):
        F.fairness_regression(data, model(), model(), "grp", "selection_rate", "parity", 0.1)


# ---------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def fair_artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A holdout with a sensitive attribute, a fair model and one trained on labels with a planted bias."""
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    root = tmp_path_factory.mktemp("fair")

    def frame(n: int, seed: int) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        data = pd.DataFrame({"income": rng.normal(0, 1, n), "debt": rng.normal(0, 1, n),
                             "sex": rng.choice(["f", "m"], n), "band": rng.choice(["a", "b", "c"], n,
                                                                                  p=[0.49, 0.49, 0.02])})
        data["sex_m"] = (data["sex"] == "m").astype(float)
        logit = 1.5 * data["income"] - 1.0 * data["debt"]
        data["defaulted"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
        return data

    train, holdout = frame(4000, 11), frame(2000, 12)
    holdout.to_csv(root / "fair.csv", index=False)
    sio.dump(LogisticRegression().fit(train[["income", "debt"]], train["defaulted"]), root / "fair.skops")
    # planted bias: in training, men were labelled as defaulting far more often
    rng = np.random.default_rng(13)
    biased = train["defaulted"].where(train["sex"] == "f", (rng.random(len(train)) < 0.8).astype(int))
    sio.dump(LogisticRegression().fit(train[["income", "debt", "sex_m"]], biased), root / "biased.skops")
    return root


@pytest.fixture
def fair_project(project, fair_artifacts):
    import shutil

    for name in ("fair.csv", "fair.skops", "biased.skops"):
        shutil.copy(fair_artifacts / name, project.path / name)
    return project


def test_planted_bias_is_caught_with_groups_and_numbers(fair_project):
    fair_project.configure(candidate="biased.skops", baseline="fair.skops", datasets='holdout = "fair.csv"')
    fair_project.gates("""
def test_four_fifths(mlgate):
    mlgate.fairness(min_ratio=0.8)

def test_no_fairness_regression(mlgate):
    mlgate.fairness_no_regression(margin=0.05)
""")
    result = fair_project.run()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*selection_rate ratio[[]sex[]] 0.* is below 0.8*lowest sex=f *highest sex=m *"])
    decision = fair_project.decision
    assert decision["decision"] == "rejected"
    checks = {c["name"]: c for g in decision["gates"] for c in g["checks"]}
    ratio = checks["selection_rate ratio[holdout, sex]"]
    assert ratio["outcome"] == "failed" and ratio["kind"] == "fairness" and ratio["candidate"] < 0.6
    rates = {r["group"]: r["selection_rate"] for r in ratio["details"]["table"]}
    assert rates["sex=m"] > 0.9 and rates["sex=f"] < 0.6
    assert ratio["candidate"] == pytest.approx(rates["sex=f"] / rates["sex=m"])
    assert ratio["ci"][0] <= ratio["candidate"] <= ratio["ci"][1]
    regression = checks["selection_rate ratio vs baseline[holdout, sex]"]
    assert regression["outcome"] == "failed" and regression["baseline"] > 0.85
    assert regression["delta"] == pytest.approx(regression["candidate"] - regression["baseline"])


def test_fair_model_passes_and_small_groups_show_in_the_report(fair_project):
    fair_project.configure(candidate="fair.skops", baseline=None, datasets='holdout = "fair.csv"')
    fair_project.gates("""
def test_parity(mlgate):
    mlgate.fairness(min_ratio=0.8, max_equalized_odds=0.1)

def test_intersectional(mlgate):
    mlgate.fairness(["sex", "band"], min_ratio=0.75)

def test_no_fairness_regression(mlgate):
    mlgate.fairness_no_regression()
""")
    result = fair_project.run()
    result.assert_outcomes(passed=3)
    decision = fair_project.decision
    assert decision["decision"] == "approved"
    outcomes = {c["name"]: c["outcome"] for g in decision["gates"] for c in g["checks"]}
    assert outcomes["selection_rate ratio[holdout, sex]"] == "passed"
    assert outcomes["equalized odds difference[holdout, sex]"] == "passed"
    # band=c is 2% of 2000 rows, split by sex: each cell is below 30 rows and shown as too small
    assert outcomes["selection_rate[holdout, sex=f, band=c]"] == "too_small"
    assert outcomes["selection_rate[holdout, sex=m, band=c]"] == "too_small"
    assert outcomes["selection_rate ratio vs baseline[holdout, sex]"] == "not_applicable"


def test_review_severity_makes_a_biased_push_need_review(fair_project):
    fair_project.configure(candidate="biased.skops", baseline=None, datasets='holdout = "fair.csv"')
    fair_project.gates("""
import pytest

@pytest.mark.gate(severity="review")
def test_parity(mlgate):
    mlgate.fairness("sex")
""")
    result = fair_project.run()
    assert fair_project.decision["decision"] == "needs-review"
    assert result.ret == 6


def test_missing_sensitive_column_rejects_with_one_line(fair_project):
    fair_project.configure(candidate="fair.skops", baseline=None, datasets='holdout = "fair.csv"')
    fair_project.gates("""
def test_parity(mlgate):
    mlgate.fairness("ethnicity")
""")
    result = fair_project.run()
    result.stdout.fnmatch_lines(["*column 'ethnicity' not found*"])
    assert fair_project.decision["decision"] == "rejected"


def test_two_workers_give_the_serial_fairness_decision(fair_project):
    fair_project.configure(candidate="biased.skops", baseline="fair.skops", datasets='holdout = "fair.csv"')
    fair_project.gates("""
def test_parity(mlgate):
    mlgate.fairness(["sex", "band"], min_ratio=0.8)

def test_odds(mlgate):
    mlgate.fairness(max_equalized_odds=0.1)
""")
    serial = fair_project.run_subprocess("-p", "no:xdist")
    checks = {c["name"]: c for g in fair_project.decision["gates"] for c in g["checks"]}
    parallel = fair_project.run_subprocess("-n", "2")
    assert parallel.ret == serial.ret == 1
    assert {c["name"]: c for g in fair_project.decision["gates"] for c in g["checks"]} == checks
    assert checks["selection_rate[holdout, sex=f, band=c]"]["outcome"] == "too_small"


def test_the_html_report_draws_the_equalized_odds_limit_on_both_rates():
    """Equalized odds is the larger spread of two rates: each rate gets a chart with the limit line."""
    import lxml.html

    from pytest_mlgate.decision import GateResult
    from pytest_mlgate.reports import html

    y = [1, 0] * 40
    p = [1, 0] * 20 + [1, 1, 0, 0] * 10  # group a predicts perfectly; group b misses half of each class
    checks = F.fairness(dataset(["a"] * 40 + ["b"] * 40, y, p), model(), "grp", "accuracy",
                        F.Criteria(max_equalized_odds=0.2), min_size=5, n_boot=50)
    odds = by_name(checks, "equalized odds")[0]
    assert odds.outcome == FAILED and odds.candidate == pytest.approx(0.5)
    record = {"decision": "rejected", "reasons": [], "counts": {"failed": 1}, "model": "m", "gates": [
        GateResult("test_g.py::test_odds", "failed", checks=checks, message=odds.message).to_dict()]}
    section = lxml.html.fromstring(html.render(record)).get_element_by_id("fairness")
    titles = [t.text for t in section.xpath(".//svg/title")]
    assert titles == ["equalized odds difference[grp]: true_positive_rate by group",
                      "equalized odds difference[grp]: false_positive_rate by group"]
    for svg in section.xpath(".//svg"):
        (line,) = svg.xpath(".//line[@class='threshold']")
        assert line.findtext("title") == "difference 0.2 from the highest group"
        bars = {float(r.get("x")) + float(r.get("width")) for r in svg.xpath(".//rect[contains(@class, 'bar')]")}
        assert min(bars) < float(line.get("x1")) < max(bars)  # between the two groups' rates (0.5 and 1 or 0)
    alone = F.fairness(dataset(["a"] * 40 + ["b"] * 40, y, p), model(), "grp", "accuracy",
                       F.Criteria(max_equal_opportunity=0.2), min_size=5, n_boot=50)
    record["gates"] = [GateResult("test_g.py::test_opportunity", "failed", checks=alone).to_dict()]
    section = lxml.html.fromstring(html.render(record)).get_element_by_id("fairness")
    assert [t.text for t in section.xpath(".//svg/title")] == [
        "equal opportunity difference[grp]: true_positive_rate by group"]
    assert len(section.xpath(".//svg//line[@class='threshold']")) == 1
