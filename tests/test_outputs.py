"""What a session writes after its decision: the audit trail read once for the HTML history and the catalog."""

from __future__ import annotations

import pytest

from pytest_mlgate import outputs
from pytest_mlgate.config import build
from pytest_mlgate.errors import MlgateError
from pytest_mlgate.lifecycle import audit, history
from pytest_mlgate.lifecycle.audit import AuditLog, open_log
from pytest_mlgate.lifecycle.registry import Registry
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


def old_history(settings, record, last: int = 5):
    """The HTML report's history as it was built before: every version's decisions from a walk of the whole trail."""
    decided = [v for v in history.versions(settings, record["model"]) if v["decisions"]][-last:]
    columns = [(v["version"], v["decisions"][-1]) for v in decided]
    sha = record["artifacts"]["candidate"]["sha256"]
    if sha not in {v["sha256"] for v in decided}:
        columns.append(("candidate", history._decision({"data": record})))
    return {"versions": [label for label, _ in columns], "rows": history._rows(columns)} if decided else None


def parsed_lines(monkeypatch) -> list[int]:
    """Counts every audit line parsed from here on (one item per line)."""
    counted, parse = [], audit._parse
    monkeypatch.setattr(audit, "_parse", lambda path, number, line: (counted.append(1), parse(path, number, line))[1])
    return counted


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
    find, newest, build_catalog = AuditLog.find, AuditLog.newest, outputs.catalog
    monkeypatch.setattr(AuditLog, "find", lambda log, *a, **k: (walks.append("find"), find(log, *a, **k))[1])
    monkeypatch.setattr(AuditLog, "newest", lambda log, *a, **k: (walks.append("newest"), newest(log, *a, **k))[1])
    monkeypatch.setattr(outputs, "catalog", lambda s, record, specs, path, trail: (
        built.append((s, specs, path)), build_catalog(s, record, specs, path, trail))[1])
    parsed = parsed_lines(monkeypatch)
    assert project.run().ret == 0
    trail = [line for line in (project.path / ".mlgate" / "audit.jsonl").read_text().splitlines() if line.strip()]
    assert walks == ["newest"] and len(parsed) <= len(trail) + 1  # one reader, each line once (+1: the append reads the last)

    record = project.decision
    assert record["history"]["versions"] == ["v1", "v2", "v3"]  # strong.skops is v2 already: no candidate column
    monkeypatch.undo()
    settings, specs, path = built[0]
    assert old_history(settings, record) == record["history"]
    assert html.render(dict(record, history=old_history(settings, record))) == (project.path / "reports" / "r.html").read_text()
    docs = (project.path / "reports" / "gates.md").read_text()
    assert docs == old_catalog(settings, record, specs, path)
    assert len(open_log(settings).find("decision", "credit-risk")) == 5
    assert f"(audit entry {record['lifecycle']['audit']})" in docs  # this run's entry is the catalog's last decision
    assert docs.count("- last outcomes: passed (") == 2


def decision(n: int, sha: str, outcome: str = "passed") -> dict:
    gates = [{"gate": f"g.py::test_{i}", "outcome": outcome, "severity": "block", "checks": [
        {"name": f"auc[{i}]", "candidate": 0.8 + n / 1000, "threshold": f">= {n}", "dataset": "holdout"}]}
        for i in range(3)]
    return {"model": "m", "stage": "push", "decision": "approved", "finished": f"2026-01-01T00:00:{n % 60:02}+00:00",
            "artifacts": {"candidate": {"sha256": sha}}, "gates": gates, "owner": "o"}


@pytest.mark.parametrize("versions, gated", [(4, 4), (8, 3)], ids=["every-version-gated", "old-versions-ungated"])
def test_a_long_trail_is_read_back_only_as_far_as_the_reports_need(tmp_path, monkeypatch, versions, gated):
    settings = build(tmp_path, {"model": "m", "html": "r.html", "docs": "gates.md"})
    registry = Registry(settings.path(settings.registry))
    shas = []
    for v in range(versions):
        (tmp_path / f"m{v}.bin").write_bytes(b"model %d" % v)
        shas.append(registry.register("m", tmp_path / f"m{v}.bin", owner="o")["sha256"])
    log = open_log(settings)
    for n in range(40):  # the gated versions in turn; an unrelated model and event between
        log.append("decision", decision(n, shas[-gated:][n % gated]), model="m")
        log.append("decision" if n % 2 else "approval", decision(n, shas[0], "failed"), model="other")
    record = decision(40, "not-registered")
    log.append("decision", record, model="m")
    specs = [catalog.spec_from_result(g) for g in record["gates"]]
    parsed = parsed_lines(monkeypatch)
    trail = outputs.Trail(settings, "m")
    found = history.for_report(settings, record, newest=trail.newest)
    text = outputs.catalog(settings, dict(record, lifecycle={"audit": 81}), specs, tmp_path / "gates.md", trail)
    assert trail.reads == 1
    read = len(parsed)
    assert found == old_history(settings, record) and found["versions"][-1] == "candidate"
    assert text == old_catalog(settings, record, specs, tmp_path / "gates.md")
    if versions == gated:
        assert read < 81 // 2  # the newest entries settle both reports
    else:
        assert read == 81  # the oldest versions were never gated: the whole trail, once


def test_a_trail_that_cannot_be_read_is_tried_once_and_costs_neither_report(tmp_path, monkeypatch):
    settings = build(tmp_path, {"model": "m", "html": "r.html", "docs": "gates.md"})
    settings.path(settings.audit).parent.mkdir(parents=True)
    settings.path(settings.audit).write_text("{not json\n")
    trail = outputs.Trail(settings, "m")
    for _ in range(2):
        with pytest.raises(Exception, match="line 1: not valid JSON"):
            next(trail.newest())
    assert trail.reads == 1
    record = {"finished": "2026-01-01T00:00:00+00:00", "gates": [{"gate": "t.py::test_a", "outcome": "passed",
              "severity": "block"}], "lifecycle": {"audit": 3}, "owner": None, "decision": "approved"}
    text = outputs.catalog(settings, record, [], tmp_path / "gates.md", trail)
    assert "test_a" in text and trail.reads == 1  # the catalog goes out with this run alone



@pytest.mark.parametrize("block", [1, 3, 7, 64, 1 << 20])
def test_the_trail_read_from_its_end_is_the_trail_reversed(tmp_path, block):
    path = tmp_path / "audit.jsonl"
    lines = [b'{"seq":%d,"event":"%s","model":"m","pad":"%s"}' % (i, b"decision" if i % 3 else b"approval", b"x" * (i * 7 % 23))
             for i in range(1, 30)]
    path.write_bytes(b"\n".join(lines[:10]) + b"\r\n\n  \n" + b"\n".join(lines[10:]))  # CRLF, blank lines, no final newline
    log = AuditLog(path)
    assert list(log.newest(block=block)) == list(log.entries())[::-1]
    assert list(log.newest("decision", "m", block=block)) == log.find("decision", "m")[::-1]
    path.write_bytes(b'{"seq":1}\n{"seq":2\n{"seq":3}\n')
    newest = log.newest(block=block)
    assert next(newest) == {"seq": 3}
    with pytest.raises(MlgateError, match="line 2: not valid JSON"):
        next(newest)
