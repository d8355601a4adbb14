"""End to end: gate suites run under pytest, decisions, exit statuses and fail-closed errors."""

from __future__ import annotations

import pytest

APPROVING = """
def test_auc(candidate, holdout):
    assert candidate.metric("roc_auc", holdout) >= 0.7

def test_regression(mlgate):
    mlgate.no_regression("roc_auc", max_relative_drop=0.05)
"""


def test_approved_run_exits_zero_and_writes_decision(project):
    project.configure(candidate="strong.skops", baseline="good.skops")
    project.gates(APPROVING)
    result = project.run()
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*mlgate gate summary*", "*mlgate decision: APPROVED for credit-risk*"])
    decision = project.decision
    assert decision["decision"] == "approved"
    assert decision["owner"] == "risk-ml@example.org"
    assert len(decision["artifacts"]["candidate"]["sha256"]) == 64
    assert decision["datasets"]["holdout"]["rows"] == 2000
    observed = decision["gates"][0]["checks"][0]
    assert observed["kind"] == "observed" and observed["metric"] == "roc_auc" and observed["candidate"] > 0.7


def test_threshold_failure_rejects_with_numbers(project):
    project.configure(candidate="weak.skops", baseline="strong.skops")
    project.gates("""
def test_auc(mlgate):
    mlgate.at_least("roc_auc", 0.85)
""")
    result = project.run()
    assert result.ret == 1
    result.stdout.re_match_lines([r"roc_auc 0\.\d+ < 0\.85 \(baseline 0\.\d+, -\d+\.\d%\)"])
    result.stdout.fnmatch_lines(["*mlgate decision: REJECTED*"])
    assert project.decision["decision"] == "rejected"


@pytest.mark.parametrize("limit", ["max_relative_drop=0.02", "max_absolute_drop=0.01"])
def test_regression_beyond_allowed_drop_rejects(project, limit):
    project.configure(candidate="weak.skops", baseline="strong.skops")
    project.gates(f"""
def test_regression(mlgate):
    mlgate.no_regression("roc_auc", {limit})
""")
    result = project.run()
    assert result.ret == 1
    check = project.decision["gates"][0]["checks"][0]
    assert check["outcome"] == "failed" and check["delta"] < -0.01
    assert check["ci"][0] < check["delta"] < check["ci"][1]
    result.stdout.fnmatch_lines(["*roc_auc dropped * from baseline *; allowed drop <= *"])


def test_significant_criterion_tolerates_noise_but_not_real_drops(project):
    project.configure(candidate="good.skops", baseline="strong.skops")
    project.gates("""
def test_small_drop(mlgate):
    mlgate.no_regression("accuracy", max_absolute_drop=0.0, criterion="significant", underpowered="pass")

def test_real_drop(mlgate):
    mlgate.no_regression("roc_auc", dataset="holdout", criterion="point")
""")
    result = project.run()
    outcomes = {g["gate"].split("::")[1]: g["outcome"] for g in project.decision["gates"]}
    good_vs_strong = project.decision["gates"][1]["checks"][0]
    assert good_vs_strong["delta"] < 0  # the weaker model really is worse on AUC
    assert outcomes == {"test_small_drop": "passed", "test_real_drop": "failed"}
    small = project.decision["gates"][0]["checks"][0]
    assert small["details"]["underpowered"] and "underpowered (2000 rows), underpowered = 'pass'" in small["message"]
    assert result.ret == 1


def test_review_severity_needs_review_with_its_own_exit_status(project):
    project.configure(candidate="weak.skops", baseline=None)
    project.gates("""
import pytest

@pytest.mark.gate(severity="review", owner="credit-ops")
def test_borderline(mlgate):
    mlgate.at_least("roc_auc", 0.99)

def test_floor(mlgate):
    mlgate.at_least("roc_auc", 0.5)
""")
    result = project.run()
    assert result.ret == 6
    result.stdout.fnmatch_lines(["*test_borderline*needs approval*", "*mlgate decision: NEEDS-REVIEW*"])
    gate = project.decision["gates"][0]
    assert gate["severity"] == "review" and gate["owner"] == "credit-ops"


def test_warn_severity_is_reported_and_does_not_block(project):
    project.configure(candidate="weak.skops", baseline=None)
    project.gates("""
import pytest

@pytest.mark.gate(severity="warn")
def test_aspiration(mlgate):
    mlgate.at_least("roc_auc", 0.99)
""")
    result = project.run()
    result.assert_outcomes(failed=1)
    assert result.ret == 0
    assert project.decision["decision"] == "approved"
    result.stdout.fnmatch_lines(["*test_aspiration ?warn?*failed*"])


def test_review_exit_status_is_configurable(project):
    project.configure(candidate="weak.skops", baseline=None, extra="review_exit_code = 42")
    project.gates("""
import pytest

@pytest.mark.gate(severity="review")
def test_borderline(mlgate):
    mlgate.at_least("roc_auc", 0.99)
""")
    assert project.run().ret == 42


def test_no_baseline_makes_regression_not_applicable(project):
    project.configure(candidate="good.skops", baseline=None)
    project.gates("""
def test_regression(mlgate):
    mlgate.no_regression("roc_auc", max_relative_drop=0.01)

def test_uses_baseline(candidate, baseline, holdout):
    assert candidate.metric("roc_auc", holdout) >= baseline.metric("roc_auc", holdout)
""")
    result = project.run()
    assert result.ret == 0
    result.assert_outcomes(passed=1, skipped=1)
    check = project.decision["gates"][0]["checks"][0]
    assert check["outcome"] == "not_applicable" and "no baseline configured" in check["message"]
    result.stdout.fnmatch_lines(["*could not be judged*", "*APPROVED*"])


def test_slices_with_a_too_small_group_and_per_slice_thresholds(project):
    project.configure(candidate="strong.skops", baseline="good.skops", extra="min_slice_size = 150")
    project.gates("""
def test_by_region(mlgate):
    mlgate.at_least("accuracy", {"*": 0.6, "north": 0.99}, by="region")
""")
    result = project.run()
    assert result.ret == 1
    checks = {c["name"]: c for c in project.decision["gates"][0]["checks"]}
    assert checks["accuracy[holdout, region=east]"]["outcome"] == "too_small"
    assert checks["accuracy[holdout, region=east]"]["details"]["rows"] < 150
    assert checks["accuracy[holdout, region=south]"]["outcome"] == "passed"
    assert checks["accuracy[holdout, region=north]"]["outcome"] == "failed"
    result.stdout.fnmatch_lines(["*accuracy?region=north? 0.* < 0.99*", "*1 check(s) could not be judged*"])


def test_slice_regression_applies_bonferroni_correction(project):
    project.configure(candidate="strong.skops", baseline="good.skops")
    project.gates("""
def test_by_region(mlgate):
    mlgate.no_regression("accuracy", by="sex", max_absolute_drop=0.05, criterion="significant")
""")
    project.run()
    checks = project.decision["gates"][0]["checks"]
    assert [c["name"] for c in checks] == ["accuracy[holdout, sex=f]", "accuracy[holdout, sex=m]"]
    assert all(c["details"]["confidence"] == pytest.approx(0.975) for c in checks)


def test_predictions_run_once_per_model_and_dataset(project):
    project.configure(candidate="strong.skops", baseline="good.skops")
    project.gates("""
def test_many(mlgate, candidate, baseline, holdout):
    for metric in ("accuracy", "f1", "precision", "recall", "balanced_accuracy"):
        mlgate.at_least(metric, 0.1)
        mlgate.no_regression(metric, max_absolute_drop=0.5)
    for metric in ("roc_auc", "log_loss", "brier", "average_precision"):
        mlgate.no_regression(metric, max_absolute_drop=0.5)
    mlgate.at_least("accuracy", 0.1, by="region")

def test_counts(candidate, baseline):
    # scikit-learn classifiers: labels are read off the probabilities, one inference pass each
    assert candidate.calls == {("predict_proba", "holdout"): 1}
    assert baseline.calls == {("predict_proba", "holdout"): 1}
""")
    project.run().assert_outcomes(passed=2)


def test_sha256_pin_mismatch_fails_closed(project):
    project.configure(extra='[tool.mlgate.sha256]\ncandidate = "' + "0" * 64 + '"')
    project.gates(APPROVING)
    result = project.run()
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*candidate: sha256 mismatch for *good.skops: expected 0000*, got *"])
    assert project.decision["decision"] == "rejected"


BAD_MODELS = '''
import numpy as np

class Bad:
    classes_ = np.array([0, 1])
    def __init__(self, kind):
        self.kind = kind
    def predict(self, X):
        if self.kind == "raises":
            raise ValueError("boom in predict")
        if self.kind == "nan":
            out = np.zeros(len(X)); out[:3] = np.nan
            return out
        return np.zeros(len(X) - 1)

def pytest_mlgate_load_model(path, settings):
    if path.suffix == ".bad":
        return Bad(path.stem)
'''


@pytest.mark.parametrize(("kind", "message"), [
    ("raises", "*model 'candidate' predict failed on dataset 'holdout': ValueError: boom in predict"),
    ("nan", "*model 'candidate' predict on dataset 'holdout' returned NaN or infinite values in 3 of 2000 rows"),
    ("shape", "*model 'candidate' predict on dataset 'holdout' returned shape (1999,), expected 2000 rows"),
])
def test_bad_predictions_fail_closed_with_one_line(project, kind, message):
    (project.path / f"{kind}.bad").write_text("x")
    project.configure(candidate=f"{kind}.bad", baseline=None)
    project.pytester.makeconftest(BAD_MODELS)
    project.gates("""
def test_accuracy(mlgate):
    mlgate.at_least("accuracy", 0.1)
""")
    result = project.run()
    assert result.ret == 1
    result.stdout.fnmatch_lines([message])
    assert project.decision["decision"] == "rejected"
    assert "error" in project.decision["reasons"][0]


@pytest.mark.parametrize(("setup", "message"), [
    ({"candidate": "missing.skops"}, "*candidate: file not found: *missing.skops"),
    ({"candidate": "corrupt.skops"}, "*model 'candidate': cannot load *corrupt.skops: *"),
    ({"candidate": "holdout.csv"}, "*model 'candidate': no loader for holdout.csv*"),
])
def test_unloadable_models_fail_closed(project, setup, message):
    (project.path / "corrupt.skops").write_bytes(b"not a zip file")
    project.configure(baseline=None, **setup)
    project.gates(APPROVING)
    result = project.run()
    assert result.ret == 1
    result.stdout.fnmatch_lines([message])
    assert project.decision["decision"] == "rejected"


def test_missing_target_column_fails_closed(project):
    project.configure(extra='')
    (project.path / "pyproject.toml").write_text(
        (project.path / "pyproject.toml").read_text().replace('target = "defaulted"', 'target = "label"'))
    project.gates(APPROVING)
    result = project.run()
    result.stdout.fnmatch_lines(["*dataset 'holdout': column 'label' not found (columns: 'income', 'debt', *"])
    assert project.decision["decision"] == "rejected"


def test_no_gates_collected_rejects(project):
    project.gates("def helper():\n    pass\n")
    result = project.run()
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    assert project.decision["decision"] == "rejected"
    assert project.decision["reasons"] == ["no gates ran"]


def test_interrupted_run_rejects(project):
    project.gates("""
def test_first(mlgate):
    mlgate.at_least("accuracy", 0.1)

def test_interrupt():
    raise KeyboardInterrupt

def test_never_runs(mlgate):
    mlgate.at_least("accuracy", 0.1)
""")
    result = project.run(no_reraise_ctrlc=True)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert project.decision["decision"] == "rejected"
    assert project.decision["reasons"][0].startswith("run incomplete")


def test_collection_error_rejects(project):
    project.gates(APPROVING)
    project.pytester.makepyfile(test_broken="import not_a_module_anywhere\n")
    result = project.run()
    assert result.ret != 0
    assert project.decision["decision"] == "rejected"
    assert "collection errors" in project.decision["reasons"][0]


def test_bad_severity_fails_closed(project):
    project.gates("""
import pytest

@pytest.mark.gate(severity="blocker")
def test_x(mlgate):
    mlgate.at_least("accuracy", 0.1)
""")
    result = project.run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: test_gates.py::test_x: @pytest.mark.gate(severity=...) must be one of "
                                 "block, review, warn, got 'blocker'"])
    assert project.decision["decision"] == "rejected"
    assert "severity=...) must be one of block, review, warn" in project.decision["reasons"][0]


def test_gates_that_do_not_use_the_plugin_are_still_gates(project):
    project.gates("""
def test_business_rule():
    assert 1 + 1 == 3
""")
    assert project.run().ret == 1
    assert project.decision["decision"] == "rejected"


def test_projects_without_mlgate_config_are_untouched(pytester):
    pytester.makepyfile("def test_a():\n    assert True\n")
    result = pytester.runpytest()
    assert result.ret == 0
    assert "gate summary" not in result.stdout.str() and "mlgate decision" not in result.stdout.str()
    assert not (pytester.path / "reports").exists()


def test_decision_hook_and_custom_dataset_loader(project):
    (project.path / "holdout.tsv").write_text((project.path / "holdout.csv").read_text().replace(",", "\t"))
    project.configure(datasets='holdout = "holdout.tsv"\nshadow = "holdout.csv"')
    project.pytester.makeconftest('''
import json, pandas

def pytest_mlgate_load_dataset(path, settings):
    if path.suffix == ".tsv":
        return pandas.read_csv(path, sep="\\t")

def pytest_mlgate_decision(decision, record, config):
    (config.rootpath / "hook.json").write_text(json.dumps([decision.status, record["decision"]]))
''')
    project.gates("""
def test_auc(candidate, holdout, shadow):
    assert len(holdout) == len(shadow) == 2000
    assert candidate.metric("roc_auc", holdout) == candidate.metric("roc_auc", shadow)
""")
    result = project.run()
    assert result.ret == 0
    assert (project.path / "hook.json").read_text() == '["approved", "approved"]'


def test_decision_threshold_labels_from_scores_without_predict(project):
    project.configure(candidate="strong.skops", baseline="good.skops", extra="decision_threshold = 0.7")
    project.gates("""
import numpy as np

def test_labels(mlgate, candidate, holdout):
    labels = candidate.predict(holdout)
    assert np.array_equal(labels, np.where(candidate.score(holdout) >= 0.7, 1, 0))
    mlgate.no_regression("f1", max_absolute_drop=0.5)
    assert ("predict", "holdout") not in candidate.calls
    assert candidate.calls == {("predict_proba", "holdout"): 1}
""")
    project.run().assert_outcomes(passed=1)


def test_collect_only_decides_nothing(project):
    project.gates(APPROVING)
    result = project.run("--collect-only")
    assert result.ret == 0
    assert not (project.path / "reports").exists()
    assert "mlgate decision" not in result.stdout.str()


def test_plugin_import_stays_light():
    import subprocess
    import sys

    code = ("import sys, pytest_mlgate.plugin; "
            "print(sorted(m for m in ('pandas', 'numpy', 'sklearn', 'scipy', 'pandera', 'fairlearn', 'skops') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
