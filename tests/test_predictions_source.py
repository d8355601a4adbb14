"""``candidate = "predictions:..."``: a table of scores from a batch job gates like the model that
produced it; gates that must run a model are not applicable; bad joins fail closed with counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from framework_suite import (
    LIVE_GATES,
    SUITE,
    TARGET,
    features,
    frames,
    outcomes,
    run,
    shuffled,
    write_project,
)
from sklearn.ensemble import RandomForestClassifier


def _forest(frame: pd.DataFrame) -> RandomForestClassifier:
    model = RandomForestClassifier(n_estimators=40, max_depth=6, random_state=0, n_jobs=1)
    return model.fit(frame[features(frame)], frame[TARGET])


def _scores(model, *frames_: pd.DataFrame, layout: str = "proba") -> pd.DataFrame:
    rows = pd.concat(frames_, ignore_index=True)
    proba = model.predict_proba(rows[features(rows)])
    if layout == "score":
        return pd.DataFrame({"id": rows["id"], "score": proba[:, 1]})
    return pd.DataFrame({"id": rows["id"], "proba_0": proba[:, 0], "proba_1": proba[:, 1]})


def _project(pytester, candidate: str, train, holdout, current, extra: str = 'id_column = "id"') -> None:
    write_project(pytester, candidate, train=train, holdout=holdout, current=current, extra=extra)
    pytester.makepyfile(test_suite=SUITE + LIVE_GATES)


def _numbers(record: dict) -> dict[str, tuple]:
    return {c["name"]: (c["outcome"], c["candidate"], c["baseline"], c["delta"]) for g in record["gates"]
            for c in g["checks"] if c["kind"] != "not_applicable"}


@pytest.mark.parametrize(("trained_on", "layout", "decision"),
                         [("labels", "proba", "approved"), ("labels", "score", "approved"),
                          ("shuffled labels", "proba", "rejected")])
def test_a_score_table_gives_the_decision_and_numbers_of_its_model(pytester, trained_on, layout, decision):
    train, holdout, current = frames()
    model = _forest(train if trained_on == "labels" else shuffled(train))
    sio.dump(model, pytester.path / "model.skops")
    _scores(model, holdout, current, layout=layout).to_parquet(pytester.path / "scores.parquet")

    _project(pytester, "model.skops", train, holdout, current)
    _, live = run(pytester)
    _project(pytester, "predictions:scores.parquet", train, holdout, current)
    result, table = run(pytester)

    assert live["decision"] == table["decision"] == decision
    live_numbers = _numbers(live)
    output_only = {k: v for k, v in live_numbers.items() if k in _numbers(table)}
    assert _numbers(table) == output_only and len(output_only) == 5
    got = outcomes(table)
    assert {got[g] for g in ("test_drivers", "test_monotonic", "test_latency")} == {"skipped"}
    messages = {c["message"] for g in table["gates"] for c in g["checks"] if c["outcome"] == "not_applicable"}
    assert messages == {f"{what}: not applicable, model 'candidate' is <predictions table "
                        f"{pytester.path / 'scores.parquet'}> (scored elsewhere)"
                        for what in ("permutation importance", "monotonicity", "serving checks")}
    drivers = next(g for g in table["gates"] if g["gate"].endswith("test_drivers"))
    assert "permutation importance: not applicable" in drivers["message"]


def _rejected_for(pytester, table: pd.DataFrame, holdout, train, current, extra: str = 'id_column = "id"') -> str:
    table.to_parquet(pytester.path / "scores.parquet")
    _project(pytester, "predictions:scores.parquet", train, holdout, current, extra)
    result, record = run(pytester)
    assert record["decision"] == "rejected" and result.ret == 1
    assert outcomes(record)["test_auc_floor"] == "error"
    return next(g["message"] for g in record["gates"] if g["gate"].endswith("test_auc_floor"))


def test_rows_without_a_prediction_fail_closed_with_counts(pytester):
    train, holdout, current = frames()
    table = _scores(_forest(train), holdout, current)
    message = _rejected_for(pytester, table[~table["id"].isin(holdout["id"][:3])], holdout, train, current)
    assert f"3 of {len(holdout)} rows have no prediction in predictions table" in message
    assert "dataset 'holdout'" in message


def test_duplicate_ids_fail_closed_with_counts(pytester):
    train, holdout, current = frames()
    table = _scores(_forest(train), holdout, current)
    message = _rejected_for(pytester, pd.concat([table, table.iloc[:2]]), holdout, train, current)
    assert "'id': 2 ids occur more than once (4 rows;" in message


def test_predictions_without_a_row_fail_closed_with_counts(pytester):
    train, holdout, current = frames()
    table = _scores(_forest(train), holdout, current, train.iloc[:5])  # five training rows scored too
    message = _rejected_for(pytester, table, holdout, train, current)
    assert f"5 of {len(table)} predictions in predictions table" in message
    assert "match no row of any configured dataset" in message


def test_duplicate_ids_in_the_dataset_fail_closed(pytester):
    train, holdout, current = frames()
    table = _scores(_forest(train), holdout, current)
    twice = pd.concat([holdout, holdout.iloc[:1]], ignore_index=True)
    message = _rejected_for(pytester, table, twice, train, current)
    assert "the dataset's 'id': 1 ids occur more than once (2 rows;" in message


def test_a_predictions_source_needs_the_id_column_key(pytester):
    train, holdout, current = frames()
    message = _rejected_for(pytester, _scores(_forest(train), holdout, current), holdout, train, current, extra="")
    assert "predictions:scores.parquet needs [tool.mlgate] id_column" in message


def test_probabilities_outside_zero_and_one_are_refused(pytester):
    train, holdout, current = frames()
    table = _scores(_forest(train), holdout, current, layout="score")
    table.loc[0, "score"] = 1.5
    message = _rejected_for(pytester, table, holdout, train, current)
    assert "column 'score' must hold probabilities in [0, 1]" in message


def test_a_prediction_column_alone_is_a_regressor(pytester):
    train, holdout, current = frames()
    rows = pd.concat([holdout, current], ignore_index=True)
    pd.DataFrame({"id": rows["id"], "prediction": rows["mean radius"] * 2.0}).to_parquet(pytester.path / "v.parquet")
    write_project(pytester, "predictions:v.parquet", train=train, holdout=holdout, current=current,
                  extra='id_column = "id"')
    pytester.makepyfile(test_suite="""
import numpy as np
def test_values(candidate, holdout):
    assert not candidate.is_classifier
    assert np.array_equal(candidate.predict(holdout), holdout.frame["mean radius"].to_numpy() * 2.0)
""")
    result, record = run(pytester)
    assert record["decision"] == "approved", record["reasons"]
    assert np.isfinite(holdout["mean radius"]).all()


def test_the_staging_server_is_not_applicable_to_a_table(pytester):
    train, holdout, current = frames()
    _scores(_forest(train), holdout, current).to_parquet(pytester.path / "scores.parquet")
    write_project(pytester, "predictions:scores.parquet", train=train, holdout=holdout, current=current,
                  extra='id_column = "id"')
    pytester.makepyfile(test_suite=SUITE + """
def test_served(mlgate, staging):
    mlgate.load_test(staging, requests=10)

def test_complexity(mlgate):
    mlgate.complexity(max_depth=3, force=True)
""")
    _, record = run(pytester)
    assert record["decision"] == "approved", record["reasons"]
    gates = {g["gate"].split("::")[-1]: g for g in record["gates"]}
    assert gates["test_served"]["outcome"] == gates["test_complexity"]["outcome"] == "skipped"
    assert "staging server: not applicable, model 'candidate' is <predictions table" in gates["test_served"]["message"]
    assert [c["outcome"] for c in gates["test_complexity"]["checks"]] == ["not_applicable"]
