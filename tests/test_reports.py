"""Markdown, HTML and JUnit reports of a decision record, the `mlgate report` command, and the plugin
writing them (plus $GITHUB_STEP_SUMMARY). The HTML is also opened in headless Chromium."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pytest_mlgate import cli
from pytest_mlgate.decision import Check, GateResult, decide
from pytest_mlgate.records import decision_record
from pytest_mlgate.reports import html, junit, markdown

XSD = Path(__file__).parent / "data" / "junit-10.xsd"
ARTIFACTS = Path(__file__).parents[1] / "test-artifacts"
STATUSES = ("approved", "rejected", "needs-review")
HASH = "ab" * 32


def gates_for(status: str) -> list[GateResult]:
    """Six gates of every family; one block gate fails for rejected, one review gate for needs-review."""
    drift_bad, parity_bad = status == "rejected", status == "needs-review"
    return [
        GateResult("gates/test_g.py::test_auc", "passed", checks=[Check(
            "roc_auc@holdout", "passed", "roc_auc", "holdout", 0.87, 0.85, 0.02, "drop <= 0.01", (0.011, 0.029),
            "roc_auc improved 0.02", "regression", {"rows": 2000, "criterion": "point"})]),
        GateResult("gates/test_g.py::test_drift", "failed" if drift_bad else "passed", category="data",
                   message="drift: income KS 0.31 > 0.1" if drift_bad else "", checks=[Check(
                       "drift@current", "failed" if drift_bad else "passed", kind="drift",
                       threshold="<= 0.1", message="income drifted: KS 0.31 > 0.1" if drift_bad else "",
                       details={"method": "ks", "table": [
                           {"feature": "debt", "statistic": 0.02, "p_value": 0.6, "effect_value": 0.01,
                            "min_effect": 0.1, "drifted": False, "outcome": "stable"},
                           {"feature": "income", "statistic": 0.31 if drift_bad else 0.03, "p_value": 1e-5,
                            "effect_value": 0.4 if drift_bad else 0.02, "min_effect": 0.1, "drifted": drift_bad,
                            "outcome": "drifted" if drift_bad else "stable"},
                           {"feature": "region", "rows": 3, "outcome": "too_small"}]})]),
        GateResult("gates/test_g.py::test_parity", "failed" if parity_bad else "passed", severity="review",
                   message="selection_rate ratio 0.7 < 0.8" if parity_bad else "", checks=[Check(
                       "selection_rate ratio[sex]", "failed" if parity_bad else "passed", "selection_rate ratio",
                       candidate=0.7 if parity_bad else 0.9, threshold=">= 0.8", kind="fairness",
                       message="selection_rate ratio 0.7 < 0.8 (groups f 0.3, m 0.43)" if parity_bad else "",
                       details={"measure": "ratio", "table": [
                           {"group": "f", "rows": 990, "selection_rate": 0.3 if parity_bad else 0.39,
                            "selection_rate_ci": [0.27, 0.33] if parity_bad else [0.36, 0.42], "status": "judged"},
                           {"group": "m", "rows": 1010, "selection_rate": 0.43, "selection_rate_ci": [0.4, 0.46],
                            "status": "judged"}]})]),
        GateResult("gates/test_g.py::test_importance", "passed", checks=[Check(
            "importance", kind="explainability", details={"table": [
                {"feature": "income", "importance": 0.5}, {"feature": "debt", "importance": 0.3}]})]),
        GateResult("gates/test_g.py::test_latency", "passed", checks=[Check(
            f"{q} latency", kind="staging", candidate=value, threshold="<= 50", details={"table": [
                {"batch": 1, "p50_ms": 2.0, "p95_ms": 3.1}, {"batch": 100, "p50_ms": 8.0, "p95_ms": 12.5}]})
            for q, value in (("p50", 8.0), ("p95", 12.5))]),
        GateResult("gates/test_g.py::test_small", "passed", checks=[Check(
            "roc_auc@holdout[region=east]", "too_small", "roc_auc", "holdout", kind="performance",
            message="roc_auc@holdout[region=east]: 12 rows < 30, too small to judge")]),
    ]


def make_record(status: str, gates: list[GateResult] | None = None) -> dict:
    decision = decide(gates if gates is not None else gates_for(status))
    return decision_record(
        decision, model="credit-risk", owner="risk-ml@example.org", stage="push", exit_status=0,
        artifacts={"candidate": {"name": "candidate", "spec": "models/c.skops", "path": "/p/models/c.skops",
                                 "sha256": HASH, "version": None}},
        datasets={"holdout": {"name": "holdout", "path": "/p/data/h.csv", "sha256": "cd" * 32, "rows": 2000,
                              "columns": 7, "schema_sha256": "ef" * 32}},
        started="2026-11-27T06:00:00+00:00", commit="0123456789abcdef") | {"lifecycle": {"audit": 7}}


@pytest.fixture(params=STATUSES)
def record(request: pytest.FixtureRequest) -> dict:
    made = make_record(request.param)
    assert made["decision"] == request.param
    return made


def many_checks(n: int, message: str = "", failing: bool = False) -> list[GateResult]:
    outcome = "failed" if failing else "passed"
    return [GateResult(f"gates/test_many.py::test_gate_{i}", outcome, message=message, checks=[Check(
        f"metric_{i}@holdout", outcome, "roc_auc", "holdout", 0.8 + i / 10_000, 0.8, i / 10_000, ">= 0.5",
        message=message, kind="performance")]) for i in range(n)]


# ---------------------------------------------------------------- Markdown


def test_markdown_puts_decision_first_then_failing_gates_with_numbers(record: dict) -> None:
    text = markdown.render(record)
    first = text.splitlines()[0]
    assert first.startswith("## ") and f"**{record['decision'].upper()}**" in first and "`credit-risk`" in first
    assert "owner: risk-ml@example.org" in text and "`0123456789ab`" in text
    assert "\naudit: 7\n" in text
    table_rows = [line for line in text.splitlines() if line.startswith("| test_")]
    assert len(table_rows) == 7
    if record["decision"] == "approved":
        assert "### Failing gates" not in text and "**Why:**" not in text
    else:
        failing = text[text.index("### Failing gates"):text.index("<details>")]
        assert text.index("**Why:**") < text.index("### Failing gates") < text.index("| gate |")
        if record["decision"] == "rejected":
            assert "**test_drift** (block, failed)" in failing and "threshold &lt;= 0.1" in failing
        else:
            assert "**test_parity** (review, failed)" in failing
            assert "candidate 0.7, threshold &gt;= 0.8" in failing and "(needs approval)" in text
    assert "1 check(s) could not be judged" in text
    assert "| test_small | roc_auc@holdout[region=east] |" in text and "too_small" in text


def test_markdown_cells_cannot_break_the_table_or_inject_html() -> None:
    gates = [GateResult("t.py::test_x", "failed", message="a|b\nc <script>", checks=[Check(
        "odd|name", "failed", message="bad <b>", threshold="<= 1")])]
    text = markdown.render(make_record("rejected", gates))
    assert "| test_x | odd\\|name |" in text and "<script>" not in text and "<b>" not in text
    assert "a\\|b c &lt;script&gt;" in text


def test_markdown_with_500_checks_keeps_every_row_under_the_limit() -> None:
    text = markdown.render(make_record("approved", many_checks(500)))
    assert len(text.encode()) < markdown.GITHUB_LIMIT
    assert sum(line.startswith("| test_gate_") for line in text.splitlines()) == 500
    assert "not shown" not in text


def test_markdown_with_500_long_failing_checks_is_truncated_with_a_note() -> None:
    record = make_record("rejected", many_checks(500, message="x" * 3000, failing=True))
    text = markdown.render(record)
    size = len(text.encode())
    assert size < markdown.GITHUB_LIMIT and size > markdown.GITHUB_LIMIT // 2
    assert text.splitlines()[0].startswith("## ") and "REJECTED" in text.splitlines()[0]
    assert "- … and 480 more: see the failing gates below" in text
    assert sum(line.startswith("- gates/test_many.py::") for line in text.splitlines()) == 20
    assert "more lines of failing gates not shown (step summary size limit)" in text
    assert "more table rows not shown" in text and "| gate | check |" in text
    assert text.rstrip().endswith("</details>")


def test_step_summary_is_appended_within_what_is_left(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("# earlier step output\n" + "y" * 900_000 + "\n")
    markdown.append_step_summary(summary, make_record("rejected", many_checks(500, "z" * 500, failing=True)))
    text = summary.read_text()
    assert text.startswith("# earlier step output") and "mlgate decision: **REJECTED**" in text
    assert len(text.encode()) < markdown.GITHUB_LIMIT


# ---------------------------------------------------------------- HTML


def parse_html(text: str):
    from lxml import html as lxml_html

    return lxml_html.document_fromstring(text)


def test_html_shows_decision_owner_charts_checks_and_hashes(record: dict) -> None:
    text = html.render(record)
    doc = parse_html(text)
    assert doc.get_element_by_id("decision").text_content() == record["decision"].upper()
    assert record["decision"] in doc.get_element_by_id("decision").get("class")
    assert doc.get_element_by_id("owner").text_content() == "risk-ml@example.org"
    for section in ("comparison", "drift", "fairness", "explainability", "staging", "gates", "artifacts"):
        assert doc.get_element_by_id(section) is not None
    charts = {svg.get("class") for svg in doc.iter("svg")}
    assert charts == {"chart chart-comparison", "chart chart-drift", "chart chart-fairness",
                      "chart chart-explainability", "chart chart-staging"}
    comparison = doc.get_element_by_id("comparison")
    assert len(comparison.xpath(".//line[@class='whisker']")) == 1  # only the regression check has a CI
    assert "Δ 0.02 [0.011, 0.029]" in comparison.text_content()
    drift = doc.get_element_by_id("drift")
    assert drift.xpath(".//svg/title")[0].text == "drift@current: effect_value by feature"
    labels = ["".join(t.xpath("./tspan/text()")) for t in drift.xpath(".//svg/text[contains(@class, 'label')]")]
    fills = [bar.get("fill") for bar in drift.xpath(".//rect[@class='bar']")]
    if record["decision"] == "rejected":  # the drifted feature first, in red; the untestable one has no bar
        assert labels == ["income", "debt"] and fills == ["#d64545", "#2f6fdf"]
    else:
        assert labels == ["debt", "income"] and fills == ["#2f6fdf", "#2f6fdf"]
    assert "too_small" in drift.text_content()  # the untestable feature is still in the table
    fairness = doc.get_element_by_id("fairness")
    assert fairness.xpath(".//svg/title")[0].text == "selection_rate ratio[sex]: selection_rate by group"
    assert len(fairness.xpath(".//line[@class='whisker']")) == 2
    assert "0.43 [0.4, 0.46]" in fairness.text_content()
    staging = doc.get_element_by_id("staging")  # two checks sharing one latency table: one chart
    assert len(staging.xpath(".//svg")) == 1 and "(same table as above)" in staging.text_content()
    assert ["".join(t.xpath("./tspan/text()")) for t in staging.xpath(".//svg/text[contains(@class, 'label')]")] == ["1", "100"]
    assert staging.xpath(".//svg/title")[0].text == "p50 latency: p95_ms by batch"
    assert HASH in doc.get_element_by_id("artifacts").text_content()
    assert '{"audit": 7}' in doc.get_element_by_id("artifacts").text_content()
    assert "ef" * 32 in doc.get_element_by_id("artifacts").text_content()
    gates = doc.get_element_by_id("gates")
    assert len(gates.xpath(".//details[contains(@class, 'gate')]")) == 6
    assert "12 rows &lt; 30, too small to judge" in text
    if record["decision"] != "approved":
        opened = gates.xpath(".//details[@open]/summary/b")
        expected = "test_drift" if record["decision"] == "rejected" else "test_parity"
        assert [b.text_content() for b in opened] == [expected]


def test_html_is_self_contained(record: dict) -> None:
    doc = parse_html(html.render(record))
    assert not doc.xpath("//script | //link | //iframe | //img | //object | //embed")
    assert not [el for el in doc.iter() if el.get("src") or (el.get("href") or "#").startswith(("http", "//"))]
    csp = doc.xpath("//meta[@http-equiv='Content-Security-Policy']/@content")
    assert csp and csp[0].startswith("default-src 'none'")


def test_html_charts_data_quality_per_column() -> None:
    table = [{"column": "income", "missing": 0, "rate": 0.0, "limit": 0.05, "outcome": "passed"},
             {"column": "debt", "missing": 300, "rate": 0.15, "limit": 0.05, "outcome": "failed"},
             {"column": "notes", "outcome": "skipped", "limit": 0.05}]
    gates = [GateResult("t.py::test_missing", "failed", message="no_missing: 1 of 2 column(s) fail", checks=[Check(
        "no_missing", "failed", "missing_rate", "holdout", 0.15, threshold="<= 0.05", kind="data_quality",
        message="no_missing on 'holdout': 1 of 2 column(s) fail: debt 15%", details={"table": table})])]
    section = parse_html(html.render(make_record("rejected", gates))).get_element_by_id("data_quality")
    assert section.xpath(".//svg/title")[0].text == "no_missing: rate by column"
    assert ["".join(t.xpath("./tspan/text()")) for t in section.xpath(".//svg/text[contains(@class, 'label')]")] == ["debt", "income"]
    assert [r.get("fill") for r in section.xpath(".//rect[@class='bar']")] == ["#d64545", "#2f6fdf"]
    assert "skipped" in section.xpath(".//table")[0].text_content()


def test_html_escapes_every_string() -> None:
    gates = [GateResult("t.py::test_<i>x</i>", "failed", message="<script>alert(1)</script>", checks=[Check(
        "<b>n</b>", "failed", candidate=1.0, baseline=2.0, kind="drift",
        details={"table": [{"feature": "<img src=x>", "statistic": 0.5}]})])]
    doc = parse_html(html.render(make_record("rejected", gates)))
    assert not doc.xpath("//script | //img | //i | //b[text()='n']")
    assert "<img src=x>" in doc.get_element_by_id("drift").text_content()


def test_html_with_a_hundred_gates_collapses_passing_ones_and_caps_charts() -> None:
    gates = many_checks(97) + gates_for("rejected")[:3]
    doc = parse_html(html.render(make_record("rejected", gates)))
    details = doc.get_element_by_id("gates").xpath("./details")
    assert len(details) == 100
    assert [d.xpath("./summary/b")[0].text_content() for d in details if d.get("open") is not None] == ["test_drift"]
    assert sum("ok" in d.get("class").split() for d in details) == 99
    comparison = doc.get_element_by_id("comparison")
    # one chart per kind and scale: the 97 performance checks are capped, the regression check has its own
    charts = comparison.xpath(".//svg")
    assert [len(c.xpath(".//rect[@class='bar candidate']")) for c in charts] == [html.MAX_CHART_ROWS, 1]
    assert f"first {html.MAX_CHART_ROWS} of 97" in comparison.text_content()
    assert [h.text_content() for h in comparison.xpath(".//h3")] == ["performance · 0-1 scale", "regression · 0-1 scale"]
    assert doc.xpath("//header") and doc.get_element_by_id("only-bad").get("type") == "checkbox"


def test_comparison_chart_puts_failures_first_and_shares_the_delta_scale_per_metric() -> None:
    gates = [GateResult(f"t.py::test_{i}", outcome, checks=[Check(
        f"auc_{i}", outcome, "roc_auc", "holdout", 0.8 + delta, 0.8, delta, kind="regression")])
        for i, (outcome, delta) in enumerate([("passed", 0.01), ("failed", -0.1)])]
    chart = parse_html(html.render(make_record("rejected", gates))).get_element_by_id("comparison")
    assert ["".join(t.xpath("./tspan/text()")) for t in chart.xpath(".//svg/text[contains(@class, 'label')]")] == [
        "test_1: auc_1", "test_0: auc_0"]
    assert chart.xpath(".//rect[@class='bar candidate']")[0].get("fill") == "#d64545"
    zero = float(chart.xpath(".//line[@class='zero']")[0].get("x1"))
    offsets = [float(c.get("cx")) - zero for c in chart.xpath(".//circle[@class='delta']")]
    assert offsets[0] < 0 < offsets[1] and abs(offsets[0] / offsets[1]) == pytest.approx(10, rel=0.01)


def test_comparison_chart_draws_only_intervals_of_the_difference() -> None:
    gates = [GateResult("t.py::test_x", "passed", checks=[
        Check("delta_ci", "passed", "roc_auc", candidate=0.81, baseline=0.8, delta=0.01, ci=(-0.01, 0.03)),
        Check("value_ci", "passed", "accuracy", candidate=0.81, baseline=0.8, delta=0.01, ci=(0.78, 0.84))])]
    doc = parse_html(html.render(make_record("approved", gates)))
    whiskers = doc.get_element_by_id("comparison").xpath(".//line[@class='whisker']")
    assert len(whiskers) == 1 and "Δ 0.01 [-0.01, 0.03]" in doc.get_element_by_id("comparison").text_content()
    assert "[0.78, 0.84]" not in doc.get_element_by_id("comparison").text_content()
    assert "[0.78, 0.84]" in doc.get_element_by_id("gates").text_content()  # still in the check table


# ---------------------------------------------------------------- JUnit


def test_junit_validates_against_jenkins_schema_and_reads_back(record: dict, tmp_path: Path) -> None:
    from junitparser import Error, Failure, JUnitXml, Skipped
    from lxml import etree

    text = junit.render(record)
    schema = etree.XMLSchema(etree.parse(str(XSD)))
    document = etree.fromstring(text.encode())
    assert schema.validate(document), schema.error_log
    for case in document.iter("testcase"):
        assert len(case.findall("system-out")) <= 1, case.get("name")
    path = tmp_path / "gates.xml"
    path.write_text(text)
    cases = {(suite.name, case.name): case for suite in JUnitXml.fromfile(str(path)) for case in suite}
    decision = cases[("mlgate.decision", "decision")]
    if record["decision"] == "approved":
        assert decision.is_passed
    else:
        assert isinstance(decision.result[0], Failure)
        assert decision.result[0].message.startswith(f"{record['decision']}: ")
    drift = cases[("gates/test_g.py::test_drift", "drift@current")]
    assert isinstance(drift.result[0], Failure) if record["decision"] == "rejected" else drift.is_passed
    assert isinstance(cases[("gates/test_g.py::test_small", "roc_auc@holdout[region=east]")].result[0], Skipped)
    assert not any(isinstance(r, Error) for case in cases.values() for r in case.result)
    assert cases[("gates/test_g.py::test_auc", "roc_auc@holdout")].system_out == (
        "candidate=0.87 baseline=0.85 delta=0.02 threshold=drop <= 0.01 ci=[0.011, 0.029]")


# ---------------------------------------------------------------- mlgate report


@pytest.mark.parametrize("fmt", ["markdown", "html", "junit"])
def test_report_command_renders_a_stored_decision(fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    record = make_record("needs-review")
    stored = tmp_path / "decision.json"
    stored.write_text(json.dumps(record))
    out = tmp_path / "out" / f"report.{fmt}"
    assert cli.main(["report", str(stored), "--format", fmt, "-o", str(out)]) == 0
    renderer = {"markdown": markdown, "html": html, "junit": junit}[fmt]
    assert out.read_text() == renderer.render(record)
    assert f"wrote {fmt} report to {out}" in capsys.readouterr().out
    assert cli.main(["report", str(stored), "-f", fmt]) == 0
    assert capsys.readouterr().out == renderer.render(record)


def test_report_command_rejects_what_is_not_a_decision(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "other.json"
    bad.write_text(json.dumps({"decision": "approved"}))
    assert cli.main(["report", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"mlgate: error: {bad}: not a decision record: missing reasons, counts, gates"
    assert cli.main(["report", str(tmp_path / "missing.json")]) == 2
    assert "missing.json: cannot read" in capsys.readouterr().err
    broken = make_record("approved")
    del broken["gates"][0]["checks"][0]["outcome"]
    bad.write_text(json.dumps(broken))
    assert cli.main(["report", str(bad), "--format", "html"]) == 2
    assert capsys.readouterr().err.strip() == f"mlgate: error: {bad}: malformed decision record (KeyError: 'outcome')"


# ---------------------------------------------------------------- the plugin writes them

GATES = {
    "approved": "def test_auc(mlgate):\n    mlgate.at_least('roc_auc', 0.6)\n",
    "rejected": "def test_auc(mlgate):\n    mlgate.at_least('roc_auc', 0.99)\n",
    "needs-review": ("import pytest\n\n@pytest.mark.gate(severity='review')\n"
                     "def test_auc(mlgate):\n    mlgate.at_least('roc_auc', 0.99)\n"),
}


@pytest.mark.parametrize("status", STATUSES)
def test_gate_run_writes_markdown_html_and_step_summary(project, status: str, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture) -> None:
    summary = project.path / "step-summary.md"
    summary.write_text("earlier\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    project.configure(extra='markdown = "reports/summary.md"\nhtml = "reports/gate.html"')
    project.gates(GATES[status])
    result = project.run()
    result.assert_outcomes(passed=1 if status == "approved" else 0, failed=0 if status == "approved" else 1)
    assert project.decision["decision"] == status
    md = (project.path / "reports" / "summary.md").read_text()
    assert f"**{status.upper()}**" in md.splitlines()[0]
    assert summary.read_text() == "earlier\n\n" + md
    page = parse_html((project.path / "reports" / "gate.html").read_text())
    assert page.get_element_by_id("decision").text_content() == status.upper()
    check = project.decision["gates"][0]["checks"][0]
    gates_text = page.get_element_by_id("gates").text_content()
    assert check["message"] in gates_text and f"{check['candidate']:.4g}" in gates_text
    assert project.decision["artifacts"]["candidate"]["sha256"] in page.get_element_by_id("artifacts").text_content()
    result.stdout.fnmatch_lines(["mlgate markdown: *summary.md", "mlgate html: *gate.html",
                                 "mlgate step summary: *step-summary.md"])
    # A stored decision re-renders to the same files.
    stored = str(project.path / "reports" / "mlgate-decision.json")
    for fmt, name in (("markdown", "summary.md"), ("html", "gate.html"), ("junit", "gates.xml")):
        capsys.readouterr()
        assert cli.main(["report", stored, "--format", fmt]) == 0
        assert capsys.readouterr().out == (project.path / "reports" / name).read_text()


# ---------------------------------------------------------------- in a real browser

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
         "--disable-dev-shm-usage",  # containers often have a tiny /dev/shm
         "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9", "--window-size=1280,2200")
# Measures the rendered page from inside the browser and leaves the numbers in the DOM.
PROBE = """<script>
const box = el => { const r = el.getBoundingClientRect(); return [Math.round(r.width), Math.round(r.height)]; };
const charts = [...document.querySelectorAll('svg.chart')].map(svg => ({
  cls: svg.getAttribute('class'), size: box(svg),
  bars: [...svg.querySelectorAll('rect.bar')].filter(r => r.getBBox().width > 0).length,
  thresholds: [...svg.querySelectorAll('line.threshold')].filter(l => l.getBBox().height > 0).length,
  fills: [...new Set([...svg.querySelectorAll('rect.bar')].map(r => getComputedStyle(r).fill))],
  // every label whole (its tspans spell the full name in its title) and inside the chart
  labels: [...svg.querySelectorAll('text.label')].map(t => ({
    whole: [...t.querySelectorAll('tspan')].map(s => s.textContent).join('') === t.querySelector('title').textContent,
    inside: t.getBBox().x >= 0 && t.getBBox().x + t.getBBox().width <= svg.viewBox.baseVal.width}))}));
const clean = [...document.querySelectorAll('details.section.clean')].map(d => ({open: d.open, height: box(d)[1]}));
const approvals = document.getElementById('approvals');
const shown = () => [...document.querySelectorAll('details.gate')].filter(d => d.offsetParent !== null).length;
const allGates = shown();
document.getElementById('only-bad').click();
const attentionGates = shown();
document.body.setAttribute('data-probe', JSON.stringify({allGates, attentionGates,
  decision: document.getElementById('decision').innerText, decisionSize: box(document.getElementById('decision')),
  headerPosition: getComputedStyle(document.querySelector('header')).position, charts, clean,
  approvals: approvals ? {size: box(approvals), text: approvals.innerText} : null,
  resources: performance.getEntriesByType('resource').length}));
</script>"""


def browser() -> str:
    found = next((shutil.which(name) for name in BROWSERS if shutil.which(name)), None)
    if found is None:
        if os.environ.get("MLGATE_REQUIRE_BROWSER"):
            pytest.fail("MLGATE_REQUIRE_BROWSER is set but no Chromium was found (apt-get install chromium)")
        pytest.skip("no Chromium here (CI sets MLGATE_REQUIRE_BROWSER=1 and installs it)")
    return found


def run_browser(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    profile.mkdir(parents=True, exist_ok=True)
    return subprocess.run([binary, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
                          timeout=120, check=True, env={**os.environ, "HOME": str(profile)})


def severity_gates() -> list[GateResult]:
    """A failing review gate and a failing warn gate with long names, beside the block failure."""
    long = "test_recall_of_applicants_over_sixty_in_the_western_region_by_income_band"
    return [GateResult(f"gates/test_g.py::{long}", "failed", severity=severity, message="recall 0.61 < 0.7",
                       checks=[Check(f"recall@holdout[region=west, age_band=60+, income_band=low, {severity}]",
                                     "failed", "recall", "holdout", 0.61, 0.66, -0.05, "drop <= 0.01",
                                     message="recall 0.61 < 0.7", kind="regression")])
            for severity in ("review", "warn")]


def test_html_renders_in_headless_chromium(tmp_path: Path) -> None:
    binary = browser()
    record = make_record("rejected", gates_for("rejected") + severity_gates() + many_checks(92))
    record["review"] = {"gates": [{"gate": record["gates"][6]["gate"], "message": "recall 0.61 < 0.7", "owner": None}],
                        "approvers": ["lead@example.org"], "candidate": HASH,
                        "commands": [f"mlgate approve --model credit-risk --candidate {HASH} --gate g --by lead"]}
    page = tmp_path / "gate.html"
    page.write_text(text := html.render(record))
    # The probe runs inline script, which the report's own CSP forbids: measure a copy without it.
    probe = tmp_path / "probe.html"
    text = text.replace(f'<meta http-equiv="Content-Security-Policy" content="{html.CSP}">', "")
    probe.write_text(text.replace("</body>", PROBE + "</body>"))
    dom = run_browser(binary, tmp_path / "profile-1", "--dump-dom", probe.as_uri()).stdout
    measured = json.loads(parse_html(dom).body.get("data-probe"))
    assert measured["decision"] == "REJECTED" and min(measured["decisionSize"]) > 10
    assert measured["headerPosition"] == "sticky" and measured["resources"] == 0
    # The "only gates that need attention" filter leaves the failed drift, review and warn gates and the small one.
    assert measured["allGates"] == 100 and measured["attentionGates"] == 4
    charts = {}
    for chart in measured["charts"]:
        charts.setdefault(chart["cls"].split()[-1], []).append(chart)
    assert set(charts) == {"chart-comparison", "chart-drift", "chart-fairness", "chart-explainability",
                           "chart-staging"}
    assert all(min(c["size"]) > 40 for group in charts.values() for c in group)
    # metrics grouped by kind and scale: performance rates and regression deltas in charts of their own
    assert sorted(c["bars"] for c in charts["chart-comparison"]) == [2 * 3, 2 * html.MAX_CHART_ROWS]
    assert charts["chart-drift"][0]["bars"] == 2
    labels = [label for group in charts.values() for c in group for label in c["labels"]]
    assert labels and all(label["whole"] and label["inside"] for label in labels)  # never cut
    # block, review and warn failures in three distinct colours
    regression = next(c for c in charts["chart-comparison"] if c["bars"] == 6)
    assert {"rgb(217, 122, 0)", "rgb(130, 80, 223)"} <= set(regression["fills"])  # review, warn
    assert "rgb(214, 69, 69)" in charts["chart-drift"][0]["fills"]  # the blocking drift gate
    # limits drawn: a tick per drift feature, the parity floor across the fairness chart
    assert charts["chart-drift"][0]["thresholds"] == 2 and charts["chart-fairness"][0]["thresholds"] == 1
    # sections where nothing failed are one collapsed line
    assert measured["clean"] and all(not c["open"] and c["height"] < 60 for c in measured["clean"])
    panel = measured["approvals"]
    assert panel and min(panel["size"]) > 40 and "lead@example.org" in panel["text"] and "mlgate approve" in panel["text"]
    # The report itself, as a user opens it: same DOM and a screenshot kept as a test artifact.
    plain = parse_html(run_browser(binary, tmp_path / "profile-2", "--dump-dom", page.as_uri()).stdout)
    assert plain.get_element_by_id("decision").text_content() == "REJECTED"
    assert len(plain.xpath("//svg")) == len(parse_html(page.read_text()).xpath("//svg")) == 6
    assert len(plain.xpath("//details[contains(@class,'gate')]")) == 100
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "mlgate-report.png"
    shot.unlink(missing_ok=True)
    for attempt in range(2):  # on a loaded machine Chromium has once exited 0 without writing the file
        done = run_browser(binary, tmp_path / f"profile-shot-{attempt}", f"--screenshot={shot}", page.as_uri())
        if shot.exists():
            break
    assert shot.exists(), f"no screenshot written; chromium said: {done.stdout[-500:]} {done.stderr[-1500:]}"
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
