"""History across versions: per-version checks, `mlgate history`, and the best_of_last ratchet."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.metrics import roc_auc_score

from pytest_mlgate.cli import main
from pytest_mlgate.errors import MlgateError
from pytest_mlgate.lifecycle.history import parse_against
from pytest_mlgate.lifecycle.registry import Registry

FEATURES = ["income", "debt", "age", "tenure"]
GATE = """
def test_auc_does_not_regress(mlgate):
    mlgate.no_regression("roc_auc", max_relative_drop=0.015{against})
"""


def chain(project, steps: int = 5, drop: float = 0.01) -> list[float]:
    """Write m0..m<steps>.skops: the strong model, then each about ``drop`` (relative) worse in AUC."""
    model = sio.load(project.path / "strong.skops")
    holdout = pd.read_csv(project.path / "holdout.csv")
    x, y = holdout[FEATURES], holdout["defaulted"]
    base_coef = model.coef_.copy()
    noise = np.random.default_rng(5).normal(0, 1, base_coef.shape) * np.abs(base_coef).mean()
    first = roc_auc_score(y, model.predict_proba(x)[:, 1])
    aucs = []
    for step in range(steps + 1):
        target = first * (1 - drop) ** step
        low, high = 0.0, 20.0  # bisection on how much noise is blended into the coefficients
        for _ in range(40):
            mid = (low + high) / 2
            model.coef_ = base_coef + mid * noise
            low, high = (mid, high) if roc_auc_score(y, model.predict_proba(x)[:, 1]) > target else (low, mid)
        model.coef_ = base_coef + low * noise
        aucs.append(roc_auc_score(y, model.predict_proba(x)[:, 1]))
        sio.dump(copy.deepcopy(model), project.path / f"m{step}.skops")
    return aucs


def push(project, step: int, against: str = "", ratchet: str = "") -> str:
    baseline = "registry:credit-risk@production" if step else None
    project.configure(candidate=f"m{step}.skops", baseline=baseline, extra=ratchet)
    project.gates(GATE.format(against=against))
    result = project.run("--mlgate-promote", "production")
    assert result.ret in (0, 1), result.stdout.str()
    return project.decision["decision"]


def test_a_chain_of_small_drops_passes_plain_regression_and_is_caught_by_best_of_last(project, capsys):
    aucs = chain(project)
    drops = [1 - b / a for a, b in zip(aucs, aucs[1:])]
    assert all(0.009 < d < 0.011 for d in drops), drops
    assert [push(project, step) for step in range(6)] == ["approved"] * 6  # each step is within 1.5% of production
    registry = Registry(project.path / ".mlgate" / "registry")
    assert registry.index("credit-risk")["aliases"]["production"] == "v6"  # the chain went all the way

    # the same last step against the best of the last five approved versions (itself left out): 4.9% below v1
    assert push(project, 5, against=', against="best_of_last:5"') == "rejected"
    check = project.decision["gates"][0]["checks"][0]
    assert check["details"]["against"] == "best_of_last:5" and check["details"]["against_version"] == "v1"
    assert check["baseline"] == pytest.approx(aucs[0], abs=1e-9) and check["outcome"] == "failed"
    assert "against the best of the last 5 approved versions: v1" in check["message"]
    assert set(check["details"]["compared"]) == {"production (v6)", "v1", "v2", "v3", "v4", "v5"}

    # mlgate history: the AUC of every version, falling step by step
    capsys.readouterr()
    assert main(["history", "credit-risk", "--last", "6", "--config", str(project.path / "pyproject.toml")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["check", "v1", "v2", "v3", "v4", "v5", "v6"]
    auc_row = next(line for line in lines if line.startswith("test_auc_does_not_regress: roc_auc"))
    values = [float(v) for v in auc_row.split()[-5:]]  # v1 has no baseline: no candidate value recorded
    assert values == sorted(values, reverse=True) and values[0] == pytest.approx(aucs[1], abs=1e-4)
    assert lines[-1].split() == ["decision", *["approved"] * 5, "rejected"]  # each version's latest decision
    out = project.path / "history.html"
    assert main(["history", "--format", "html", "-o", str(out), "--config", str(project.path / "pyproject.toml")]) == 0
    html = out.read_text()
    assert html.count("<polyline") == 1 and "v2" in html and "v6" in html and "default-src 'none'" in html


def test_the_html_report_charts_each_check_over_the_last_versions(project):
    chain(project, steps=2)
    for step in range(3):
        push(project, step)
    project.configure(candidate="m0.skops", baseline="registry:credit-risk@production", extra='html = "r.html"')
    assert project.run().ret == 0  # v1's model again (better than production): its sha is already a version
    project.configure(candidate="weak.skops", baseline="registry:credit-risk@production", extra='html = "r.html"')
    assert project.run().ret == 1
    history = project.decision["history"]
    assert history["versions"] == ["v1", "v2", "v3", "candidate"]
    auc = next(r for r in history["rows"] if r["check"] == "test_auc_does_not_regress: roc_auc[holdout]")
    assert auc["v2"] > auc["v3"] > auc["candidate"] and "v1" in auc  # v1's rerun against production measured it
    html = (project.path / "r.html").read_text()
    assert 'href="#history"' in html and html.count('class="chart chart-history"') == 1


def test_ratchet_setting_stops_the_chain_once_the_cumulative_drop_exceeds_the_allowance(project):
    chain(project, steps=2)
    outcomes = [push(project, step, ratchet="ratchet = 5") for step in range(3)]
    assert outcomes == ["approved", "approved", "rejected"]  # m2 is 2% below m0 (v1), allowed 1.5%
    check = project.decision["gates"][0]["checks"][0]
    assert check["details"]["against_version"] == "v1"


def test_against_is_validated():
    assert parse_against(None, 0) is None and parse_against(None, 3) == 3 and parse_against("baseline", 3) is None
    assert parse_against("best_of_last:5") == 5
    with pytest.raises(MlgateError, match="against must be 'baseline' or 'best_of_last:N'"):
        parse_against("best_of_last:0")


def test_history_of_an_unknown_model_is_one_line(project, capsys):
    assert main(["history", "nope", "--config", str(project.path / "pyproject.toml")]) == 2
    assert "no registry version of 'nope' has a push decision" in capsys.readouterr().err
