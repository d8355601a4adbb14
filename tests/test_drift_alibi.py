"""Drift gates through the alibi-detect backend (the ``drift`` extra and its tox environment).

Skipped where alibi-detect is not installed, except under ``MLGATE_REQUIRE_ALIBI=1`` (set by the
``drift`` tox environment), where a missing alibi-detect fails the module instead.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

if os.environ.get("MLGATE_REQUIRE_ALIBI") == "1":
    import alibi_detect  # noqa: F401  (must be importable here: fail, do not skip)
else:
    pytest.importorskip("alibi_detect")

from alibi_detect.cd import KSDrift, TabularDrift  # noqa: E402
from alibi_detect.utils.frameworks import has_pytorch, has_tensorflow  # noqa: E402
from drift_scenarios import (  # noqa: E402
    FEATURES,
    false_positive_rate,
    frame,
    million_rows_negligible_shift,
    tolerance,
)

from pytest_mlgate.checks.drift import data_drift
from pytest_mlgate.checks.drift_stats import DriftOptions  # noqa: E402
from pytest_mlgate.errors import MlgateError  # noqa: E402


def table_by_feature(check) -> dict[str, dict]:
    return {row["feature"]: row for row in check.details["table"]}


TABULAR = DriftOptions(method="TabularDrift")


# ---------------------------------------------------------------- done-when scenarios


def test_same_distribution_passes():
    summary = data_drift(frame(5000, 1), frame(5000, 2), options=TABULAR)[0]
    assert summary.outcome == "passed"
    assert {r["test"] for r in summary.details["table"]} == {"TabularDrift"}
    assert summary.details["tested"] == len(FEATURES)


def test_false_positive_rate_stays_within_nominal_level():
    draws = 60
    significant, drifted = false_positive_rate(DriftOptions(method="TabularDrift", correction="none"), draws, 300)
    assert abs(significant - 0.05) <= tolerance(0.05, draws * len(FEATURES)), significant
    assert drifted <= significant


@pytest.mark.parametrize("method", ["TabularDrift", "KSDrift", "CVMDrift"])
def test_quarter_sd_shift_in_one_feature_of_5000_rows_is_caught_and_named(method):
    summary = data_drift(frame(5000, 1), frame(5000, 2, shift={"f2": 0.25}), options=DriftOptions(method=method))[0]
    assert summary.outcome == "failed" and summary.details["drifted"] == ["f2"]
    row = table_by_feature(summary)["f2"]
    assert row["test"] == method and row["p_value"] < 1e-6
    assert f"f2 ({method} {row['statistic']:.4g}" in summary.message


def test_negligible_shift_at_a_million_rows_does_not_fail_the_default_gate():
    reference, current = million_rows_negligible_shift()
    summary = data_drift(reference, current, options=TABULAR)[0]
    row = summary.details["table"][0]
    assert summary.outcome == "passed"
    assert row["significant"] is True and row["wasserstein"] < 0.02


@pytest.mark.parametrize("method", ["TabularDrift", "ChiSquareDrift"])
def test_new_category_is_caught(method):
    summary = data_drift(frame(5000, 1), frame(5000, 2, new_share=0.05), options=DriftOptions(method=method))[0]
    assert summary.outcome == "failed" and summary.details["drifted"] == ["f4"]
    row = table_by_feature(summary)["f4"]
    assert row["test"] == method and row["new_categories"] == "unseen"


# ---------------------------------------------------------------- the backend


def test_ks_p_values_agree_with_the_scipy_backend():
    reference, current = frame(3000, 1), frame(3000, 2, shift={"f0": 0.1})
    alibi = table_by_feature(data_drift(reference, current, options=DriftOptions(method="KSDrift"))[0])
    scipy = table_by_feature(data_drift(reference, current)[0])
    for name in FEATURES[:4]:
        assert alibi[name]["statistic"] == pytest.approx(scipy[name]["statistic"], abs=1e-6)
        assert alibi[name]["p_value"] == pytest.approx(scipy[name]["p_value"], rel=0.05, abs=1e-6)


def test_a_detector_leaves_features_it_cannot_test_visible():
    checks = data_drift(frame(2000, 1), frame(2000, 2), options=DriftOptions(method="KSDrift"))
    summary = checks[0]
    row = table_by_feature(summary)["f4"]
    assert row["outcome"] == "not_applicable" and "KSDrift does not test this categorical feature" in row["note"]
    assert summary.details["tested"] == 4 and len(summary.details["table"]) == 5
    assert [(c.name, c.outcome) for c in checks[1:]] == [("data_drift[f4]", "not_applicable")]


def test_fisher_exact_test_on_binary_features():
    rng = np.random.default_rng(0)
    reference = pd.DataFrame({"flag": rng.random(3000) < 0.3, "x": rng.normal(size=3000)})
    current = pd.DataFrame({"flag": rng.random(3000) < 0.5, "x": rng.normal(size=3000)})
    summary = data_drift(reference, current, options=DriftOptions(method="FETDrift"))[0]
    rows = table_by_feature(summary)
    assert rows["flag"]["test"] == "FETDrift" and rows["flag"]["drifted"]
    assert rows["x"]["outcome"] == "not_applicable"


def test_classifier_drift_tests_the_features_jointly():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1500, 2))
    reference = pd.DataFrame({"a": x[:, 0], "b": x[:, 1]})
    y = rng.normal(size=(1500, 2))
    correlated = pd.DataFrame({"a": y[:, 0], "b": y[:, 0] * 0.9 + y[:, 1] * 0.44})  # same marginals, new joint law
    options = DriftOptions(method="ClassifierDrift")
    moved = data_drift(reference, correlated, options=options)[0]
    assert moved.outcome == "failed"
    joint = moved.details["table"][0]
    assert joint["kind"] == "joint" and joint["feature"] == "joint(a, b)" and joint["p_value"] < 0.05
    assert [r["outcome"] for r in moved.details["table"][1:]] == ["effect only", "effect only"]
    same = data_drift(reference, pd.DataFrame(rng.normal(size=(1500, 2)), columns=["a", "b"]), options=options)[0]
    assert same.outcome == "passed"


@pytest.mark.skipif(has_pytorch or has_tensorflow, reason="a torch or tensorflow backend is installed")
@pytest.mark.parametrize("method", ["MMDDrift", "LSDDDrift"])
def test_kernel_detectors_without_a_backend_say_what_to_install(method):
    with pytest.raises(MlgateError, match=f"method '{method}' needs a torch or tensorflow backend"):
        data_drift(frame(200, 1), frame(200, 2), ["f0", "f1"], options=DriftOptions(method=method))


def test_a_configured_detector_object_is_used_with_its_own_threshold():
    reference = frame(3000, 1)
    detector = KSDrift(reference[["f0", "f1"]].to_numpy(), p_val=0.01, correction="fdr")
    summary = data_drift(reference, frame(3000, 2, shift={"f1": 0.3}), ["f0", "f1"],
                         options=DriftOptions(method=detector))[0]
    assert summary.details["method"] == "KSDrift" and summary.details["drifted"] == ["f1"]
    rows = table_by_feature(summary)
    assert rows["f1"]["p_adjusted"] == rows["f1"]["p_value"]  # the detector's own FDR threshold judges


def test_a_configured_detector_takes_numeric_features_only():
    reference = frame(500, 1)
    detector = TabularDrift(reference[["f0"]].to_numpy(), p_val=0.05, categories_per_feature={})
    with pytest.raises(MlgateError, match=r"takes numeric features only; \['f4'\] are categorical"):
        data_drift(reference, frame(500, 2), ["f0", "f4"], options=DriftOptions(method=detector))


def test_end_to_end_with_the_backend_from_config(project):
    from conftest import make_frame

    make_frame(2000, seed=6).assign(income=lambda f: f["income"] + 0.5).to_parquet(project.path / "current.parquet")
    project.configure(datasets='holdout = "holdout.csv"\nreference = "train.parquet"\ncurrent = "current.parquet"',
                      extra='[tool.mlgate.drift]\nmethod = "TabularDrift"\n')
    project.gates("""
def test_features(mlgate):
    mlgate.no_drift()

def test_predictions(mlgate):
    mlgate.no_prediction_drift()
""")
    result = project.run()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*1 of 6 feature(s) drifted (TabularDrift*income (TabularDrift*"])
    checks = {c["name"]: c for g in project.decision["gates"] for c in g["checks"]}
    assert checks["data_drift[reference->current]"]["details"]["method"] == "TabularDrift"
    assert checks["prediction_drift[candidate][reference->current]"]["details"]["drifted"] == ["score"]
    assert project.decision["decision"] == "rejected"


def test_a_detector_on_a_streamed_dataset_runs_on_its_stated_sample(tmp_path):
    from engine_scenarios import TINY_BUDGET, workspace, write_project

    from pytest_mlgate.gates import MlGate

    root = write_project(tmp_path, rows=3000)
    ws = workspace(root, memory_budget=TINY_BUDGET, sample_rows=800)
    assert ws.dataset("current").streamed
    summary = MlGate("g", ws).no_drift("reference", "current", method="TabularDrift")[0]
    assert summary.outcome == "failed"
    assert summary.details["sampled_rows"] == 800 and "uniform sample of 800 of 3000 rows" in summary.message
    assert "income" in summary.details["drifted"]
    assert {r["test"] for r in summary.details["table"] if r.get("feature") == "income"} == {"TabularDrift"}
