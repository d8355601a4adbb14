"""Data quality gates: pandera schemas and the quality checks, unit and end to end."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest
from sklearn import datasets

from pytest_mlgate.checks import columns as col
from pytest_mlgate.checks import data_quality as dq
from pytest_mlgate.checks.profile import duplicated_rows, shared_rows
from pytest_mlgate.cli import main
from pytest_mlgate.config import Settings
from pytest_mlgate.decision import FAILED, NOT_APPLICABLE, PASSED, TOO_SMALL
from pytest_mlgate.errors import MlgateError
from pytest_mlgate.evaluate.models import Dataset


def clean(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "income": rng.normal(50, 10, n),
        "debt": rng.normal(0, 1, n),
        "visits": rng.integers(0, 30, n),
        "region": rng.choice(["north", "south", "east"], n),
        "flag": rng.integers(0, 2, n),
    })
    frame["defaulted"] = (rng.random(n) < 1 / (1 + np.exp(-frame["debt"]))).astype(int)
    return frame


def ds(frame: pd.DataFrame, name: str = "holdout") -> Dataset:
    return Dataset(name, frame, "defaulted")


# ---------------------------------------------------------------- each check: clean passes, defect fails


def plant_missing(f):
    f.loc[:119, "income"] = np.nan
    return f


def plant_outliers(f):
    f.loc[:59, "debt"] = 40.0
    return f


def plant_skew(f):
    f["income"] = np.exp(f["debt"] * 1.5)
    return f


def plant_imbalance(f):
    f["defaulted"] = (np.arange(len(f)) < 50).astype(int)
    return f


def plant_duplicates(f):
    return pd.concat([f, f.iloc[100:125]], ignore_index=True)


def plant_constant(f):
    f["currency"] = "EUR"
    return f


def plant_unseen(f):
    f.loc[:29, "region"] = "west"
    return f


CHECKS = {
    "missing": (dq.missing, plant_missing, ["income 6% missing (120/2000) > 0%"]),
    "outliers": (dq.outliers, plant_outliers, ["debt 3% outside", "(60 values) > 1%"]),
    "skew": (dq.skew, plant_skew, ["income skewness +", "> 2 in absolute value"]),
    "class_balance": (dq.class_balance, plant_imbalance, ["class 1 of 'defaulted' 2.50% (50/2000) < 5%"]),
    "duplicates": (dq.duplicates, plant_duplicates, ["25 duplicate row(s) of 2025 (1.23%) > 0%",
                                                     "first at rows 2000, 2001"]),
    "constant": (dq.constant_columns, plant_constant, ["currency is constant ('EUR', 0 missing)"]),
}


@pytest.mark.parametrize("name", CHECKS)
def test_check_passes_on_clean_data_and_fails_on_the_planted_defect(name):
    check, plant, expected = CHECKS[name]
    good = check(ds(clean()))
    assert good.outcome == PASSED, good.message
    assert good.kind == "data_quality" and isinstance(good.details["table"], list)
    bad = check(ds(plant(clean())))
    assert bad.outcome == FAILED
    for text in expected:
        assert text in bad.message
    json.dumps(bad.to_dict())


def test_unseen_categories_against_the_reference():
    reference = ds(clean(seed=1), "reference")
    assert dq.unseen_categories(ds(clean()), reference).outcome == PASSED
    bad = dq.unseen_categories(ds(plant_unseen(clean())), reference)
    assert bad.outcome == FAILED
    assert "region 1.50% of rows (30) have categories not in 'reference' ['west'] > 0%" in bad.message
    row = next(r for r in bad.details["table"] if r["column"] == "region")
    assert row["unseen_values"] == ["west"] and row["rows"] == 30


def test_overlap_finds_holdout_rows_present_in_training_across_dtypes():
    train, holdout = clean(seed=1), clean(seed=2)
    assert dq.overlap(ds(holdout), ds(train, "reference")).outcome == PASSED
    leaked = pd.concat([holdout, train.iloc[:40]], ignore_index=True)
    # the same rows read back from another file format: ints as floats, text as objects
    train_csv = train.astype({"visits": "float64", "region": object})
    bad = dq.overlap(ds(leaked), ds(train_csv, "reference"))
    assert bad.outcome == FAILED
    assert "40 of 2040 rows (1.96%) also in 'reference' > 0%" in bad.message
    assert [r["row"] for r in bad.details["table"]][:3] == [2000, 2001, 2002]


def test_checks_report_one_row_per_column_with_the_numbers():
    frame = plant_missing(clean())
    check = dq.missing(ds(frame))
    table = {r["column"]: r for r in check.details["table"]}
    assert set(table) == set(frame.columns)
    assert table["income"] == {"column": "income", "missing": 120, "rate": 0.06, "limit": 0.0, "outcome": FAILED}
    assert check.candidate == 0.06 and check.threshold == "<= 0"


def test_per_column_limits_and_skipping():
    frame = plant_missing(plant_outliers(clean()))
    assert dq.missing(ds(frame), {"income": 0.1}).outcome == PASSED
    assert dq.missing(ds(frame), {"income": None}).outcome == PASSED
    per_column = dq.missing(ds(frame), {"income": 0.05, "*": 0.0})
    assert per_column.outcome == FAILED and per_column.threshold == "per column"
    assert dq.outliers(ds(frame), max_rate={"debt": 0.05}).outcome == PASSED
    assert dq.outliers(ds(frame), columns=["income"]).outcome == PASSED
    with pytest.raises(MlgateError, match="column 'nope' not found"):
        dq.missing(ds(frame), columns=["nope"])
    with pytest.raises(MlgateError, match="column 'region' is not numeric"):
        dq.skew(ds(frame), columns=["region"])


def test_outlier_methods_and_indicator_columns():
    frame = clean()
    frame.loc[:9, "debt"] = 8.0  # 0.5%: beyond 3 standard deviations and beyond 3 IQRs
    for method in ("iqr", "zscore"):
        check = dq.outliers(ds(frame), method, max_rate=0.001)
        row = next(r for r in check.details["table"] if r["column"] == "debt")
        assert check.outcome == FAILED and row["outliers"] >= 10, (method, row)
    flag = next(r for r in dq.outliers(ds(frame)).details["table"] if r["column"] == "flag")
    assert flag["outcome"] == "skipped"  # two-valued indicator
    with pytest.raises(MlgateError, match="method must be one of iqr, zscore, got 'mad'"):
        dq.outliers(ds(frame), "mad")


def test_counts_are_exact_when_statistics_come_from_a_sample(monkeypatch):
    monkeypatch.setattr(col, "SAMPLE_ROWS", 500)
    frame = clean(20_000)
    frame.loc[::200, "debt"] = 25.0  # exactly 100 values
    check = dq.outliers(ds(frame))
    row = next(r for r in check.details["table"] if r["column"] == "debt")
    assert row["outliers"] == 100 and check.details["sample_rows"] == 500
    assert col.profile(ds(frame)).sample_index is not None


def test_not_applicable_and_empty():
    text_only = pd.DataFrame({"a": ["x", "y"], "defaulted": [0, 1]})
    assert dq.skew(ds(text_only)).outcome == NOT_APPLICABLE
    assert dq.missing(ds(clean().iloc[:0])).outcome == TOO_SMALL
    one_class = clean().assign(defaulted=1)
    check = dq.class_balance(ds(one_class))
    assert check.outcome == FAILED and "single class (2000 rows)" in check.message


def test_duplicates_match_pandas_including_nan_negative_zero_and_text_only_frames():
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"a": rng.integers(0, 3, 3000).astype(float), "b": rng.choice(["x", "y"], 3000),
                          "c": rng.integers(0, 4, 3000)})
    frame.loc[::7, "a"] = np.nan
    frame.loc[::11, "a"] = -0.0
    expected = np.flatnonzero(frame.duplicated().to_numpy())
    assert duplicated_rows(frame, list(frame.columns)).tolist() == expected.tolist()
    text = frame[["b"]].assign(d=frame["c"].astype(str))
    assert duplicated_rows(text, ["b", "d"]).tolist() == np.flatnonzero(text.duplicated()).tolist()


def test_shared_rows_survive_a_float_s_last_bits_but_not_a_different_value():
    base = pd.DataFrame({"x": np.random.default_rng(6).normal(size=50), "id": np.arange(10**9, 10**9 + 50)})
    reread = base.assign(x=np.nextafter(base["x"], np.inf))  # what a non-round-trip CSV reader returns
    assert shared_rows(base, reread, ["x", "id"]).tolist() == list(range(50))
    assert shared_rows(base, base.assign(id=base["id"] + 1), ["x", "id"]).tolist() == []
    assert shared_rows(base, base.assign(x=base["x"] * (1 + 1e-9)), ["x", "id"]).tolist() == []


def test_shared_rows_are_exact():
    left = pd.DataFrame({"x": [1.0, 2.0, np.nan, 4.0], "t": ["a", "b", "c", "d"]})
    right = pd.DataFrame({"x": [4, 2, 9], "t": ["d", "z", "c"]}).astype({"x": "float64"})
    right.loc[2, "x"] = np.nan
    assert shared_rows(left, right, ["x", "t"]).tolist() == [2, 3]
    text_left = pd.DataFrame({"t": pd.array(["a", "b", None], dtype="string")})
    text_right = pd.DataFrame({"t": ["b", None, "z"]}, dtype=object)
    assert shared_rows(text_left, text_right, ["t"]).tolist() == [1, 2]


def test_duplicates_and_overlap_are_exact_on_frames_large_enough_for_the_big_bucket_tables():
    rng = np.random.default_rng(8)
    n = 600_000  # over (1 << 22) // 8 rows: the first filtering round uses the full-size table
    frame = pd.DataFrame({"x": rng.normal(size=n), "k": rng.integers(0, 50, n)})
    frame.iloc[n - 300:] = frame.iloc[1000:1300].to_numpy()
    other = pd.DataFrame({"x": rng.normal(size=n), "k": rng.integers(0, 50, n)})
    other.iloc[:200] = frame.iloc[5000:5200].to_numpy()
    columns = ["x", "k"]
    assert duplicated_rows(frame, columns).tolist() == np.flatnonzero(frame.duplicated().to_numpy()).tolist()
    expected = frame.reset_index().merge(other, on=columns)["index"].drop_duplicates().sort_values()
    assert shared_rows(frame, other, columns).tolist() == expected.tolist()


# ---------------------------------------------------------------- schemas


def test_schema_failure_message_counts_and_shows_first_cases(tmp_path):
    class Credit(pa.DataFrameModel):
        income: float = pa.Field(ge=0, nullable=False)
        region: str = pa.Field(isin=["north", "south", "east"])

    frame = plant_unseen(clean())
    frame.loc[100, "income"] = -5.0
    frame.loc[101, "income"] = np.nan
    check = dq.schema_check(ds(frame), Credit, Settings(root=tmp_path))
    assert check.outcome == FAILED and check.candidate == 32
    assert check.message.startswith("dataset 'holdout' fails schema Credit: 3 check(s) failed, 32 failure case(s): ")
    assert check.message.endswith(
        "region isin(['north', 'south', 'east']): 'west' row 0 (30 cases); income greater_than_or_equal_to(0): "
        "-5.0 row 100 (1 case); income not_nullable: nan row 101 (1 case); all cases in the report")
    assert {"column": "income", "check": "greater_than_or_equal_to(0)", "cases": 1} in check.details["failed_checks"]
    rows = check.details["table"]
    assert len(rows) == 32 and {"column": "region", "check": "isin(['north', 'south', 'east'])",
                                "failure_case": "west", "index": 0, "schema_context": "Column"} in rows
    json.dumps(check.to_dict())
    assert dq.schema_check(ds(clean()), Credit, Settings(root=tmp_path)).outcome == PASSED


def test_schema_file_round_trip_via_the_command(tmp_path, capsys):
    data = tmp_path / "train.csv"
    clean().to_csv(data, index=False)
    assert main(["schema", "infer", str(data), "-o", str(tmp_path / "schemas" / "credit.yaml")]) == 0
    assert main(["schema", "infer", str(data), "-o", str(tmp_path / "credit.json")]) == 0
    assert "wrote" in capsys.readouterr().out
    settings = Settings(root=tmp_path)
    for spec in ("schemas/credit.yaml", "credit.json"):
        assert dq.schema_check(ds(pd.read_csv(data)), spec, settings).outcome == PASSED
        broken = pd.read_csv(data)
        broken.loc[0, "income"] = 1e6
        assert "income in_range" in dq.schema_check(ds(broken), spec, settings).message
    assert main(["schema", "infer", str(data)]) == 0
    assert "schema_type: dataframe" in capsys.readouterr().out


def test_schema_command_one_line_errors(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("not a table")
    (tmp_path / "broken.parquet").write_bytes(b"\x00garbage")
    assert main(["schema", "infer", str(tmp_path / "notes.txt")]) == 2
    assert main(["schema", "infer", str(tmp_path / "broken.parquet")]) == 2
    assert main(["schema", "infer", str(tmp_path / "absent.csv")]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert errors[0] == f"mlgate: error: {tmp_path / 'notes.txt'}: not a tabular file (supported: .csv, .parquet, .pq)"
    assert errors[1].startswith(f"mlgate: error: schema infer: cannot load {tmp_path / 'broken.parquet'}: ")
    assert errors[2] == f"mlgate: error: {tmp_path / 'absent.csv'}: file not found"


def test_inferred_schema_keeps_dtypes_nullability_and_widened_ranges(tmp_path):
    reference, holdout = ds(clean(seed=1), "reference"), ds(clean(seed=2))
    assert dq.schema_check(holdout, "infer", Settings(root=tmp_path), reference).outcome == PASSED
    with_nulls = plant_missing(clean(seed=2))
    check = dq.schema_check(ds(with_nulls), "infer", Settings(root=tmp_path), reference)
    assert check.outcome == FAILED
    assert check.details["failed_checks"][0] == {"column": "income", "check": "missing_share_within(0/2000 + 0.01)",
                                                 "cases": 120}
    assert "inferred from 'reference'" in check.message


@pytest.mark.parametrize(("content", "name", "error"), [
    (None, "absent.yaml", "schema file {path} not found"),
    ("columns: [1, 2\n", "bad.yaml", "schema file {path} is not a valid pandera schema: ParserError"),
    ("{not json", "bad.json", "schema file {path} is not a valid pandera schema: JSONDecodeError"),
    ("owner: me\n", "other.yaml", "schema file {path} defines no columns"),
    ("a,b\n", "schema.csv", "schema file {path}: unsupported format .csv"),
])
def test_bad_schema_files_are_one_line_errors(tmp_path, content, name, error):
    if content is not None:
        (tmp_path / name).write_text(content)
    with pytest.raises(MlgateError) as info:
        dq.schema_check(ds(clean()), name, Settings(root=tmp_path))
    assert str(info.value).startswith(error.format(path=tmp_path / name))
    assert "\n" not in str(info.value)


def test_schema_column_absent_from_the_data_is_an_error(tmp_path):
    schema = pa.DataFrameSchema({"income": pa.Column(float), "salary": pa.Column(float)}, name="credit")
    with pytest.raises(MlgateError, match="^schema credit: column\\(s\\) salary not in dataset 'holdout'$"):
        dq.schema_check(ds(clean()), schema, Settings(root=tmp_path))


def _edge_frame() -> pd.DataFrame:
    frame = clean(500)
    frame["income"] = frame["income"].where(frame.index % 50 != 7)  # NaN in a float column
    frame["big"] = np.arange(500, dtype=np.int64) + 2 ** 53  # ints a float64 cannot all tell apart
    frame["score"] = 2.5 + np.linspace(0, 0.9, 500)  # 2 or 3 once coerced to int
    return frame


def _custom_named_like_a_built_in() -> pa.Check:
    return pa.Check(lambda s: s < 1, name="greater_than_or_equal_to", statistics={"min_value": -100})


@pytest.mark.parametrize("columns", [
    {"income": pa.Column(float, pa.Check.in_range(20, 80)), "visits": pa.Column(int, pa.Check.ge(0))},
    {"income": pa.Column(float, pa.Check.in_range(0, 100, include_min=False), nullable=True)},
    {"income": pa.Column(float, pa.Check.ge(0, ignore_na=False), nullable=True)},
    {"income": pa.Column(float, nullable=False), "debt": pa.Column(float, nullable=False)},
    {"visits": pa.Column(int, [pa.Check.gt(0), pa.Check.lt(29), pa.Check.le(29)])},
    {"visits": pa.Column(int, pa.Check.in_range(0, 29, include_min=False, include_max=False))},
    {"visits": pa.Column(int, pa.Check.in_range(0, 100, include_min=False))},
    {"big": pa.Column(int, pa.Check.gt(float(2 ** 53)))},  # compared in float64: rows 0 and 1 fail
    {"big": pa.Column(int, pa.Check.ge(2 ** 53 + 1))},  # compared exactly: row 0 fails
    {"debt": pa.Column(float, _custom_named_like_a_built_in())},
    {"score": pa.Column(int, pa.Check.ge(2.1), coerce=True)},  # coerced first: 2.5 becomes 2 and fails
    {"region": pa.Column(str, pa.Check.isin(["north", "south"]), nullable=False)},
])
def test_schema_settled_from_statistics_reports_exactly_what_pandera_reports(tmp_path, columns):
    from pytest_mlgate.checks import schemas
    from pytest_mlgate.checks.profile import Profile

    frame = _edge_frame()
    schema = pa.DataFrameSchema(columns, name="edge")
    plain = schemas.validate(ds(frame), schema, "edge")  # pandera on the whole schema
    shared = schemas.validate(ds(frame), schema, "edge", stats=Profile(frame))
    assert (shared.outcome, shared.candidate, shared.message) == (plain.outcome, plain.candidate, plain.message)
    for key in ("table", "failed_checks"):  # as JSON: NaN failure cases compare equal
        assert json.dumps(shared.details.get(key)) == json.dumps(plain.details.get(key))


def test_schema_settles_proven_checks_without_pandera_and_leaves_the_data_alone(tmp_path):
    from pytest_mlgate.checks import schemas
    from pytest_mlgate.checks.profile import Profile

    frame = _edge_frame().dropna()
    inferred = schemas.infer(frame)
    check = schemas.validate(ds(frame), inferred, "inferred", stats=Profile(frame))
    ranged = sum(len(c.checks) - 1 for n, c in inferred.columns.items() if frame[n].dtype.kind in "if")
    assert check.outcome == PASSED
    assert check.details["settled_from_statistics"] == ranged + len(frame.columns)  # ranges and null shares
    rest, proven = schemas.settled(inferred, frame, Profile(frame))
    assert proven == ranged + len(frame.columns)
    assert not any(c.checks for n, c in rest.columns.items() if frame[n].dtype.kind in "if")  # domains stay
    assert not any(c.name == "missing_share_within" for column in rest.columns.values() for c in column.checks)

    coercing = pa.DataFrameSchema({"visits": pa.Column(float, coerce=True)})
    before = frame["visits"].copy()
    assert schemas.validate(ds(frame), coercing, "coercing", stats=Profile(frame)).outcome == PASSED
    assert frame["visits"].dtype == np.int64 and frame["visits"].equals(before)


# ---------------------------------------------------------------- end to end


ALL_GATES = """
import pandera.pandas as pa

class Credit(pa.DataFrameModel):
    income: float
    region: str = pa.Field(isin=["north", "south", "east"])

def test_schema_model(mlgate):
    mlgate.schema("holdout", Credit)

def test_schema_inferred(mlgate):
    mlgate.schema("holdout", "infer")

def test_missing(mlgate):
    mlgate.no_missing("holdout")

def test_outliers(mlgate):
    mlgate.no_outliers("holdout", method="zscore")

def test_skew(mlgate):
    mlgate.no_skew("holdout")

def test_balance(mlgate):
    mlgate.class_balance("holdout")

def test_duplicates(mlgate):
    mlgate.no_duplicates("holdout")

def test_constant(mlgate):
    mlgate.no_constant_columns("holdout")

def test_unseen(mlgate):
    mlgate.no_unseen_categories("holdout", "reference")

def test_overlap(mlgate):
    mlgate.no_overlap("holdout", "reference")
"""


def broken_batch(holdout: Path, train: Path) -> pd.DataFrame:
    """The project's holdout with one defect per check planted, each on its own rows."""
    frame = pd.read_csv(holdout)
    frame.loc[:99, "income"] = np.nan
    frame.loc[100:199, "debt"] = 60.0
    frame["tenure"] = np.exp(frame["tenure"] * 2)
    frame["defaulted"] = ((frame.index >= 1500) & (frame.index < 1560)).astype(int)
    frame["batch"] = "2026-11"
    frame.loc[300:339, "region"] = "west"
    leaked = pd.read_parquet(train).iloc[:50].assign(batch="2026-11")
    frame = pd.concat([frame, frame.iloc[500:520], leaked], ignore_index=True)
    return frame


def test_gates_pass_on_the_clean_project(project):
    project.gates(ALL_GATES)
    result = project.run()
    result.assert_outcomes(passed=10)
    decision = project.decision
    assert decision["decision"] == "approved"
    checks = [c for g in decision["gates"] for c in g["checks"]]
    assert len(checks) == 10 and {c["kind"] for c in checks} == {"data_quality"}
    assert all(c["outcome"] == "passed" and "table" in c["details"] for c in checks)


def test_gates_catch_a_broken_batch(project):
    batch = broken_batch(project.path / "holdout.csv", project.path / "train.parquet")
    batch.to_csv(project.path / "batch.csv", index=False)
    n, positives = len(batch), int(batch["defaulted"].sum())

    def pct(count: int) -> str:
        return f"{count / n * 100:.2f}%"

    project.configure(datasets='holdout = "batch.csv"\nreference = "train.parquet"')
    project.gates(ALL_GATES)
    result = project.run()
    result.assert_outcomes(failed=10)
    decision = project.decision
    assert decision["decision"] == "rejected"
    messages = {g["gate"].split("::")[-1]: g["message"] for g in decision["gates"]}
    assert messages["test_schema_model"] == (
        "dataset 'holdout' fails schema Credit: 2 check(s) failed, 140 failure case(s): "
        "income not_nullable: nan row 0 (100 cases); region isin(['north', 'south', 'east']): 'west' row 300 "
        "(40 cases); all cases in the report")
    assert re.search(r"income missing_share_within\(0/\d+ \+ 0\.01\): nan row 0 \(100 cases\)",
                     messages["test_schema_inferred"])
    assert f"income {pct(100)} missing (100/{n}) > 0%" in messages["test_missing"]
    assert re.search(r"debt 5\.\d+% outside \[.*\] \(\d+ values\) against 0\.\d+% in the reference: excess",
                     messages["test_outliers"])
    assert "tenure skewness +" in messages["test_skew"]
    assert f"class 1 of 'defaulted' {pct(positives)} ({positives}/{n}) < 5%" in messages["test_balance"]
    assert f"20 duplicate row(s) of {n} ({pct(20)}) > 0%" in messages["test_duplicates"]
    assert "batch is constant ('2026-11', 0 missing)" in messages["test_constant"]
    assert f"region {pct(40)} of rows (40) have categories not in 'reference' ['west'] > 0%" in messages["test_unseen"]
    assert f"50 of {n} rows ({pct(50)}) also in 'reference' > 0%" in messages["test_overlap"]
    assert f"income {pct(100)} missing (100/{n})" in project.junit


def test_bad_inputs_fail_closed_with_one_line_errors(project):
    (project.path / "schemas").mkdir()
    (project.path / "schemas" / "broken.yaml").write_text("columns: [income\n")
    (project.path / "notes.txt").write_text("meeting notes, not a table\n")
    project.configure(datasets='holdout = "holdout.csv"\nreference = "train.parquet"\nnotes = "notes.txt"')
    project.gates("""
import pandera.pandas as pa

def test_missing_file(mlgate):
    mlgate.schema("holdout", "schemas/absent.yaml")

def test_malformed_file(mlgate):
    mlgate.schema("holdout", "schemas/broken.yaml")

def test_absent_column(mlgate):
    mlgate.schema("holdout", pa.DataFrameSchema({"salary": pa.Column(float)}, name="payroll"))

def test_not_tabular(mlgate):
    mlgate.no_missing("notes")
""")
    result = project.run()
    result.assert_outcomes(failed=4)
    decision = project.decision
    assert decision["decision"] == "rejected"
    errors = {g["gate"].split("::")[-1]: g for g in decision["gates"]}
    assert all(g["outcome"] == "error" for g in errors.values())
    assert errors["test_missing_file"]["message"] == f"schema file {project.path / 'schemas' / 'absent.yaml'} not found"
    assert errors["test_malformed_file"]["message"].startswith(
        f"schema file {project.path / 'schemas' / 'broken.yaml'} is not a valid pandera schema: ")
    assert errors["test_absent_column"]["message"] == "schema payroll: column(s) salary not in dataset 'holdout'"
    assert "notes.txt" in errors["test_not_tabular"]["message"]
    result.stdout.fnmatch_lines(["*test_absent_column: schema payroll: column(s) salary not in dataset 'holdout'*"])


def test_skewness_matches_scipy():
    from scipy.stats import skew

    values = np.random.default_rng(5).lognormal(0, 0.7, 5000)
    assert dq._skewness(values) == pytest.approx(skew(values, bias=False), rel=1e-9)


def test_profile_missing_counts_ranges_and_sample_for_every_kind_of_column():
    from pytest_mlgate.checks.profile import Profile

    frame = pd.DataFrame({"f": [1.0, np.nan, 3.0, -2.0], "empty": np.nan, "i": [4, 1, 9, 2],
                          "nullable": pd.array([1, None, 5, 2], dtype="Int64"),
                          "f32": np.array([np.nan, 1, 2, 3], dtype=np.float32), "b": [True, False, True, True],
                          "t": ["a", None, "b", "c"]})
    stats = Profile(frame, sample_rows=3)
    assert {c: stats.missing(c) for c in frame} == {"f": 1, "empty": 4, "i": 0, "nullable": 1, "f32": 1, "b": 0,
                                                    "t": 1}
    assert stats.value_range("f") == (-2.0, 3.0) and stats.value_range("i") == (1.0, 9.0)
    assert stats.value_range("nullable") == (1.0, 5.0) and np.isnan(stats.value_range("empty")).all()
    expected = frame[stats.numeric].to_numpy(dtype=float, na_value=np.nan)[stats.sample_index].T
    np.testing.assert_array_equal(stats.sample_matrix, expected)


def test_sample_quantiles_and_quartiles_match_numpy_per_column():
    from pytest_mlgate.checks.profile import Profile

    frame = clean(30_000)
    frame.loc[::3, "income"] = np.nan
    frame["empty"] = np.nan
    stats = Profile(frame, sample_rows=10_000)
    levels = np.array([0.05, 0.25, 0.5, 0.75, 0.95])
    found = stats.sample_quantiles(levels, rows=2_000)
    for i, column in enumerate(stats.numeric):
        sample = frame[column].to_numpy(dtype=float)[stats.sample_index]
        if column == "empty":
            assert np.isnan(found[i]).all() and np.isnan(stats.quartiles[column]).all()
            continue
        assert found[i] == pytest.approx(np.nanpercentile(sample[::5], levels * 100))
        assert stats.quartiles[column] == pytest.approx(tuple(np.nanpercentile(sample, [25, 75])))


# ---------------------------------------------------------------- the example project

EXAMPLE = Path(__file__).resolve().parents[1] / "example_project"


@pytest.fixture
def example(pytester, monkeypatch):
    """The example's config, schema and data quality gates with its seeded data (no models needed)."""
    import shutil

    monkeypatch.syspath_prepend(str(EXAMPLE))
    from data import credit_frame
    from quality_data import write_broken_batch

    # the gate module is renamed: this test module already holds the name test_data_quality
    copies = {"pyproject.toml": "pyproject.toml", "schemas/credit.yaml": "schemas/credit.yaml",
              "gates/test_data_quality.py": "gates/test_example_quality.py"}
    for source, target in copies.items():
        (pytester.path / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(EXAMPLE / source, pytester.path / target)
    data = pytester.path / "data"
    data.mkdir()
    frame = credit_frame(20_000, seed=7)  # as train.py writes them
    frame.iloc[:14_000].to_parquet(data / "train.parquet", index=False)
    frame.iloc[14_000:].to_parquet(data / "holdout.parquet", index=False)
    credit_frame(5_000, seed=8).to_parquet(data / "current.parquet", index=False)
    write_broken_batch(data)
    return pytester


def test_example_gates_pass_on_the_clean_batch(example):
    example.runpytest("gates/test_example_quality.py").assert_outcomes(passed=13)
    assert json.loads((example.path / "reports" / "decision.json").read_text())["decision"] == "approved"


def test_example_gates_catch_the_broken_batch(example):
    broken_run = example.runpytest("gates/test_example_quality.py", "--mlgate-dataset",
                                   "current=data/broken_batch.parquet")
    broken_run.assert_outcomes(passed=6, failed=7)
    decision = json.loads((example.path / "reports" / "decision.json").read_text())
    assert decision["decision"] == "rejected"
    failed = {g["gate"].split("::")[-1]: g["message"] for g in decision["gates"] if g["outcome"] == "failed"}
    assert set(failed) == {"test_matches_schema[current]", "test_batch_is_complete", "test_batch_has_few_outliers",
                           "test_batch_is_not_skewed", "test_batch_has_no_duplicates",
                           "test_batch_has_only_known_categories", "test_batch_is_not_training_data"}
    assert "income 2.90% missing (150/5180) > 0%" in failed["test_batch_is_complete"]
    assert "employment 3.86% of rows (200) have categories not in 'reference' ['contractor']" in \
        failed["test_batch_has_only_known_categories"]
    assert "100 duplicate row(s) of 5180" in failed["test_batch_has_no_duplicates"]
    assert "80 of 5180 rows (1.54%) also in 'reference'" in failed["test_batch_is_not_training_data"]
    assert "loan_amount less_than_or_equal_to(500000)" in failed["test_matches_schema[current]"]


def test_unseen_categories_are_exact_when_the_reference_sample_misses_a_rare_value(monkeypatch):
    monkeypatch.setattr(col, "SAMPLE_ROWS", 100)
    reference = clean(5000, seed=1)
    reference.loc[4321, "region"] = "island"  # once in 5,000 rows: the 100-row sample misses it
    data = clean(500, seed=2)
    data.loc[:4, "region"] = "island"
    data.loc[5:6, "region"] = "moon"
    check = dq.unseen_categories(ds(data), ds(reference, "reference"))
    row = next(r for r in check.details["table"] if r["column"] == "region")
    assert row["unseen_values"] == ["moon"] and row["rows"] == 2
    assert col.profile(ds(reference, "reference")).sample_index is not None


# ---------------------------------------------------------------- outliers against the reference


def test_outliers_are_judged_against_the_reference_s_own_share():
    """A heavy-tailed column has far-out values in every batch: the reference shows how many."""
    rng = np.random.default_rng(11)

    def batch(n, seed):
        r = np.random.default_rng(seed)
        return pd.DataFrame({"amount": r.lognormal(0, 1.5, n), "x": r.normal(size=n), "defaulted": r.integers(0, 2, n)})

    reference, current = ds(batch(20_000, 1), "reference"), ds(batch(3_000, 2), "current")
    absolute = dq.outliers(current)
    assert absolute.outcome == FAILED  # the old rule: more than 1% beyond the fences
    relative = dq.outliers(current, reference=reference)
    assert relative.outcome == PASSED, relative.message
    row = next(r for r in relative.details["table"] if r["column"] == "amount")
    assert row["reference_rate"] > 0.01 and abs(row["excess"]) < 0.01 and "p_value" in row
    assert "against" in relative.message and relative.details["reference"] == "reference"
    broken = current.frame.copy()
    broken.loc[rng.choice(3000, 150, replace=False), "x"] = 40.0  # 5% far out where the reference has none
    check = dq.outliers(ds(broken, "current"), reference=reference)
    assert check.outcome == FAILED and "x 5% outside" in check.message and "excess 5%" in check.message
    few = broken.copy()
    few["x"] = current.frame["x"]
    few.loc[:2, "x"] = 40.0  # 3 values: significant, but an excess below the 1% effect threshold
    assert dq.outliers(ds(few, "current"), reference=reference).outcome == PASSED


def test_clean_batches_of_bundled_data_pass_the_default_outlier_gate():
    for name in ("breast_cancer", "wine", "diabetes", "digits"):
        frame = getattr(datasets, f"load_{name}")(as_frame=True).frame
        for seed in range(20):
            order = np.random.default_rng(seed).permutation(len(frame))
            half = len(frame) // 2
            ref, cur = Dataset("reference", frame.iloc[order[:half]], "target"), \
                Dataset("current", frame.iloc[order[half:]], "target")
            check = dq.outliers(cur, reference=ref)
            assert check.outcome == PASSED, (name, seed, check.message)
