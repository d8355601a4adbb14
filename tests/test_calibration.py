"""The calibration gate: ECE and the Brier score's reliability part, threshold and no-regression."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import brier_score_loss

from pytest_mlgate.checks import calibration as cal
from pytest_mlgate.decision import FAILED, NOT_APPLICABLE, PASSED
from pytest_mlgate.errors import MlgateError
from pytest_mlgate.evaluate.models import Dataset, ModelUnderTest


class Scores:
    """A binary 'model' whose probabilities are one column of the table."""

    classes_ = np.array([0, 1])

    def __init__(self, column: str):
        self.feature_names_in_ = np.array([column])

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        p = frame.iloc[:, 0].to_numpy(dtype=float)
        return np.column_stack([1 - p, p])


def table(n: int, seed: int) -> Dataset:
    rng = np.random.default_rng(seed)
    p = rng.random(n)
    frame = pd.DataFrame({"target": (rng.random(n) < p).astype(int), "honest": p,
                          "overconfident": np.clip(0.5 + 1.8 * (p - 0.5), 0, 1)})
    return Dataset("holdout", frame, "target")


def model(column: str, role: str = "candidate") -> ModelUnderTest:
    return ModelUnderTest(role, Scores(column))


def test_honest_probabilities_pass_and_overconfident_ones_fail():
    data = table(5000, 1)
    honest = cal.calibration(data, model("honest"), model("honest", "baseline"), n_boot=200)
    assert [c.outcome for c in honest] == [PASSED, PASSED]
    assert honest[0].candidate < 0.03 and honest[0].ci[0] <= honest[0].candidate <= honest[0].ci[1]
    over = cal.calibration(data, model("overconfident"), model("honest", "baseline"), n_boot=200)
    assert [c.outcome for c in over] == [FAILED, FAILED]
    assert over[0].candidate > 0.1 and over[1].message.startswith("calibration ece vs baseline: rose (worse)")
    assert over[1].ci[0] > 0  # the paired interval of the rise excludes no change
    assert len(over[0].details["reliability_table"]) == 10 and over[1].details["baseline_reliability_table"]


def test_the_reliability_term_is_murphys_brier_decomposition():
    """With forecasts constant within each bin, Brier = reliability - resolution + uncertainty."""
    rng = np.random.default_rng(2)
    p = (rng.integers(0, 10, 20_000) + 0.5) / 10
    hit = (rng.random(20_000) < p ** 1.5).astype(float)
    rows = cal.reliability_table(p, hit)
    weights = np.array([r["rows"] for r in rows]) / len(p)
    observed = np.array([r["observed"] for r in rows])
    base = hit.mean()
    resolution, uncertainty = weights @ (observed - base) ** 2, base * (1 - base)
    reliability = cal.measures(p, hit)["reliability"]
    assert brier_score_loss(hit, p) == pytest.approx(reliability - resolution + uncertainty, abs=1e-12)
    assert cal.measures(p, hit)["ece"] == pytest.approx(weights @ np.abs(observed - np.array([r["predicted"] for r in rows])))


def test_without_a_baseline_and_bad_input():
    data = table(500, 3)
    checks = cal.calibration(data, model("honest"), None, measure="reliability", n_boot=50)
    assert checks[1].outcome == NOT_APPLICABLE and checks[0].name == "calibration reliability"
    with pytest.raises(MlgateError, match="measure must be one of ece, reliability"):
        cal.calibration(data, model("honest"), None, measure="mce")
    with pytest.raises(MlgateError, match="give max_value and/or max_increase"):
        cal.calibration(data, model("honest"), None, max_value=None, max_increase=None)


def test_the_gate_end_to_end_with_a_reliability_diagram(project):
    project.configure(candidate="strong.skops", baseline="good.skops", extra='html = "reports/report.html"')
    project.gates("def test_calibrated(mlgate):\n    mlgate.calibration()\n")
    project.run().assert_outcomes(passed=1)
    checks = project.decision["gates"][0]["checks"]
    assert [c["name"] for c in checks] == ["calibration ece[holdout]", "calibration ece vs baseline[holdout]"]
    assert checks[0]["candidate"] < 0.05 and checks[0]["ci"][0] <= checks[0]["candidate"]
    html = (project.path / "reports" / "report.html").read_text()
    assert '<section id="calibration">' in html and html.count("chart-calibration") == 1
    assert "observed rate" in html and "baseline" in html
