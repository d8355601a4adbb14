"""Stakeholder feedback: disputes and flags by request id, and the monitor gate bounding their rate."""

from __future__ import annotations

import pandas as pd
import pytest
import skops.io as sio
from conftest import make_frame

from pytest_mlgate.cli import main
from pytest_mlgate.errors import MlgateError
from pytest_mlgate.monitoring import feedback, predlog

GATES = """
import pytest

@pytest.mark.gate(stage="monitor", owner="complaints-desk")
def test_dispute_rate(mlgate):
    mlgate.feedback_rate(0.05, kind="dispute")

@pytest.mark.gate(stage="monitor", severity="warn")
def test_flag_rate(mlgate):
    mlgate.feedback_rate(0.01, kind="flag")
"""


def serve(project, n: int = 400) -> list[str]:
    model = sio.load(project.path / "good.skops")
    frame = make_frame(n, seed=11)
    ids = [f"req-{i}" for i in range(n)]
    with predlog.PredictionLogger(model, project.path / "logs" / "predictions.sqlite", version="v1") as logger:
        logger.predict(frame[list(model.feature_names_in_)], request_id=ids)
    return ids


def add(project, ids: list[str], kind: str, capsys) -> str:
    path = project.path / f"{kind}.csv"
    pd.DataFrame({"request_id": ids, "note": ["customer says the refusal is wrong"] * len(ids)}).to_csv(path, index=False)
    code = main(["feedback", "add", str(path), "--kind", kind, "--log", str(project.path / "logs" / "predictions.sqlite"),
                 "--config", str(project.path / "pyproject.toml")])
    assert code == 0
    return capsys.readouterr().out


def test_dispute_rate_gates_the_monitor_stage(project, capsys):
    project.configure(candidate="good.skops", baseline="good.skops",
                      datasets='holdout = "holdout.csv"\ncurrent = "predlog:logs/predictions.sqlite?window=24h"')
    project.gates(GATES)
    ids = serve(project)
    out = add(project, ids[:8] + ["not-logged"], "dispute", capsys)
    assert "recorded 9 dispute(s)" in out and "8 matched logged predictions, 1 unknown request ids" in out

    result = project.run("--mlgate-stage", "monitor")
    assert result.ret == 0, result.stdout.str()  # 8 of 400 disputed: 2% <= 5%
    check = project.decision["gates"][0]["checks"][0]
    assert check["name"] == "dispute_rate[current]" and check["candidate"] == pytest.approx(8 / 400)
    assert check["ci"][0] < 0.02 < check["ci"][1] and check["details"]["dispute"] == 8

    add(project, ids[8:30], "dispute", capsys)
    add(project, ids[:2], "flag", capsys)
    assert project.run("--mlgate-stage", "monitor").ret == 1  # 30 of 400: 7.5% > 5%
    assert any("dispute rate 0.075 (30 of 400 predictions) > 0.05" in r for r in project.decision["reasons"])
    assert project.decision["gates"][1]["checks"][0]["candidate"] == pytest.approx(2 / 400)
    assert project.run().ret == 5  # push stage: the monitor gates are not collected for a push


def test_feedback_kinds_and_columns_are_checked(project, capsys):
    serve(project, 40)
    log = project.path / "logs" / "predictions.sqlite"
    with pytest.raises(MlgateError, match="kind must be one of dispute, flag"):
        feedback.add(log, pd.DataFrame({"request_id": ["req-1"]}), "complaint")
    with pytest.raises(MlgateError, match="column 'request_id' not found"):
        feedback.add(log, pd.DataFrame({"id": ["req-1"]}), "dispute")
    assert feedback.count(log, ["req-1"], "dispute") == 0  # nothing recorded yet: no table needed
    feedback.add(log, pd.DataFrame({"request_id": ["req-1", "req-1"]}), "dispute")
    assert feedback.count(log, ["req-1", "req-2"], "dispute") == 1  # one dispute per request id
