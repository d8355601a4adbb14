"""What a session writes after its decision: the audit trail read once for the HTML history and the catalog."""

from __future__ import annotations

import pytest

from pytest_mlgate import outputs
from pytest_mlgate.config import build
from pytest_mlgate.lifecycle.audit import AuditLog, open_log
from pytest_mlgate.lifecycle.history import for_report
from pytest_mlgate.reports import catalog, html

GATES = '''
import pytest

def test_auc_floor(candidate, holdout):
    """The candidate ranks well enough."""
    assert candidate.metric("roc_auc", holdout) >= 0.6

@pytest.mark.gate(severity="warn")
def test_no_regression(mlgate):
    mlgate.no_regression("roc_auc", max_relative_drop=0.02)
'''


def old_catalog(settings, record, specs, path) -> str:
    """The gate catalog as the session built it before the shared read: its own walk of the trail."""
    decisions = open_log(settings).find("decision", settings.model)
    built = catalog.build(specs, decisions, model=settings.model, owner=record.get("owner"),
                          approvers=settings.approvers, generated=record["finished"])
    return catalog.render(built, catalog.format_for(path))


def test_one_walk_of_the_trail_feeds_the_html_history_and_the_catalog_unchanged(project, monkeypatch):
    project.gates(GATES)
    for candidate in ("good.skops", "strong.skops", "weak.skops", "good.skops"):  # three versions, four decisions
        project.configure(candidate=candidate, baseline="registry:credit-risk@production" if candidate != "good.skops"
                          else None)
        assert project.run("--mlgate-promote", "production").ret in (0, 1)
    project.configure(candidate="strong.skops", baseline="registry:credit-risk@production",
                      extra='html = "reports/r.html"\ndocs = "reports/gates.md"')
    walks, built = [], []
    find, build_catalog = AuditLog.find, outputs.catalog
    monkeypatch.setattr(AuditLog, "find", lambda log, event=None, model=None: (
        walks.append(event), find(log, event, model))[1])
    monkeypatch.setattr(outputs, "catalog", lambda s, record, specs, path, trail: (
        built.append((s, specs, path)), build_catalog(s, record, specs, path, trail))[1])
    assert project.run().ret == 0
    assert walks.count("decision") == 1  # a second walk of the trail would be a second read here

    record = project.decision
    assert record["history"]["versions"] == ["v1", "v2", "v3"]  # strong.skops is v2 already: no candidate column
    monkeypatch.undo()
    settings, specs, path = built[0]
    old = dict(record, history=for_report(settings, record))  # the history read the old way, by itself
    assert old["history"] == record["history"]
    assert html.render(old) == (project.path / "reports" / "r.html").read_text()
    docs = (project.path / "reports" / "gates.md").read_text()
    assert docs == old_catalog(settings, record, specs, path)
    assert len(open_log(settings).find("decision", "credit-risk")) == 5
    assert f"(audit entry {record['lifecycle']['audit']})" in docs  # this run's entry is the catalog's last decision
    assert docs.count("- last outcomes: passed (") == 2


def test_a_trail_that_cannot_be_read_is_tried_once_and_costs_neither_report(tmp_path, monkeypatch):
    settings = build(tmp_path, {"model": "m", "html": "r.html", "docs": "gates.md"})
    settings.path(settings.audit).parent.mkdir(parents=True)
    settings.path(settings.audit).write_text("{not json\n")
    trail = outputs.Trail(settings, "m")
    for _ in range(2):
        with pytest.raises(Exception, match="line 1: not valid JSON"):
            trail.decisions()
    assert trail.reads == 1
    record = {"finished": "2026-01-01T00:00:00+00:00", "gates": [{"gate": "t.py::test_a", "outcome": "passed",
              "severity": "block"}], "lifecycle": {"audit": 3}, "owner": None, "decision": "approved"}
    text = outputs.catalog(settings, record, [], tmp_path / "gates.md", trail)
    assert "test_a" in text and trail.reads == 1  # the catalog goes out with this run alone

