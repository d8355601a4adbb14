"""Drift gates with the built-in scipy backend: pure functions, bad input, and end to end."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
from drift_scenarios import (
    FEATURES,
    false_positive_rate,
    frame,
    million_rows_negligible_shift,
    tolerance,
)
from scipy import stats

from pytest_mlgate.checks.drift import (
    concept_drift,
    data_drift,
    label_drift,
    prediction_drift,
)
from pytest_mlgate.checks.drift_stats import (
    DriftOptions,
    adjust,
    ks_test,
    numeric_effects,
    psi,
)
from pytest_mlgate.config import build
from pytest_mlgate.errors import ConfigError, MlgateError
from pytest_mlgate.evaluate.models import Dataset, ModelUnderTest


def table_by_feature(check) -> dict[str, dict]:
    return {row["feature"]: row for row in check.details["table"]}


# ---------------------------------------------------------------- done-when scenarios


def test_same_distribution_passes_with_every_feature_tested():
    checks = data_drift(frame(5000, 1), frame(5000, 2))
    assert [c.outcome for c in checks] == ["passed"]
    rows = table_by_feature(checks[0])
    assert set(rows) == set(FEATURES)
    assert {r["test"] for r in rows.values()} == {"ks", "chi2"}
    assert all(r["outcome"] == "stable" for r in rows.values())


def test_false_positive_rate_stays_within_nominal_level():
    draws = 120
    significant, drifted = false_positive_rate(DriftOptions(correction="none"), draws, 300)
    assert abs(significant - 0.05) <= tolerance(0.05, draws * len(FEATURES)), significant  # per-feature tests
    assert drifted <= significant  # the effect-size threshold only ever removes flags


def test_quarter_sd_shift_in_one_feature_of_5000_rows_is_caught_and_named():
    checks = data_drift(frame(5000, 1), frame(5000, 2, shift={"f2": 0.25}))
    summary = checks[0]
    assert summary.outcome == "failed"
    assert summary.details["drifted"] == ["f2"]
    assert summary.candidate == 1.0
    row = table_by_feature(summary)["f2"]
    assert row["significant"] and 0.2 < row["wasserstein"] < 0.3
    assert "1 of 5 feature(s) drifted" in summary.message
    assert f"f2 (ks {row['statistic']:.4g}, p={row['p_value']:.3g}" in summary.message
    assert f"wasserstein {row['wasserstein']:.3f} sd" in summary.message


def test_negligible_shift_at_a_million_rows_does_not_fail_the_default_gate():
    reference, current = million_rows_negligible_shift()
    summary = data_drift(reference, current)[0]
    row = summary.details["table"][0]
    assert summary.outcome == "passed"
    assert row["significant"] is True and row["wasserstein"] < 0.02  # significant but negligible


def test_new_category_is_caught_and_named():
    summary = data_drift(frame(5000, 1), frame(5000, 2, new_share=0.05))[0]
    assert summary.outcome == "failed" and summary.details["drifted"] == ["f4"]
    row = table_by_feature(summary)["f4"]
    assert row["new_categories"] == "unseen" and row["new_share"] == pytest.approx(0.05, abs=0.01)
    assert "new unseen (" in summary.message


def test_a_rare_new_category_fails_by_share_even_below_the_effect_threshold():
    summary = data_drift(frame(5000, 1), frame(5000, 2, new_share=0.015))[0]
    row = table_by_feature(summary)["f4"]
    assert row["psi"] < 0.1 and row["drifted"]
    assert data_drift(frame(5000, 1), frame(5000, 2, new_share=0.015),
                      options=DriftOptions(max_new_share=0.05))[0].outcome == "passed"


# ---------------------------------------------------------------- statistics


@pytest.mark.parametrize("n", [400, 20_000])
def test_ks_matches_scipy_exactly(n):
    rng = np.random.default_rng(n)
    ref, cur = np.sort(rng.normal(size=n)), np.sort(rng.normal(0.03, 1, size=n + 7))
    effects = numeric_effects(ref, cur, bins=10)
    expected = stats.ks_2samp(ref, cur)
    assert effects["ks"] == pytest.approx(expected.statistic, abs=1e-12)
    assert ks_test(ref, cur, effects["ks"]) == pytest.approx(expected.pvalue, rel=1e-9)
    assert effects["wasserstein"] == pytest.approx(stats.wasserstein_distance(ref, cur) / ref.std(), rel=1e-9)


def test_ks_handles_ties_like_scipy():
    rng = np.random.default_rng(3)
    ref, cur = np.sort(rng.integers(0, 5, 500).astype(float)), np.sort(rng.integers(0, 6, 600).astype(float))
    effects = numeric_effects(ref, cur, bins=10)
    assert effects["ks"] == pytest.approx(stats.ks_2samp(ref, cur).statistic)
    assert effects["wasserstein"] == pytest.approx(stats.wasserstein_distance(ref, cur) / ref.std(), rel=1e-9)


def test_psi_by_hand():
    ref, cur = np.array([50, 30, 20]), np.array([40, 30, 30])
    expected = (0.4 - 0.5) * np.log(0.4 / 0.5) + (0.3 - 0.2) * np.log(0.3 / 0.2)
    assert psi(ref, cur) == pytest.approx(expected)
    assert psi(np.array([10, 0]), np.array([5, 5])) == pytest.approx(
        (0.5 - 1) * np.log(0.5) + (0.5 - 1e-4) * np.log(0.5 / 1e-4))


def test_corrections():
    p = [0.01, 0.02, 0.03, 0.5]
    assert list(adjust(p, "bonferroni")) == pytest.approx([0.04, 0.08, 0.12, 1.0])
    assert list(adjust(p, "fdr")) == pytest.approx(list(stats.false_discovery_control(p)))
    assert list(adjust(p, "none")) == p


def test_fdr_flags_more_than_bonferroni_when_several_features_move():
    current = frame(2000, 2, shift={"f0": 0.06, "f1": 0.06, "f2": 0.06})  # p: f1 0.0199, f2 0.0027
    options = {"min_effect": 0.0}
    bonferroni = data_drift(frame(2000, 1), current, options=DriftOptions(**options))[0]
    fdr = data_drift(frame(2000, 1), current, options=DriftOptions(correction="fdr", **options))[0]
    assert bonferroni.details["drifted"] == ["f2"]  # 0.0199 > 0.05 / 5
    assert fdr.details["drifted"] == ["f1", "f2"]  # 0.0199 <= 2 * 0.05 / 5


def test_cramer_von_mises_by_name():
    summary = data_drift(frame(3000, 1), frame(3000, 2, shift={"f1": 0.3}), options=DriftOptions(method="cvm"))[0]
    row = table_by_feature(summary)["f1"]
    assert summary.details["drifted"] == ["f1"] and row["test"] == "cvm"
    assert row["statistic"] == pytest.approx(stats.cramervonmises_2samp(
        frame(3000, 1)["f1"], frame(3000, 2, shift={"f1": 0.3})["f1"]).statistic)


@pytest.mark.parametrize("effect, limit", [("ks", 0.05), ("psi", 0.1)])
def test_other_effect_sizes_gate_the_numeric_features(effect, limit):
    summary = data_drift(frame(5000, 1), frame(5000, 2, shift={"f2": 0.4}), options=DriftOptions(effect=effect))[0]
    row = table_by_feature(summary)["f2"]
    assert row["effect"] == effect and row["min_effect"] == limit and row["effect_value"] == row[effect]
    assert summary.details["drifted"] == ["f2"]


def test_missing_values_are_dropped_and_reported():
    reference, current = frame(2000, 1), frame(2000, 2)
    current.loc[:499, "f0"] = np.nan
    row = table_by_feature(data_drift(reference, current)[0])["f0"]
    assert row["null_current"] == 0.25 and row["outcome"] == "stable"


# ---------------------------------------------------------------- bad input


def test_feature_missing_in_current_is_a_one_line_error():
    with pytest.raises(MlgateError, match=r"feature\(s\) \['f3'\] missing from dataset 'current'"):
        data_drift(frame(100, 1), frame(100, 2).drop(columns="f3"))


def test_mismatched_dtypes_are_a_one_line_error():
    current = frame(100, 2)
    current["f1"] = current["f1"].astype(str)
    with pytest.raises(MlgateError, match="feature 'f1' is float64 in dataset 'reference' but .* in dataset 'current'"):
        data_drift(frame(100, 1), current)


def test_empty_dataset_is_an_error():
    with pytest.raises(MlgateError, match="dataset 'current' has no rows"):
        data_drift(frame(100, 1), frame(100, 2).iloc[:0])


def test_all_null_and_too_small_columns_become_visible_untestable_checks():
    reference, current = frame(500, 1), frame(500, 2)
    current["f0"] = np.nan
    current.loc[10:, "f1"] = np.nan
    checks = data_drift(reference, current)
    by_name = {c.name: c for c in checks}
    assert by_name["data_drift[f0]"].outcome == "not_applicable"
    assert "no non-null values in dataset 'current'" in by_name["data_drift[f0]"].message
    assert by_name["data_drift[f1]"].outcome == "too_small"
    assert "10 non-null rows in dataset 'current' < 30" in by_name["data_drift[f1]"].message
    rows = table_by_feature(checks[0])
    assert rows["f0"]["outcome"] == "not_applicable" and rows["f1"]["outcome"] == "too_small"
    assert checks[0].outcome == "passed" and checks[0].details["tested"] == 3


def test_timestamp_columns_are_listed_as_not_compared():
    reference, current = frame(200, 1), frame(200, 2)
    reference["seen"] = pd.date_range("2026-01-01", periods=200, freq="h")
    current["seen"] = pd.date_range("2026-11-01", periods=200, freq="h")
    checks = data_drift(reference, current)
    assert checks[0].outcome == "passed" and checks[0].details["tested"] == 5
    assert [(c.name, c.outcome) for c in checks[1:]] == [("data_drift[seen]", "not_applicable")]
    assert "timestamps are not compared" in checks[1].message


def test_nothing_testable_is_not_applicable_not_passed():
    checks = data_drift(frame(20, 1), frame(20, 2))
    assert checks[0].outcome == "not_applicable"
    assert all(c.outcome == "too_small" for c in checks[1:]) and len(checks) == 6


def test_alibi_method_without_the_extra_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "alibi_detect", None)
    monkeypatch.setitem(sys.modules, "alibi_detect.cd", None)
    with pytest.raises(MlgateError, match=r"method 'TabularDrift' needs alibi-detect: pip install pytest-mlgate\[drift\]"):
        data_drift(frame(100, 1), frame(100, 2), options=DriftOptions(method="TabularDrift"))


def test_unknown_method_is_an_error():
    with pytest.raises(MlgateError, match="unknown method 'KSDirft'"):
        data_drift(frame(100, 1), frame(100, 2), options=DriftOptions(method="KSDirft"))


def test_config_section_and_overrides(tmp_path):
    settings = build(tmp_path, {"drift": {"alpha": 0.01, "correction": "fdr", "categorical": ["code"]}})
    options = DriftOptions.from_settings(settings, min_effect=0.2)
    assert (options.alpha, options.correction, options.categorical, options.min_effect) == (0.01, "fdr", ("code",), 0.2)
    with pytest.raises(ConfigError, match=r"\[tool.mlgate.drift\] key 'correction' must be one of bonferroni, fdr, none"):
        DriftOptions.from_settings(build(tmp_path, {"drift": {"correction": "holm"}}))
    with pytest.raises(ConfigError, match=r"\[tool.mlgate.drift\] key 'alhpa' is unknown"):
        DriftOptions.from_settings(build(tmp_path, {"drift": {"alhpa": 0.01}}))
    with pytest.raises(MlgateError, match="argument 'alpha' must be a number in"):
        DriftOptions.from_settings(settings, alpha=2)
    with pytest.raises(MlgateError, match="unknown option 'treshold'"):
        DriftOptions.from_settings(settings, treshold=0.1)


# ---------------------------------------------------------------- predictions, labels, concept


@pytest.fixture(scope="module")
def fitted():
    from conftest import fit, make_frame

    return fit(make_frame(2000, seed=1), ["income", "debt", "age", "tenure"]), make_frame(2000, seed=2)


@pytest.fixture
def credit(fitted):
    """A fresh ModelUnderTest per test: its prediction cache is keyed by the datasets it has seen."""
    model, holdout = fitted
    return ModelUnderTest("candidate", model), holdout


def dataset(name: str, frame_: pd.DataFrame) -> Dataset:
    return Dataset(name, frame_, "defaulted")


def test_prediction_drift_compares_the_positive_class_scores(credit):
    model, holdout = credit
    shifted = holdout.assign(income=holdout["income"] + 1.0)
    same = prediction_drift(model, dataset("reference", holdout), dataset("current", holdout.sample(frac=1, random_state=0)))
    moved = prediction_drift(model, dataset("reference", holdout), dataset("current", shifted))
    assert same[0].outcome == "passed" and same[0].details["table"][0]["feature"] == "score"
    assert moved[0].outcome == "failed" and moved[0].name == "prediction_drift[candidate][reference->current]"
    assert "score (ks" in moved[0].message


def test_prediction_drift_on_fresh_batches_never_reuses_stale_predictions(credit):
    # a batch built per call (a DataFrame, a monitoring window) may get a freed batch's id
    model, holdout = credit
    reference = dataset("reference", holdout)
    outcomes = [prediction_drift(model, reference, dataset("current", holdout.assign(income=holdout["income"] + i % 2)))
                [0].outcome for i in range(30)]
    assert outcomes == ["passed", "failed"] * 15


def test_label_drift_treats_an_integer_target_as_categorical(credit):
    _, holdout = credit
    flipped = holdout.assign(defaulted=np.where(np.arange(len(holdout)) % 3 == 0, 1, holdout["defaulted"]))
    summary = label_drift(dataset("reference", holdout), dataset("current", flipped))[0]
    row = summary.details["table"][0]
    assert row["feature"] == "defaulted" and row["test"] == "chi2"
    assert summary.outcome == "failed"


def test_concept_drift_compares_the_metric_on_current_against_holdout(credit):
    model, holdout = credit
    noisy = holdout.assign(defaulted=np.where(np.arange(len(holdout)) % 4 == 0, 1 - holdout["defaulted"],
                                              holdout["defaulted"]))
    ok = concept_drift("roc_auc", model, dataset("holdout", holdout), dataset("current", holdout), max_drop=0.01)[0]
    assert ok.outcome == "passed" and ok.delta == 0.0
    bad = concept_drift("roc_auc", model, dataset("holdout", holdout), dataset("current", noisy), max_drop=0.05)[0]
    assert bad.outcome == "failed" and bad.candidate < bad.baseline - 0.05
    assert f"from {bad.baseline:.4g} on 'holdout' to {bad.candidate:.4g} on 'current'" in bad.message
    assert bad.ci[0] < bad.candidate < bad.ci[1]
    small = concept_drift("roc_auc", model, dataset("holdout", holdout), dataset("current", holdout.iloc[:10]),
                          max_drop=0.05)[0]
    assert small.outcome == "too_small"
    with pytest.raises(MlgateError, match="give max_drop and/or max_relative_drop"):
        concept_drift("roc_auc", model, dataset("holdout", holdout), dataset("current", holdout))


# ---------------------------------------------------------------- end to end


@pytest.fixture
def drift_project(project):
    from conftest import make_frame

    make_frame(2000, seed=5).to_parquet(project.path / "clean.parquet")
    make_frame(2000, seed=6).assign(income=lambda f: f["income"] + 0.5).to_parquet(project.path / "drifted.parquet")
    project.configure(datasets='holdout = "holdout.csv"\nreference = "train.parquet"\n'
                               'current = "drifted.parquet"\nclean = "clean.parquet"')
    return project


def test_drifted_batch_is_rejected_with_the_feature_named(drift_project):
    drift_project.gates("""
def test_no_feature_drift(mlgate):
    mlgate.no_drift("reference", "current")

def test_clean_batch(mlgate, reference, clean):
    mlgate.no_drift(reference, clean)
""")
    result = drift_project.run()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*data_drift?reference->current?: 1 of 6 feature(s) drifted*income (ks*"])
    decision = drift_project.decision
    assert decision["decision"] == "rejected"
    checks = {c["name"]: c for g in decision["gates"] for c in g["checks"]}
    drifted = checks["data_drift[reference->current]"]
    assert drifted["outcome"] == "failed" and drifted["details"]["drifted"] == ["income"]
    assert {r["feature"] for r in drifted["details"]["table"]} == {"income", "debt", "age", "tenure", "region", "sex"}
    assert checks["data_drift[reference->clean]"]["outcome"] == "passed"
    assert "income (ks" in drift_project.junit


def test_clean_batch_passes_every_drift_gate(drift_project):
    drift_project.configure(datasets='holdout = "holdout.csv"\nreference = "train.parquet"\ncurrent = "clean.parquet"',
                            extra='[tool.mlgate.drift]\ncorrection = "fdr"\n')
    drift_project.gates("""
def test_features(mlgate):
    mlgate.no_drift()

def test_predictions(mlgate):
    mlgate.no_prediction_drift()

def test_labels(mlgate):
    mlgate.no_label_drift()

def test_concept(mlgate):
    mlgate.no_concept_drift("roc_auc", max_drop=0.05)
""")
    result = drift_project.run()
    result.assert_outcomes(passed=4)
    decision = drift_project.decision
    assert decision["decision"] == "approved"
    kinds = {c["name"]: c for g in decision["gates"] for c in g["checks"]}
    assert kinds["data_drift[reference->current]"]["details"]["correction"] == "fdr"
    assert kinds["concept_drift[roc_auc, holdout->current]"]["baseline"] is not None


def test_bad_input_fails_closed_with_one_line(drift_project):
    drift_project.gates("""
def test_features(mlgate):
    mlgate.no_drift(features=["income", "salary"])
""")
    result = drift_project.run()
    result.assert_outcomes(failed=1)
    assert drift_project.decision["decision"] == "rejected"
    result.stdout.fnmatch_lines(["*error: drift: feature(s) ?'salary'? missing from dataset 'reference'"])


def test_concept_drift_rows_are_headed_with_the_datasets_they_compare(drift_project):
    """One model on two datasets is not candidate vs baseline: every report says current and reference,
    while a regression gate in the same run keeps its candidate and baseline headings."""
    drift_project.configure(datasets='holdout = "holdout.csv"\nreference = "train.parquet"\ncurrent = "clean.parquet"',
                            extra='markdown = "reports/summary.md"\nhtml = "reports/report.html"')
    drift_project.gates("""
def test_regression(mlgate):
    mlgate.no_regression("roc_auc", max_absolute_drop=0.05)

def test_concept(mlgate):
    mlgate.no_concept_drift("roc_auc", max_drop=0.05)
""")
    result = drift_project.run()
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["gate *check * candidate * baseline *delta*", "test_regression *",
                                 "gate *check * current * reference *delta*", "test_concept *concept_drift*"])
    markdown = (drift_project.path / "reports" / "summary.md").read_text()
    regression = markdown.index("| gate | check | candidate | baseline | delta | threshold | outcome |")
    concept = markdown.index("| gate | check | current | reference | delta | threshold | outcome |")
    assert regression < markdown.index("| test_regression |") < concept < markdown.index("| test_concept |")
    assert "| test_concept |" not in markdown[:concept] and "| test_regression |" not in markdown[concept:]
    html = (drift_project.path / "reports" / "report.html").read_text()
    assert "<h2>Candidate vs baseline</h2>" in html and "<h2>Current vs reference</h2>" in html
    comparison = html[html.index("<h2>Current vs reference</h2>"):]
    assert "■ current" in comparison and "■ reference" in comparison and "test_regression" not in \
        comparison[:comparison.index("</section>")]
    gate = html[html.index("test_gates.py::test_concept</p>"):]
    assert gate.index("<th>current</th><th>reference</th>") < gate.index("</table>")
    junit = drift_project.junit
    assert '<property name="concept_drift[roc_auc, holdout-&gt;current].current" value="' in junit
    assert '<property name="concept_drift[roc_auc, holdout-&gt;current].reference" value="' in junit
    assert '<property name="roc_auc[holdout].candidate" value="' in junit and "].baseline" in junit
    assert ".candidate" not in junit[junit.index("test_concept"):]
    assert drift_project.decision["gates"][1]["checks"][0]["details"]["compared"] == ["current", "reference"]
