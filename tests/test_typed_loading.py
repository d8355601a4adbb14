"""Typed loading: datasets read with the reference's column types, differences reported, lossy casts refused."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from pytest_mlgate.config import build
from pytest_mlgate.errors import MlgateError
from pytest_mlgate.evaluate import dtypes
from pytest_mlgate.evaluate.streamed import StreamedDataset
from pytest_mlgate.evaluate.workspace import Workspace

TINY_BUDGET = "2KiB"


def training(n: int = 600, seed: int = 0) -> pd.DataFrame:
    """Rows as a training job holds them: text with None for missing, integers, categories,
    booleans, datetimes and a binary target that the text and the integers predict."""
    rng = np.random.default_rng(seed)
    plan = rng.choice(["basic", "plus", None], n, p=[0.45, 0.35, 0.2])
    visits = rng.integers(0, 20, n)
    frame = pd.DataFrame({
        "plan": pd.Series(plan, dtype=object),
        "zip": pd.Series([f"{z:05d}" for z in rng.integers(0, 3000, n)], dtype=object),
        "visits": visits,
        "tier": pd.Categorical(rng.choice(["gold", "silver", "bronze"], n), categories=["gold", "silver", "bronze"]),
        "active": rng.random(n) < 0.5,
        "since": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D"),
    })
    logit = np.select([plan == "basic", plan == "plus"], [-1.0, 1.0], 2.5) + 0.1 * (visits - 10)
    frame["churned"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


def workspace(root: Path, **settings) -> Workspace:
    table = {"target": "churned", "datasets": {"reference": "train.parquet", "holdout": "holdout.parquet"}}
    return Workspace(build(root, {**table, **settings}))


def test_missing_text_arrives_as_the_reference_holds_it(tmp_path: Path) -> None:
    train = training()
    train.to_parquet(tmp_path / "train.parquet")
    holdout = training(seed=1)
    holdout.astype({"plan": "str"}).to_parquet(tmp_path / "holdout.parquet")  # written where text is pandas' str
    assert pd.read_parquet(tmp_path / "train.parquet")["plan"].isna().sum() and not any(
        v is None for v in pd.read_parquet(tmp_path / "train.parquet")["plan"])  # pandas' default read: NaN
    ws = workspace(tmp_path)
    reference, typed = ws.dataset("reference"), ws.dataset("holdout")
    for data, rows in ((reference, train), (typed, holdout)):
        assert data.frame["plan"].dtype == object
        missing = data.frame["plan"][data.frame["plan"].isna()]
        assert len(missing) == rows["plan"].isna().sum() and all(v is None for v in missing)
    assert reference.dtype_mismatches == []  # the reference is read as it was written
    assert [m.to_dict() for m in typed.dtype_mismatches] == [
        {"column": "plan", "expected": "object", "found": "str", "read_as": "object"}]
    assert typed.fingerprint()["dtype_mismatches"][0]["column"] == "plan"


def test_a_csv_holdout_gets_the_reference_types(tmp_path: Path) -> None:
    training().to_parquet(tmp_path / "train.parquet")
    holdout = training(seed=2)
    holdout["visits"] = holdout["visits"].astype(float).where(np.arange(len(holdout)) % 7 != 0)  # nulls
    holdout["tier"] = holdout["tier"].astype(object)
    holdout.loc[0, "tier"] = "platinum"  # a category the reference never saw
    holdout["active"] = holdout["active"].astype(object)
    holdout.loc[1, "active"] = None
    holdout.to_csv(tmp_path / "holdout.csv", index=False)
    data = workspace(tmp_path, datasets={"reference": "train.parquet", "holdout": "holdout.csv"}).dataset("holdout")
    frame = data.frame
    assert pd.read_csv(tmp_path / "holdout.csv")["zip"].dtype == "int64"  # pandas' default: 01234 is 1234
    assert frame["zip"].tolist() == holdout["zip"].tolist()  # text read as text: leading zeros stay
    assert all(v is None for v in frame["plan"][frame["plan"].isna()]) and frame["plan"].isna().sum()
    assert frame["visits"].dtype == "float64"  # an integer column with nulls, as pandas holds one
    assert frame["visits"].isna().sum() == math.ceil(len(holdout) / 7)
    assert list(frame["tier"].cat.categories) == ["gold", "silver", "bronze", "platinum"]  # the reference's order
    assert frame["active"].dtype == object and frame["active"][1] is None and frame["active"][2] in (True, False)
    assert frame["since"].dtype == training()["since"].dtype and frame["since"].tolist() == holdout["since"].tolist()
    found = {m.column: (m.expected, m.found, m.read_as) for m in data.dtype_mismatches}
    assert found == {"visits": ("int64", "float64", "float64"), "tier": ("category", "str", "category"),
                     "active": ("bool", "object", "object"), "since": ("datetime64[us]", "str", "datetime64[us]")}


def test_streamed_and_in_memory_read_identical_values(tmp_path: Path) -> None:
    training().to_parquet(tmp_path / "train.parquet")
    holdout = training(n=900, seed=3)
    rows = np.arange(900)
    holdout["visits"] = holdout["visits"].astype("Int64").where((rows >= 300) | (rows % 5 != 0))  # nulls in part 0
    parts = tmp_path / "holdout"
    parts.mkdir()
    for i, piece in enumerate(np.array_split(rows, 3)):
        written = holdout.iloc[piece].astype({"plan": "str"}) if i == 1 else holdout.iloc[piece]
        written.to_parquet(parts / f"part-{i}.parquet", index=False)
    settings = {"datasets": {"reference": "train.parquet", "holdout": "holdout"}}
    in_memory = workspace(tmp_path, **settings).dataset("holdout")
    streamed = workspace(tmp_path, memory_budget=TINY_BUDGET, **settings).dataset("holdout")
    assert isinstance(streamed, StreamedDataset) and streamed.chunk_rows < 300
    chunks = list(streamed.parts.chunks(streamed.chunk_rows))
    assert len(chunks) > 3
    joined = pd.concat([c.astype({"tier": object}) for c in chunks], ignore_index=True)
    pd.testing.assert_frame_equal(joined, in_memory.frame.astype({"tier": object}))
    assert all(v is None for v in joined["plan"][joined["plan"].isna()]) and joined["visits"].dtype == "float64"
    assert [c["plan"].dtype for c in chunks] == [np.dtype(object)] * len(chunks)
    assert {str(c["visits"].dtype) for c in chunks} == {"float64"}  # chunks of parts without nulls too
    assert streamed.fingerprint()["dtype_mismatches"] == in_memory.fingerprint()["dtype_mismatches"]


def test_text_in_a_numeric_column_fails_closed(tmp_path: Path) -> None:
    training().to_parquet(tmp_path / "train.parquet")
    holdout = training(seed=4).astype({"visits": object})
    holdout.loc[3, "visits"] = "unknown"
    holdout.to_csv(tmp_path / "holdout.csv", index=False)
    ws = workspace(tmp_path, datasets={"reference": "train.parquet", "holdout": "holdout.csv"})
    with pytest.raises(MlgateError) as caught:
        ws.dataset("holdout")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"dataset 'holdout': {tmp_path / 'holdout.csv'}: column 'visits': text in a numeric "
                              "column (e.g. 'unknown')")
    assert message.endswith("the reference's type int64")


def test_a_lossy_cast_in_a_streamed_part_names_that_part(tmp_path: Path) -> None:
    training().to_parquet(tmp_path / "train.parquet")
    parts = tmp_path / "holdout"
    parts.mkdir()
    for i in range(3):
        piece = training(n=200, seed=10 + i)
        if i == 2:
            piece["visits"] = piece["visits"] + 0.5  # fractions where the reference has integers
        piece.to_parquet(parts / f"part-{i}.parquet", index=False)
    ws = workspace(tmp_path, memory_budget=TINY_BUDGET, datasets={"reference": "train.parquet", "holdout": "holdout"})
    data = ws.dataset("holdout")
    with pytest.raises(MlgateError, match=r"dataset 'holdout': \S+/holdout/part-2\.parquet: column 'visits': "
                                          r"fractions in an integer column \(e\.g\. \d+\.5\)"):
        list(data.parts.chunks(data.chunk_rows))


def test_a_configured_schema_sets_the_types(tmp_path: Path) -> None:
    training().to_parquet(tmp_path / "train.parquet")
    training(seed=5).to_csv(tmp_path / "holdout.csv", index=False)
    (tmp_path / "holdout.yaml").write_text(
        "schema_type: dataframe\nversion: 0.0.0\ncolumns:\n"
        "  visits:\n    dtype: float64\n    nullable: false\n"
        "  zip:\n    dtype: int64\n    nullable: false\n")
    data = workspace(tmp_path, datasets={"reference": "train.parquet", "holdout": "holdout.csv"},
                     schemas={"holdout": "holdout.yaml"}).dataset("holdout")
    assert data.frame["visits"].dtype == "float64" and data.frame["zip"].dtype == "int64"
    assert data.frame["plan"].dtype != object  # not in the schema: as pandas reads it
    assert {m.column for m in data.dtype_mismatches} == {"visits"}  # zip already reads as int64 from CSV


def test_cast_rules() -> None:
    col = dtypes.Column
    assert dtypes.cast(pd.Series([1, 2]), col(np.dtype("float64")), "x").tolist() == [1.0, 2.0]
    assert dtypes.cast(pd.Series([1.0, 2.0]), col(np.dtype("int64")), "x").dtype == "int64"
    assert dtypes.cast(pd.Series(["1", "2.5"]), col(np.dtype("float64")), "x").tolist() == [1.0, 2.5]
    assert dtypes.cast(pd.Series([0, 1]), col(np.dtype(bool)), "x").tolist() == [False, True]
    assert dtypes.cast(pd.Series(["a", np.nan], dtype=object), col(np.dtype(object), np.nan), "x")[1] is not None
    with pytest.raises(dtypes.Lossy, match="column 'x': int64 values where the reference has objects"):
        dtypes.cast(pd.Series([1, 2]), col(np.dtype(object)), "x")
    with pytest.raises(dtypes.Lossy, match="values that are not booleans"):
        dtypes.cast(pd.Series([0, 2]), col(np.dtype(bool)), "x")
    with pytest.raises(dtypes.Lossy, match="outside the range of int8"):
        dtypes.cast(pd.Series([1000]), col(np.dtype("int8")), "x")
    with pytest.raises(dtypes.Lossy, match="time zones differ"):
        dtypes.cast(pd.Series(pd.to_datetime(["2024-01-01"])), col(pd.DatetimeTZDtype("ns", "UTC")), "x")
    with pytest.raises(dtypes.Lossy, match="text that is not a datetime"):
        dtypes.cast(pd.Series(["2024-01-01", "soon"]), col(np.dtype("datetime64[ns]")), "x")


def pipeline():
    """A model whose text handling depends on how missing text arrives: fitted on None, it has a
    category for None; NaN is an unknown category (all zeros)."""
    text = OneHotEncoder(handle_unknown="ignore")
    return make_pipeline(ColumnTransformer([("plan", text, ["plan"]), ("num", SimpleImputer(), ["visits"])]),
                         LogisticRegression())


GATES = """
import pandas as pd
import pyarrow.parquet as pq
import skops.io as sio
from sklearn.metrics import roc_auc_score


def test_auc_is_the_models_own_on_the_reference_typed_frame(candidate, holdout):
    frame = pq.read_table("holdout.parquet").to_pandas()
    frame["plan"] = frame["plan"].astype(object).where(frame["plan"].notna(), None)  # as the model was fitted
    model = sio.load("candidate.skops", trusted=sio.get_untrusted_types(file="candidate.skops"))
    expected = roc_auc_score(frame["churned"], model.predict_proba(frame)[:, 1])
    assert candidate.metric("roc_auc", holdout) == expected


def test_visits(candidate, holdout):
    assert candidate.metric("accuracy", holdout) > 0.5
"""


def write_gate_project(root: Path, holdout_as_csv: bool = False) -> None:
    train = training(n=2000)
    train.to_parquet(root / "train.parquet")
    sio.dump(pipeline().fit(train[["plan", "visits"]], train["churned"]), root / "candidate.skops")
    holdout = training(n=1000, seed=7)
    holdout.to_parquet(root / "holdout.parquet")
    holdout_file = "holdout.parquet"
    if holdout_as_csv:
        holdout.assign(visits=holdout["visits"].where(holdout.index % 9 != 0)).to_csv(root / "holdout.csv", index=False)
        holdout_file = "holdout.csv"
    (root / "pyproject.toml").write_text(
        '[tool.mlgate]\ncandidate = "candidate.skops"\ntarget = "churned"\nmarkdown = "reports/gates.md"\n'
        f'skops_trusted = {json.dumps(sio.get_untrusted_types(file=root / "candidate.skops"))}\n'
        f'[tool.mlgate.datasets]\nreference = "train.parquet"\nholdout = "{holdout_file}"\n')


def test_metrics_equal_the_models_own_on_reference_typed_rows(pytester: pytest.Pytester) -> None:
    write_gate_project(pytester.path)
    # the control: pandas' default read gives the model NaN for missing text, and another AUC
    model = sio.load(pytester.path / "candidate.skops", trusted=sio.get_untrusted_types(
        file=pytester.path / "candidate.skops"))
    default = pd.read_parquet(pytester.path / "holdout.parquet")
    typed = default.assign(plan=default["plan"].astype(object).where(default["plan"].notna(), None))
    assert roc_auc_score(default["churned"], model.predict_proba(default)[:, 1]) != pytest.approx(
        roc_auc_score(typed["churned"], model.predict_proba(typed)[:, 1]), abs=1e-4)
    pytester.makepyfile(test_gates=GATES)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    assert "mlgate warning" not in result.stdout.str()  # the same types as the reference: nothing to report


def test_a_type_difference_is_reported_in_the_terminal_and_the_reports(pytester: pytest.Pytester) -> None:
    write_gate_project(pytester.path, holdout_as_csv=True)
    pytester.makepyfile(test_gates=GATES.split("def test_auc")[0] + "def test_visits" + GATES.split("def test_visits")[1])
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["mlgate warning: dataset 'holdout' (*holdout.csv): column 'visits' is float64 "
                                 "where the reference's is int64; read as float64"])
    record = json.loads((pytester.path / "reports" / "mlgate-decision.json").read_text())
    assert record["decision"] == "approved"
    found = record["datasets"]["holdout"]["dtype_mismatches"]
    assert {"column": "visits", "expected": "int64", "found": "float64", "read_as": "float64"} in found
    assert {m["column"] for m in found} == {"visits", "tier", "since"}  # CSV keeps no categories or datetimes
    assert "column 'visits' is float64 where the reference's is int64" in (
        pytester.path / "reports" / "gates.md").read_text()


def test_a_lossy_cast_fails_the_gate_with_one_line(pytester: pytest.Pytester) -> None:
    write_gate_project(pytester.path, holdout_as_csv=True)
    csv = pytester.path / "holdout.csv"
    rows = pd.read_csv(csv).astype({"visits": object})
    rows.loc[5, "visits"] = "three"
    rows.to_csv(csv, index=False)
    pytester.makepyfile(test_gates="def test_visits(candidate, holdout):\n    assert len(holdout)\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*dataset 'holdout': *holdout.csv: column 'visits': text in a numeric column "
                                 "(e.g. 'three'); cannot be read as the reference's type int64"])
    assert json.loads((pytester.path / "reports" / "mlgate-decision.json").read_text())["decision"] == "rejected"


def test_a_loading_hook_still_wins(pytester: pytest.Pytester) -> None:
    write_gate_project(pytester.path)
    pytester.makeconftest("""
import pandas as pd

def pytest_mlgate_load_dataset(path, settings):
    if path.name == "holdout.parquet":
        return pd.read_parquet(path).astype({"visits": "float64"})
""")
    pytester.makepyfile(test_gates="""
def test_hook_frame(holdout):
    assert holdout.frame["visits"].dtype == "float64"
    assert holdout.frame["plan"].dtype != object  # as the hook returned it, not cast
""")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["mlgate warning: dataset 'holdout' (*): column 'visits' is float64 where the "
                                 "reference's is int64; read as float64, unchanged (a pytest_mlgate_load_dataset "
                                 "hook loaded it)"])


def test_a_schema_for_an_unknown_dataset_or_a_bad_schema_file_is_one_line(tmp_path: Path) -> None:
    from pytest_mlgate.errors import ConfigError
    from pytest_mlgate.validation import check_settings

    settings = build(tmp_path, {"datasets": {"holdout": "h.csv"}, "schemas": {"holdot": "s.yaml"}})
    with pytest.raises(ConfigError, match=r"^mlgate config: 'schemas' names 'holdot', which is no configured "
                                          r"dataset \(known: holdout\)$"):
        check_settings(settings)
    training().to_csv(tmp_path / "holdout.csv", index=False)
    (tmp_path / "bad.yaml").write_text("columns: [")
    ws = workspace(tmp_path, datasets={"holdout": "holdout.csv"}, schemas={"holdout": "bad.yaml"})
    with pytest.raises(MlgateError, match=r"^dataset 'holdout': the column types to read it with are unknown: "
                                          r"schema file \S+bad.yaml is not a valid pandera schema"):
        ws.dataset("holdout")
