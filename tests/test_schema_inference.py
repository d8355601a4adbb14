"""``mlgate schema infer`` passes new data from the same distribution and catches broken rows.

Inferred on a random half of each bundled scikit-learn dataset, validated on the other half.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import datasets

from pytest_mlgate.checks import schemas
from pytest_mlgate.checks.profile import Profile
from pytest_mlgate.checks.schema_infer import infer
from pytest_mlgate.cli import main
from pytest_mlgate.decision import FAILED, PASSED
from pytest_mlgate.evaluate.models import Dataset

BUNDLED = ("breast_cancer", "wine", "diabetes", "digits", "iris")
SPLITS = 50


def bundled(name: str) -> pd.DataFrame:
    """The dataset with a categorical column added (its target's names), for the domain checks."""
    bunch = getattr(datasets, f"load_{name}")(as_frame=True)
    frame = bunch.frame
    if name != "diabetes":
        frame["kind"] = np.asarray(bunch.target_names)[bunch.target].astype(object)
    return frame


def halves(frame: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    order = np.random.default_rng(seed).permutation(len(frame))
    half = len(frame) // 2
    return frame.iloc[order[:half]], frame.iloc[order[half:]].reset_index(drop=True)


def validate(frame: pd.DataFrame, schema) -> object:
    return schemas.validate(Dataset("half", frame), schema, "inferred", stats=Profile(frame))


@pytest.mark.parametrize("name", BUNDLED)
def test_a_schema_inferred_on_one_half_passes_the_other_half(name):
    frame = bundled(name)
    failures = []
    for seed in range(SPLITS):
        train, other = halves(frame, seed)
        check = validate(other, infer(train))
        if check.outcome != PASSED:
            failures.append((seed, check.message))
    assert failures == []


def test_the_exact_training_range_fails_clean_halves():
    """Why the ranges are widened: the observed min and max reject a clean half of the same data."""
    train, other = halves(bundled("breast_cancer"), 0)
    assert validate(other, infer(train, ranges="exact")).outcome == FAILED


def plant(frame: pd.DataFrame, fault: str, rng: np.random.Generator) -> tuple[pd.DataFrame, str]:
    """A batch with one broken column in 10% of its rows; returns it and the column broken."""
    broken = frame.copy()
    rows = rng.choice(len(frame), max(1, len(frame) // 10), replace=False)
    numeric = [c for c in frame.columns if c != "target" and frame[c].dtype.kind == "f"]
    if fault == "new category":
        column = "kind"
        broken.loc[rows, column] = "unheard-of"
    elif fault == "nulls":
        column = rng.choice(numeric)
        broken.loc[rows, column] = np.nan
    elif fault == "negative":
        column = rng.choice([c for c in numeric if frame[c].min() > 0])
        broken.loc[rows, column] = -frame[column].to_numpy()[rows]
    else:  # a unit error: the whole column of the batch in the wrong unit
        column = rng.choice([c for c in numeric if frame[c].abs().max() > 0])
        broken[column] = frame[column] * 10
    return broken, column


@pytest.mark.parametrize("fault", ["negative", "10x scale", "new category", "nulls"])
@pytest.mark.parametrize("name", ["breast_cancer", "wine", "iris"])
def test_planted_broken_rows_are_caught(name, fault):
    frame = bundled(name)
    rng = np.random.default_rng(7)
    for seed in range(10):
        train, other = halves(frame, seed)
        broken, column = plant(other, fault, rng)
        check = validate(broken, infer(train))
        assert check.outcome == FAILED, (seed, column)
        assert column in {c["column"] for c in check.details["failed_checks"]}


def test_each_column_says_how_its_bounds_were_derived(tmp_path, capsys):
    frame = pd.DataFrame({"size": [1.5, 2.0, 4.5, 3.0], "delta": [-1.0, 0.5, 2.0, 1.0], "same": [7.0] * 4,
                          "count": [0, 1, 2, 1], "city": ["a", "b", "a", "c"]})
    schema = infer(frame, margin=0.5)
    size, delta = schema.columns["size"], schema.columns["delta"]
    assert size.checks[0].statistics == {"min_value": 0.0, "max_value": 6.0, "include_min": True, "include_max": True}
    assert "widened by margin 0.5 x its range 3" in size.description and "lower bound 0" in size.description
    assert delta.checks[0].statistics["min_value"] == pytest.approx(-2.5)
    assert schema.columns["same"].checks == [] and "constant" in schema.columns["same"].description
    assert [c.name for c in schema.columns["count"].checks] == ["greater_than_or_equal_to"]
    assert "small-count" in schema.columns["count"].description
    assert schema.columns["city"].checks[0].statistics["allowed_values"] == ["a", "b", "c"]
    assert "not nullable" in size.description

    data = tmp_path / "train.csv"
    frame.to_csv(data, index=False)
    assert main(["schema", "infer", str(data), "--margin", "0.5"]) == 0
    text = capsys.readouterr().out
    assert "description: 'range: the reference''s [1.5, 4.5] widened by margin 0.5" in text
    assert "max_value: 6.0" in text
    assert main(["schema", "infer", str(data), "--ranges", "none"]) == 0
    assert "in_range" not in capsys.readouterr().out
