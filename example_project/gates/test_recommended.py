# gates/test_recommended.py: the recommended suite (README, "Recommended suite"); start from it.
import pytest


def judged_by(candidate):
    """The metric the regression gates compare and the drop they allow: ROC AUC for a binary
    classifier, accuracy for several classes, RMSE for a regressor. Keep your model's line."""
    if not candidate.is_classifier:
        return "rmse", {"max_relative_drop": 0.10}
    if candidate.classes is None or len(candidate.classes) == 2:
        return "roc_auc", {"max_absolute_drop": 0.02}
    return "accuracy", {"max_absolute_drop": 0.10}


def test_holdout_and_batch_match_the_training_schema(mlgate):
    mlgate.schema("holdout", "infer")          # dtypes, nullability, domains, ranges widened by 3x
    mlgate.schema("current", "infer")


def test_no_label_leakage(mlgate):
    mlgate.no_label_leakage("holdout", "reference")   # power change, exact and noisy label copies


def test_no_regression(mlgate, candidate):
    metric, allowed = judged_by(candidate)
    mlgate.no_regression(metric, **allowed)   # states its detectable drop; below it, asks for review


def test_no_regression_in_any_group(mlgate, candidate):
    if not mlgate.settings.sensitive:
        pytest.skip("no [tool.mlgate] sensitive column to compare groups by")
    metric, allowed = judged_by(candidate)
    for column in mlgate.settings.sensitive:  # each group of each column, twice the overall allowance
        mlgate.no_regression(metric, by=column, **{k: 2 * v for k, v in allowed.items()})


@pytest.mark.gate(severity="warn")  # ECE is biased upwards on small holdouts: block from ~1,000 rows
def test_calibration(mlgate, candidate):
    if not candidate.is_classifier:
        pytest.skip("a regressor states no probabilities")
    mlgate.calibration()                       # ECE <= 0.05, no rise above the baseline's by 0.02


def test_batch_is_like_training(mlgate):
    mlgate.no_outliers("current")              # against the reference's own share
    mlgate.no_drift("reference", "current")
