"""``mlgate schema infer`` passes new data from the same distribution and catches broken rows.

Inferred on a random half of each bundled scikit-learn dataset, validated on the other half.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import datasets

from pytest_mlgate.checks import schemas
from pytest_mlgate.checks.data_quality import schema_check
from pytest_mlgate.checks.profile import Profile
from pytest_mlgate.checks.schema_infer import infer
from pytest_mlgate.cli import main
from pytest_mlgate.config import Settings
from pytest_mlgate.decision import FAILED, PASSED
from pytest_mlgate.evaluate.models import Dataset

BUNDLED = ("breast_cancer", "wine", "diabetes", "digits", "iris")
SPLITS = 50
SPARSE = (0.005, 0.02)  # natural missing shares of two columns in the clean data


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


def sparse_nulls(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The data with natural gaps: the first two float columns missing in 0.5% and 2% of rows, each
    row independently (so one half may have none and the other a few)."""
    rng = np.random.default_rng(1000 + seed)
    gappy = frame.copy()
    floats = [c for c in frame.columns if c != "target" and frame[c].dtype.kind == "f"]
    for column, share in zip(floats, SPARSE):
        gappy.loc[rng.random(len(frame)) < share, column] = np.nan
    return gappy


def validate(frame: pd.DataFrame, schema) -> object:
    return schemas.validate(Dataset("half", frame), schema, "inferred", stats=Profile(frame))


@pytest.mark.parametrize("name", BUNDLED)
def test_a_schema_inferred_on_one_half_passes_the_other_half(name):
    frame = bundled(name)
    failures = []
    for seed in range(SPLITS):
        train, other = halves(sparse_nulls(frame, seed), seed)
        check = validate(other, infer(train))
        if check.outcome != PASSED:
            failures.append((seed, check.message))
    assert failures == []


def test_the_exact_training_range_fails_clean_halves():
    """Why the ranges are widened: the observed min and max reject a clean half of the same data."""
    train, other = halves(bundled("breast_cancer"), 0)
    assert validate(other, infer(train, ranges="exact")).outcome == FAILED


def plant(frame: pd.DataFrame, fault: str, rng: np.random.Generator, share: float = 0.1) -> tuple[pd.DataFrame, str]:
    """A batch with one broken column in ``share`` of its rows; returns it and the column broken."""
    broken = frame.copy()
    rows = rng.choice(len(frame), max(1, int(len(frame) * share)), replace=False)
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


def test_a_few_nulls_pass_where_the_reference_had_none():
    """One null in a clean batch is chance, not a broken column: the check tolerates it."""
    train, other = halves(bundled("breast_cancer"), 0)
    column = "mean radius"
    assert train[column].notna().all()
    other.loc[[3], column] = np.nan
    check = validate(other, infer(train))
    assert check.outcome == PASSED, check.message
    assert validate(other, infer(train, null_tolerance=0.0)).outcome == PASSED  # one null is not significant


@pytest.mark.parametrize(("name", "column"), [("iris", "petal width (cm)"), ("wine", "alcohol")])
def test_on_a_small_half_five_percent_nulls_are_within_chance(name, column):
    """The limit of the test: 5% of a 75- or 89-row half missing (3 or 4 rows) where the reference
    half had none is not told from chance at the schema's level; 10% is (see the planted faults)."""
    train, other = halves(bundled(name), 0)
    other.loc[range(int(0.05 * len(other))), column] = np.nan
    assert validate(other, infer(train)).outcome == PASSED
    other.loc[range(int(0.1 * len(other))), column] = np.nan
    assert validate(other, infer(train)).outcome == FAILED


@pytest.mark.parametrize("name", ["breast_cancer", "diabetes", "digits"])
def test_nulls_planted_in_a_column_are_caught_on_top_of_natural_gaps(name):
    """Where a half has a few hundred rows, a column gone missing is told from the natural gaps: 5%
    of the rows in a column that had none, 10% in the column that already misses 0.5%."""
    frame = bundled(name)
    rng = np.random.default_rng(11)
    floats = [c for c in frame.columns if c != "target" and frame[c].dtype.kind == "f"]
    for seed in range(10):
        train, other = halves(sparse_nulls(frame, seed), seed)
        for column, share in ((floats[5], 0.05), (floats[0], 0.1)):
            broken = other.copy()
            present = np.flatnonzero(broken[column].notna().to_numpy())
            broken.loc[rng.choice(present, int(share * len(other)), replace=False), column] = np.nan
            check = validate(broken, infer(train))
            assert check.outcome == FAILED, (seed, column, check.message)
            assert {c["column"] for c in check.details["failed_checks"]} == {column}
            assert "missing_share_within" in check.message


def test_each_column_says_how_its_bounds_were_derived(tmp_path, capsys):
    frame = pd.DataFrame({"size": [1.5, 2.0, 4.5, 3.0], "delta": [-1.0, 0.5, 2.0, 1.0], "same": [7.0] * 4,
                          "count": [0, 1, 2, 1], "city": ["a", "b", "a", "c"]})
    schema = infer(frame, margin=0.5)
    size, delta = schema.columns["size"], schema.columns["delta"]
    assert size.checks[0].statistics == {"min_value": 0.0, "max_value": 6.0, "include_min": True, "include_max": True}
    assert "widened by margin 0.5 x its range 3" in size.description and "lower bound 0" in size.description
    assert delta.checks[0].statistics["min_value"] == pytest.approx(-2.5)
    assert [c.name for c in schema.columns["same"].checks] == ["missing_share_within"]
    assert "constant" in schema.columns["same"].description
    assert [c.name for c in schema.columns["count"].checks] == ["greater_than_or_equal_to", "missing_share_within"]
    assert "small-count" in schema.columns["count"].description
    assert schema.columns["city"].checks[0].statistics["allowed_values"] == ["a", "b", "c"]
    assert "missing share: fails when a batch's exceeds the reference's 0 of 4 (0.000%) by more than " \
           "null_tolerance 0.01" in size.description
    assert "p < 0.01 (confidence 0.95 shared by 5 columns)" in size.description
    assert size.checks[-1].statistics == {"reference_missing": 0, "reference_rows": 4, "tolerance": 0.01,
                                          "alpha": pytest.approx(0.01)}

    data = tmp_path / "train.csv"
    frame.to_csv(data, index=False)
    assert main(["schema", "infer", str(data), "--margin", "0.5"]) == 0
    text = capsys.readouterr().out
    assert "description: 'range: the reference''s [1.5, 4.5] widened by margin 0.5" in text
    assert "max_value: 6.0" in text
    assert main(["schema", "infer", str(data), "--ranges", "none", "--null-tolerance", "0.2"]) == 0
    text = capsys.readouterr().out
    assert "in_range" not in text and "tolerance: 0.2" in text


def test_the_infer_mode_takes_the_null_tolerance_from_the_settings(tmp_path):
    train, other = halves(bundled("wine"), 1)
    broken = other.copy()
    broken.loc[: len(other) // 5, "alcohol"] = np.nan
    reference = Dataset("reference", train)
    strict, lenient = Settings(root=tmp_path), Settings(root=tmp_path, schema_null_tolerance=0.5)
    assert schemas.resolve("infer", lenient, reference)[0].columns["alcohol"].checks[-1].statistics["tolerance"] == 0.5
    assert schema_check(Dataset("current", broken), "infer", strict, reference).outcome == FAILED
    assert schema_check(Dataset("current", broken), "infer", lenient, reference).outcome == PASSED


def test_the_null_check_survives_a_schema_file(tmp_path):
    """The inferred null check is written to YAML and read back with its numbers."""
    train, other = halves(bundled("wine"), 3)
    path = tmp_path / "wine.yaml"
    path.write_text(schemas.to_text(infer(train)))
    schema = schemas.read(path)
    check = schema.columns["alcohol"].checks[-1]
    assert check.name == "missing_share_within" and check.ignore_na is False
    assert check.statistics["reference_rows"] == len(train)
    broken = other.copy()
    broken.loc[: len(other) // 4, "alcohol"] = np.nan
    assert validate(broken, schema).outcome == FAILED
    assert validate(other, schema).outcome == PASSED
