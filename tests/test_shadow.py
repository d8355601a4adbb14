"""Shadow comparison: logged production requests replayed to the candidate and to production."""

from __future__ import annotations

import pandas as pd
import pytest
import skops.io as sio
from conftest import make_frame

from pytest_mlgate.monitoring import predlog

GATES = """
def test_shadow(mlgate, shadow):
    mlgate.shadow_errors(shadow, max_rate=0.0)
    mlgate.shadow_agreement(shadow, max_flip_rate=0.02, max_score_diff=0.02)
    mlgate.shadow_latency(shadow, max_ratio=5.0)
"""


def configure(project, candidate: str, baseline: str, logged_by: str, n: int = 400) -> pd.DataFrame:
    """Log ``n`` requests served by ``logged_by`` and point [tool.mlgate.shadow] at the log."""
    project.configure(candidate=candidate, baseline=baseline,
                      extra='html = "reports/gates.html"\n[tool.mlgate.shadow]\nlog = "logs/predictions.sqlite"\nsample = 300\n'
                            'latency_requests = 60\n')
    project.gates(GATES)
    frame = make_frame(n, seed=31)
    model = sio.load(project.path / logged_by)
    with predlog.PredictionLogger(model, project.path / "logs" / "predictions.sqlite") as logger:
        for start in range(0, n, 50):
            logger.predict(frame[list(model.feature_names_in_)].iloc[start:start + 50],
                           request_id=[f"q{i}" for i in range(start, start + 50)])
    return frame


def _checks(project) -> dict[str, dict]:
    return {c["name"]: c for c in project.decision["gates"][0]["checks"]}


def test_same_model_agrees_on_every_replayed_request(project):
    configure(project, "strong.skops", "strong.skops", "strong.skops")
    project.run().assert_outcomes(passed=1)
    checks = _checks(project)
    assert checks["shadow_flip_rate[shadow]"]["candidate"] == 0.0 and checks["shadow_flip_rate[shadow]"]["details"]["rows"] == 300
    assert checks["shadow_flip_rate[shadow]"]["ci"][1] < 0.02
    assert checks["shadow_score_difference[shadow]"]["candidate"] == 0.0
    assert checks["shadow_error_rate[shadow]"]["candidate"] == 0.0
    assert checks["shadow_latency[shadow]"]["details"]["table"][0]["timed"] == 60


def test_a_different_candidate_fails_agreement_and_lists_the_rows_that_disagree_most(project):
    frame = configure(project, "weak.skops", "strong.skops", "strong.skops")
    result = project.run()
    result.assert_outcomes(failed=1)
    checks = _checks(project)
    flips = checks["shadow_flip_rate[shadow]"]
    assert flips["outcome"] == "failed" and flips["candidate"] > 0.05 and flips["ci"][0] > 0.02
    table = flips["details"]["table"]
    assert len(table) == 10 and table[0]["request_id"].startswith("q")
    differences = [abs(row["difference"]) for row in table]
    assert differences == sorted(differences, reverse=True)
    # the listed difference is the two models' real scores on that logged request
    row = frame.iloc[int(table[0]["request_id"][1:])]
    weak, strong = sio.load(project.path / "weak.skops"), sio.load(project.path / "strong.skops")
    expected = (weak.predict_proba(row[list(weak.feature_names_in_)].to_frame().T)[0, 1]
                - strong.predict_proba(row[list(strong.feature_names_in_)].to_frame().T)[0, 1])
    assert table[0]["difference"] == pytest.approx(expected, abs=1e-9)
    assert sum(b["count"] for b in flips["details"]["histogram"]) == 300
    html = (project.path / "reports" / "gates.html").read_text()
    assert "chart-shadow-histogram" in html and html.count("<rect x=") >= 20
    result.stdout.fnmatch_lines(["*shadow: candidate's label differs from production's on *"])


def test_a_candidate_that_fails_on_logged_requests_is_rejected(project):
    # production (good) logs three features; the candidate (strong) also needs a fourth
    configure(project, "strong.skops", "good.skops", "good.skops")
    project.run().assert_outcomes(failed=1)
    errors = _checks(project)["shadow_error_rate[shadow]"]
    assert errors["outcome"] == "failed" and errors["candidate"] == 1.0 and errors["baseline"] == 0.0
    assert "tenure" in errors["details"]["table"][0]["error"]
    assert project.decision["decision"] == "rejected"


def test_no_log_configured_is_one_clear_error(project):
    project.gates(GATES)
    result = project.run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*mlgate config: ?tool.mlgate.shadow? log is not set*"])
