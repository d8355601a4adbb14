"""Every regression check states the change it could detect, checked against simulation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pytest_mlgate.checks.performance import regression
from pytest_mlgate.decision import FAILED, PASSED
from pytest_mlgate.errors import MlgateError
from pytest_mlgate.evaluate.models import Dataset, ModelUnderTest
from pytest_mlgate.evaluate.stats import detectable_change


class Column:
    """A model that predicts what one column of the table says."""

    def __init__(self, name: str):
        self.feature_names_in_ = np.array([name])

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return frame.iloc[:, 0].to_numpy()


def paired(n: int, drop: float, rng: np.random.Generator) -> Dataset:
    """A baseline right on 85% of rows and a candidate ``drop`` less accurate, their errors paired:
    the candidate breaks rows the baseline gets right and mends 5% of those it gets wrong."""
    y = rng.integers(0, 2, n)
    right = rng.random(n) < 0.85
    mend = 0.05
    breaks = (drop + mend * 0.15) / 0.85  # P(candidate wrong | baseline right) for the wanted drop
    cand_right = np.where(right, rng.random(n) >= breaks, rng.random(n) < mend)
    frame = pd.DataFrame({"target": y, "b": np.where(right, y, 1 - y), "c": np.where(cand_right, y, 1 - y)})
    return Dataset("holdout", frame, "target")


def judge(data: Dataset, n_boot: int = 400, **options):
    (check,) = regression("accuracy", data, ModelUnderTest("candidate", Column("c")),
                          ModelUnderTest("baseline", Column("b")), n_boot=n_boot, **options)
    return check


def test_reported_detectable_drop_matches_the_simulated_80_percent_power_point():
    n, sims = 400, 100
    rng = np.random.default_rng(5)
    grid = np.array([0.01, 0.02, 0.03, 0.04, 0.05, 0.06])
    power, reported = [], []
    for drop in grid:
        checks = [judge(paired(n, drop, rng), max_absolute_drop=0.0, criterion="significant",
                        underpowered="pass", seed=s, n_boot=200) for s in range(sims)]
        power.append(np.mean([c.ci[1] < 0 for c in checks]))  # the interval excludes no change: detected
        reported.append(np.median([c.details["detectable_change"] for c in checks]))
    simulated = float(np.interp(0.8, power, grid))  # power rises with the drop
    stated = float(np.interp(simulated, grid, reported))
    assert power[0] < 0.8 < power[-1]
    assert abs(stated - simulated) / simulated < 0.2, (simulated, stated, power, reported)


def test_a_check_that_could_not_see_the_allowed_drop_says_so():
    rng = np.random.default_rng(1)
    small = paired(150, 0.0, rng)
    review = judge(small, max_absolute_drop=0.01)
    assert review.outcome == FAILED and review.severity == "review" and review.details["underpowered"]
    assert "detectable drop at 80% power" in review.message and "underpowered (150 rows)" in review.message
    assert judge(small, max_absolute_drop=0.01, underpowered="fail").severity is None
    passed = judge(small, max_absolute_drop=0.01, underpowered="pass")
    assert passed.outcome == PASSED and passed.details["underpowered"]
    large = paired(20_000, 0.0, rng)
    seen = judge(large, max_absolute_drop=0.02)
    assert seen.outcome == PASSED and not seen.details["underpowered"]
    assert seen.details["detectable_change"] < 0.02
    real = judge(paired(2000, 0.1, rng), max_absolute_drop=0.01)  # a failure stays a plain failure
    assert real.outcome == FAILED and real.severity is None and not real.details["underpowered"]
    with pytest.raises(MlgateError, match="underpowered must be one of review, fail, pass"):
        judge(small, underpowered="ignore")


def test_slices_inherit_the_power_statement_at_their_own_size():
    rng = np.random.default_rng(2)
    data = paired(6000, 0.0, rng)
    data.frame["part"] = np.where(np.arange(6000) < 5700, "big", "small")
    checks = regression("accuracy", data, ModelUnderTest("candidate", Column("c")),
                        ModelUnderTest("baseline", Column("b")), max_absolute_drop=0.01, by="part", n_boot=400)
    by_name = {c.name: c for c in checks}
    big, small = by_name["accuracy[part=big]"], by_name["accuracy[part=small]"]
    assert small.details["detectable_change"] > 2 * big.details["detectable_change"]
    assert not big.details["underpowered"] and small.details["underpowered"] and small.severity == "review"


def test_lower_is_better_metrics_speak_of_a_rise():
    rng = np.random.default_rng(3)
    n = 3000
    y = rng.normal(size=n)
    frame = pd.DataFrame({"target": y, "b": y + rng.normal(0, 0.5, n), "c": y + rng.normal(0, 0.8, n)})
    (check,) = regression("rmse", Dataset("holdout", frame, "target"), ModelUnderTest("candidate", Column("c")),
                          ModelUnderTest("baseline", Column("b")), max_relative_drop=0.05)
    assert check.outcome == FAILED and check.threshold.startswith("rise <= ")
    assert check.message.startswith("rmse rose ") and "(worse)" in check.message
    assert "detectable rise at 80% power" in check.message


def test_detectable_change_formula():
    # a 95% interval of half-width 1.96 has se 1: (1.96 + 0.8416) * 1
    assert detectable_change((-1.959964, 1.959964), 0.95) == pytest.approx(2.8016, abs=1e-3)
    assert np.isnan(detectable_change((float("nan"), 1.0), 0.95))
