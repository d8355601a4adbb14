"""Gates that read rows at once on streamed datasets: drift methods that need rows (``cvm``,
alibi-detect detectors) and the other row gates run on a seeded sample and say so; duplicates and
overlap use a content-hash sample that keeps every copy of a row together."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from engine_scenarios import TINY_BUDGET, workspace, write_project, write_regression_project

from pytest_mlgate.gates import MlGate

ROWS = 3000


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_project(tmp_path_factory.mktemp("sampled"), rows=ROWS)


def cvm_gates(ws, target: str = "defaulted") -> list:
    gate = MlGate("g", ws)
    for call in (lambda: gate.no_drift("reference", "current", method="cvm"),
                 lambda: gate.no_prediction_drift("reference", "current", method="cvm"),
                 lambda: gate.no_label_drift("reference", "current", method="cvm")):
        try:
            call()
        except AssertionError:
            pass  # a failing check is recorded
    return gate.checks


def tables(checks: list) -> list:
    return [(c.name, c.outcome, c.candidate, c.details["drifted"], c.details["table"]) for c in checks]


def test_a_sample_as_large_as_the_data_gives_the_in_memory_result(project: Path) -> None:
    expected = cvm_gates(workspace(project))
    got = cvm_gates(workspace(project, memory_budget=TINY_BUDGET, sample_rows=10 * ROWS))
    assert workspace(project, memory_budget=TINY_BUDGET).dataset("current").streamed
    assert [c.outcome for c in expected] == ["failed", "failed", "passed"]  # income and the score shift
    assert tables(got) == tables(expected)
    income = next(row for row in got[0].details["table"] if row.get("feature") == "income")
    assert income["test"] == "cvm"


def test_a_smaller_sample_is_stated_on_every_check(project: Path) -> None:
    checks = cvm_gates(workspace(project, memory_budget=TINY_BUDGET, sample_rows=500))
    assert len(checks) == 3
    for check in checks:
        assert check.details["sampled_rows"] == 500
        assert f"uniform sample of 500 of {ROWS} rows" in check.message
    assert "income" in checks[0].details["drifted"]


def test_a_sampled_reference_is_stated_too(project: Path) -> None:
    ws = workspace(project, memory_budget=TINY_BUDGET, sample_rows=500)
    current = pd.read_parquet(project / "current")  # in memory: only the reference is sampled
    check = MlGate("g", ws).no_drift("reference", current, method="cvm")[0]
    assert check.details["sampled_rows"] == 500
    assert "uniform sample of 500 of 3000 rows (streamed dataset 'reference')" in check.message


def test_the_ks_family_on_streamed_data_is_still_folded_not_sampled(project: Path) -> None:
    ws = workspace(project, memory_budget=TINY_BUDGET, sample_rows=500)
    checks = MlGate("g", ws).no_drift("reference", "holdout")
    assert "sampled_rows" not in checks[0].details
    assert ws.dataset("holdout").streamed and ws.dataset("holdout").sample_reads == 0


def test_a_float_target_is_tested_with_cvm_on_the_sample(tmp_path: Path) -> None:
    root = write_regression_project(tmp_path, rows=ROWS)
    expected = MlGate("g", workspace(root, target="amount")).no_label_drift("reference", "current", method="cvm")
    ws = workspace(root, target="amount", memory_budget=TINY_BUDGET, sample_rows=10 * ROWS)
    got = MlGate("g", ws).no_label_drift("reference", "current", method="cvm")
    assert ws.dataset("current").streamed and got[0].details["sampled_rows"] == ROWS  # the whole, as its sample
    assert tables(got) == tables(expected)
    assert got[0].details["table"][0]["test"] == "cvm"


# ---------------------------------------------------------------- duplicates and overlap: copies kept together


def repeated_project(root: Path) -> Path:
    """Streamable datasets where a quarter of the holdout's rows repeat another and 30% of the
    current batch's rows are copies of reference rows."""
    from engine_scenarios import frame, write_parts

    write_project(root, rows=ROWS)
    base = frame(2 * ROWS, seed=5)
    holdout = pd.concat([base.iloc[:1500], base.iloc[:1500], base.iloc[1500:4500]], ignore_index=True)
    reference = frame(ROWS, seed=6)
    current = pd.concat([reference.iloc[:1800], base.iloc[:4200]], ignore_index=True)
    for name, data in (("holdout", holdout), ("reference", reference), ("current", current)):
        shutil.rmtree(root / name)
        write_parts(data.sample(frac=1.0, random_state=1).reset_index(drop=True), root / name, 3)
    return root


@pytest.fixture(scope="module")
def repeated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return repeated_project(tmp_path_factory.mktemp("repeated"))


def test_duplicates_of_a_streamed_dataset_are_counted_over_every_row(repeated: Path) -> None:
    sets = {"holdout": "holdout"}
    exact = MlGate("g", workspace(repeated, datasets=sets)).no_duplicates("holdout", max_rate=0.1)[0]
    assert exact.candidate == pytest.approx(0.25)
    ws = workspace(repeated, datasets=sets, memory_budget=TINY_BUDGET, sample_rows=1200)
    streamed = MlGate("g", ws).no_duplicates("holdout", max_rate=0.1)[0]
    assert ws.dataset("holdout").streamed and ws.dataset("holdout").sample_reads == 0
    assert (streamed.outcome, streamed.candidate) == ("failed", exact.candidate)  # a uniform sample showed 0.05
    assert streamed.details["duplicates"] == exact.details["duplicates"] == 1500
    assert streamed.details["table"] == exact.details["table"]  # the same first rows, by dataset position
    assert "sampled_rows" not in streamed.details


def test_a_row_repeated_many_times_is_counted_in_full(tmp_path: Path) -> None:
    from engine_scenarios import frame, write_parts

    root = write_project(tmp_path, rows=ROWS)
    data = frame(ROWS, seed=9)
    data = pd.concat([data, data.iloc[[7]].loc[[7] * 2000]], ignore_index=True)  # one row 2001 times
    shutil.rmtree(root / "holdout")
    write_parts(data, root / "holdout", 3)
    ws = workspace(root, memory_budget=TINY_BUDGET, sample_rows=100)
    got = MlGate("g", ws).no_duplicates("holdout", max_rate=0.0)[0]
    assert ws.dataset("holdout").streamed
    assert got.details["duplicates"] == 2000 and got.outcome == "failed"
    assert got.details["table"][0]["row"] == ROWS and got.details["table"][0]["income"] == data["income"][7]


def test_overlap_with_a_streamed_dataset_is_counted_over_every_row(repeated: Path) -> None:
    sets = {"reference": "reference", "current": "current"}
    exact = MlGate("g", workspace(repeated, datasets=sets)).no_overlap("current", "reference", max_rate=0.1)[0]
    assert exact.candidate == pytest.approx(0.3) and exact.outcome == "failed"
    ws = workspace(repeated, datasets=sets, memory_budget=TINY_BUDGET, sample_rows=1500)
    got = MlGate("g", ws).no_overlap("current", "reference", max_rate=0.1)[0]
    assert ws.dataset("current").streamed and ws.dataset("reference").streamed
    assert (got.outcome, got.candidate) == (exact.outcome, exact.candidate)  # uniform samples of both: 0.16
    assert got.details["table"] == exact.details["table"]


def test_overlap_survives_a_float_round_trip_on_streamed_data_too(repeated: Path, tmp_path: Path) -> None:
    """A CSV round trip may change a float's last bits: those rows still overlap, as in memory."""
    shutil.copytree(repeated, tmp_path / "p")
    reference = pd.read_parquet(tmp_path / "p" / "reference")
    reference["income"] = reference["income"] * (1 + 1e-15)
    shutil.rmtree(tmp_path / "p" / "reference")
    write_parts_of(reference, tmp_path / "p" / "reference")
    sets = {"reference": "reference", "current": "current"}
    exact = MlGate("g", workspace(tmp_path / "p", datasets=sets)).no_overlap("current", "reference", max_rate=1.0)[0]
    ws = workspace(tmp_path / "p", datasets=sets, memory_budget=TINY_BUDGET)
    got = MlGate("g", ws).no_overlap("current", "reference", max_rate=1.0)[0]
    assert ws.dataset("reference").streamed
    assert not (pd.read_parquet(tmp_path / "p" / "reference")["income"].to_numpy()
                == pd.read_parquet(repeated / "reference")["income"].to_numpy()).all()  # the bits did change
    assert got.candidate == exact.candidate == pytest.approx(0.3)


def write_parts_of(data: pd.DataFrame, directory: Path) -> None:
    from engine_scenarios import write_parts

    write_parts(data, directory, 3)


def test_a_missing_column_on_a_streamed_dataset_names_it(repeated: Path) -> None:
    from pytest_mlgate.errors import MlgateError

    ws = workspace(repeated, memory_budget=TINY_BUDGET)
    with pytest.raises(MlgateError, match="dataset 'holdout': column 'nope' not found"):
        MlGate("g", ws).no_duplicates("holdout", columns=["nope"])


# ---------------------------------------------------------------- rare values: exact, from folded profiles


@pytest.fixture(scope="module")
def rare(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A reference where branch 'z' occurs 3 times in 6000 rows, a current batch with 40 rows of 'z'
    and 10 of a new branch, a column constant but for two rows, and a truly constant one."""
    from engine_scenarios import frame, write_parts

    root = tmp_path_factory.mktemp("rare")
    write_project(root, rows=ROWS)
    reference, current = frame(2 * ROWS, seed=7), frame(2 * ROWS, seed=8)
    reference.loc[[10, 2000, 5000], "branch"] = "z"
    current.loc[:39, "branch"], current.loc[40:49, "branch"] = "z", "new"
    for data in (reference, current):
        data["flag"], data["one"] = "x", 1
    current.loc[[100, 4000], "flag"] = "y"
    for name, data in (("reference", reference), ("current", current)):
        shutil.rmtree(root / name)
        write_parts(data, root / name, 3)
    return root


def test_unseen_categories_and_constant_columns_are_exact_on_streamed_data(rare: Path) -> None:
    def gates(ws) -> list:
        gate = MlGate("g", ws)
        return [gate.no_unseen_categories("current", "reference")[0], gate.no_constant_columns("current")[0]]

    expected = gates(workspace(rare))
    ws = workspace(rare, memory_budget=TINY_BUDGET, sample_rows=500)
    got = gates(ws)
    assert ws.dataset("current").streamed and ws.dataset("reference").streamed
    unseen = {r["column"]: r for r in got[0].details["table"]}
    assert unseen["branch"]["unseen_values"] == ["new"] and unseen["branch"]["rows"] == 10  # 'z' is known
    constant = {r["column"]: r["constant"] for r in got[1].details["table"]}
    assert constant["flag"] == 0 and constant["one"] == 1
    for want, have in zip(expected, got):
        assert (have.outcome, have.candidate) == (want.outcome, want.candidate)
        assert have.details["table"] == want.details["table"]
        assert "sampled_rows" not in have.details


# ---------------------------------------------------------------- schemas: every row, chunk by chunk


def schema_of(**extra):
    import pandera.pandas as pa

    return pa.DataFrameSchema({
        "income": pa.Column(float, pa.Check.in_range(-3.5, 3.5)),
        "tenure": pa.Column(int, pa.Check.ge(0)),
        "branch": pa.Column(object, pa.Check.isin(["a", "b", "z", "new"]), nullable=True),
        "region": pa.Column(object, **extra),
    })


def test_a_schema_is_validated_on_every_row_of_a_streamed_dataset(rare: Path) -> None:
    expected = MlGate("g", workspace(rare)).schema("current", schema_of())[0]
    ws = workspace(rare, memory_budget=TINY_BUDGET, sample_rows=500)
    got = MlGate("g", ws).schema("current", schema_of())[0]
    assert ws.dataset("current").streamed and ws.dataset("current").sample_reads == 0
    assert expected.outcome == got.outcome == "failed"  # a few incomes beyond 3.5 sd, rare in any sample
    def by_check(check) -> list:
        return sorted((r["column"], r["check"], r["cases"]) for r in check.details["failed_checks"])

    assert by_check(got) == by_check(expected)  # the region dtype counted once, not once a chunk
    assert got.details["failure_cases"] == expected.details["failure_cases"]
    rows = [r["index"] for r in got.details["table"]]
    assert sorted(rows, key=str) == sorted((r["index"] for r in expected.details["table"]), key=str)
    assert "sampled_rows" not in got.details


def test_schema_cases_are_capped_but_counted_in_full(rare: Path) -> None:
    import pandera.pandas as pa

    strict = pa.DataFrameSchema({"debt": pa.Column(float, pa.Check.le(0.0))})  # about half the rows fail
    ws = workspace(rare, memory_budget=TINY_BUDGET)
    got = MlGate("g", ws).schema("current", strict, max_cases=7)[0]
    exact = int((pd.read_parquet(rare / "current")["debt"] > 0).sum())
    assert got.details["failure_cases"] == exact > 1000 and len(got.details["table"]) == 7
    assert got.details["table_truncated"]


def test_rules_across_rows_are_judged_on_the_stated_sample(rare: Path) -> None:
    ws = workspace(rare, memory_budget=TINY_BUDGET, sample_rows=500)
    got = MlGate("g", ws).schema("current", schema_of(unique=True))[0]
    assert got.details["judged_on_sample"] == ["region unique"] and got.details["sampled_rows"] == 500
    assert "the whole schema judged on a sample" in got.message


def test_a_full_temporary_disk_stops_the_count_with_one_line(repeated: Path, monkeypatch: pytest.MonkeyPatch,
                                                             tmp_path: Path) -> None:
    import errno
    import tempfile

    from pytest_mlgate.errors import MlgateError
    from pytest_mlgate.evaluate import rowsets

    def full(self, files, found):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(rowsets.Spill, "_write", full)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    ws = workspace(repeated, memory_budget=TINY_BUDGET)
    with pytest.raises(MlgateError, match="dataset 'holdout': cannot spill row hashes to .*No space left on device"):
        MlGate("g", ws).no_duplicates("holdout")
    assert not list(tmp_path.glob("mlgate-rows-*"))  # nothing left behind


def test_class_balance_of_a_streamed_dataset_counts_every_row(rare: Path) -> None:
    def balance(ws, target: str) -> object:
        return MlGate("g", ws).class_balance("current", min_share=0.002, target=target)[0]

    for target in ("defaulted", "branch"):  # integer and text (with missing values) classes
        expected = balance(workspace(rare), target)
        got = balance(workspace(rare, memory_budget=TINY_BUDGET, sample_rows=500), target)
        assert (got.outcome, got.candidate) == (expected.outcome, expected.candidate)
        assert got.details["table"] == expected.details["table"]
        assert "sampled_rows" not in got.details
    rows = {r["class"]: r for r in got.details["table"]}
    assert rows["new"]["count"] == 10 and rows["new"]["outcome"] == "failed"  # 10 of 6000 < 0.2%


def test_a_constant_date_column_of_a_streamed_dataset_fails(tmp_path: Path) -> None:
    from engine_scenarios import frame, write_parts

    root = write_project(tmp_path, rows=ROWS)
    data = frame(ROWS, seed=4).assign(snapshot=pd.Timestamp("2026-11-30"),
                                      seen=pd.date_range("2026-01-01", periods=ROWS, freq="h"))
    shutil.rmtree(root / "holdout")
    write_parts(data, root / "holdout", 3)
    ws = workspace(root, memory_budget=TINY_BUDGET, sample_rows=500)
    got = MlGate("g", ws).no_constant_columns("holdout", columns=["snapshot", "seen", "income"])[0]
    constant = {r["column"]: r["constant"] for r in got.details["table"]}
    assert constant == {"snapshot": 1, "seen": 0, "income": 0} and got.outcome == "failed"
    assert got.details["sampled_rows"] == 500  # the dates were judged on the sample, and it says so
