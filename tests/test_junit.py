"""JUnit output: pytest's own --junitxml and the gate-centric report, against junit-10.xsd."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

SCHEMA = etree.XMLSchema(etree.parse(str(Path(__file__).parent / "data" / "junit-10.xsd")))

GATES = """
import pytest

def test_auc(candidate, holdout):
    assert candidate.metric("roc_auc", holdout) >= 0.7

def test_regions(mlgate):
    mlgate.no_regression("roc_auc", max_relative_drop=0.05)
    mlgate.at_least("accuracy", {"*": 0.5, "north": 0.99}, by="region")

@pytest.mark.gate(severity="warn", category="quality", owner="ops")
def test_warn(mlgate):
    mlgate.at_least("accuracy", 0.99)

def test_skipped():
    pytest.skip("not today")
"""


@pytest.fixture
def report(project):
    project.configure(candidate="strong.skops", baseline="good.skops")
    project.gates(GATES)
    result = project.run("--junitxml=reports/pytest.xml")
    return project, result


def test_gate_report_validates_against_junit_10_xsd(report):
    project, _ = report
    document = etree.fromstring(project.junit.encode())
    SCHEMA.assertValid(document)
    assert "disabled" not in project.junit


def test_gate_report_has_every_check_and_the_decision(report):
    project, _ = report
    document = etree.fromstring(project.junit.encode())
    decision = project.decision
    expected = [c["name"] for g in decision["gates"] for c in g["checks"]]
    cases = [case.get("name") for case in document.iter("testcase")]
    assert len(expected) == 6 and set(expected) <= set(cases)
    assert "test_skipped" in cases  # a gate without checks still has its testcase
    assert cases[-1] == "decision"
    north = document.xpath("//testcase[@name='accuracy[holdout, region=north]']")[0]
    assert north.find("failure") is not None and "0.99" in north.find("failure").get("message")
    suite = document.xpath("//testsuite[@name='test_gates.py::test_regions']")[0]
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert float(props["roc_auc[holdout].candidate"]) == pytest.approx(decision["gates"][1]["checks"][0]["candidate"], rel=1e-3)
    assert props["roc_auc[holdout].ci"].startswith("[")
    warn = document.xpath("//testsuite[@name='test_gates.py::test_warn']")[0]
    warn_props = {p.get("name"): p.get("value") for p in warn.iter("property")}
    assert warn_props["severity"] == "warn" and warn_props["owner"] == "ops"
    decision_case = document.xpath("//testcase[@name='decision']")[0]
    assert decision["decision"] == "rejected" and decision_case.find("failure") is not None


def test_no_testcase_has_two_system_out_elements(report):
    project, _ = report
    for path in (project.path / "reports" / "gates.xml", project.path / "reports" / "pytest.xml"):
        for case in etree.parse(str(path)).iter("testcase"):
            assert len(case.findall("system-out")) <= 1, (path.name, case.get("name"))


def test_pytest_junitxml_works_with_default_family_and_no_warnings(report):
    project, result = report
    assert "PytestWarning" not in result.stdout.str()
    assert "warnings summary" not in result.stdout.str()
    document = etree.parse(str(project.path / "reports" / "pytest.xml"))
    cases = {c.get("name") for c in document.iter("testcase")}
    assert cases == {"test_auc", "test_regions", "test_warn", "test_skipped"}
    assert not list(document.iter("properties"))  # xunit2 forbids testcase properties


def test_report_for_an_approved_run_passes_the_decision_case(project):
    project.configure(candidate="strong.skops", baseline="good.skops")
    project.gates("def test_ok(mlgate):\n    mlgate.at_least('accuracy', 0.5)\n")
    project.run()
    document = etree.fromstring(project.junit.encode())
    SCHEMA.assertValid(document)
    decision_case = document.xpath("//testcase[@name='decision']")[0]
    assert decision_case.find("failure") is None
    assert decision_case.findtext("system-out") == "decision=approved"
