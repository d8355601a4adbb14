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


# ---------------------------------------------------------------- how CI systems read every outcome

OUTCOMES = {
    "approved": "def test_ok(mlgate):\n    mlgate.at_least('accuracy', 0.5)\n",
    "rejected": "def test_ok(mlgate):\n    mlgate.at_least('accuracy', 0.99)\n",
    "needs-review": ("import pytest\n@pytest.mark.gate(severity='review')\n"
                     "def test_ok(mlgate):\n    mlgate.at_least('accuracy', 0.99)\n"),
    "errored": """
import pytest

@pytest.fixture
def broken():
    raise RuntimeError("fixture exploded")

@pytest.fixture
def bad_teardown():
    yield
    raise RuntimeError("teardown exploded")

def test_crash(mlgate):
    mlgate.at_least("accuracy", 0.5)
    raise ValueError("check crashed")

def test_setup_error(broken):
    pass

def test_fails_then_teardown_errors(mlgate, bad_teardown):
    mlgate.at_least("accuracy", 0.99)
""",
    "skipped-and-xfailed": """
import pytest

def test_ok(mlgate):
    mlgate.at_least("accuracy", 0.5)

def test_skipped():
    pytest.skip("not today")

@pytest.mark.xfail(reason="known gap", strict=False)
def test_xfailed(mlgate):
    mlgate.at_least("accuracy", 0.99)
""",
}
EXPECTED = {"approved": "approved", "rejected": "rejected", "needs-review": "needs-review",
            "errored": "rejected", "skipped-and-xfailed": "approved"}


def _cases(document):
    return [(case.get("classname"), case.get("name")) for case in document.iter("testcase")]


@pytest.mark.parametrize("outcome", sorted(OUTCOMES))
def test_both_junit_files_are_valid_with_unique_names_and_text_content(project, outcome):
    project.configure(candidate="strong.skops", baseline="good.skops", extra='approvers = ["lead@example.org"]')
    project.gates(OUTCOMES[outcome])
    project.run("--junitxml=reports/pytest.xml")
    assert project.decision["decision"] == EXPECTED[outcome]
    for path in (project.path / "reports" / "gates.xml", project.path / "reports" / "pytest.xml"):
        document = etree.parse(str(path))
        SCHEMA.assertValid(document)
        cases = _cases(document)
        assert len(cases) == len(set(cases)), (path.name, cases)
        for element in (*document.iter("failure"), *document.iter("error")):
            # GitLab shows the element's text; an attribute alone renders as a Ruby hash
            assert element.text and element.text.strip(), (path.name, etree.tostring(element))
            assert element.get("message")


def test_errored_gates_keep_their_errors_in_both_files(project):
    project.configure(candidate="strong.skops", baseline="good.skops")
    project.gates(OUTCOMES["errored"])
    project.run("--junitxml=reports/pytest.xml")
    pytest_xml = etree.parse(str(project.path / "reports" / "pytest.xml"))
    both = pytest_xml.xpath("//testcase[@name='test_fails_then_teardown_errors']")
    assert len(both) == 1 and both[0].find("failure") is not None and both[0].find("error") is not None
    assert "teardown exploded" in both[0].find("error").text
    assert "fixture exploded" in pytest_xml.xpath("//testcase[@name='test_setup_error']/error")[0].text
    gates = etree.fromstring(project.junit.encode())
    crash = gates.xpath("//testsuite[@name='test_gates.py::test_crash']//error")
    assert crash and "check crashed" in crash[0].text


WARN_ONLY = """
import pytest

def test_ok(mlgate):
    mlgate.at_least("accuracy", 0.5)

@pytest.mark.gate(severity="warn")
def test_precision_target(mlgate):
    mlgate.at_least("accuracy", 0.99)
"""


@pytest.mark.parametrize("xdist", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_a_failing_warn_gate_is_a_passed_testcase_with_the_warning_in_system_out(project, xdist):
    project.configure(candidate="strong.skops", baseline="good.skops")
    project.gates(WARN_ONLY)
    result = project.run("--junitxml=reports/pytest.xml", *xdist)
    assert result.ret == 0 and project.decision["decision"] == "approved"
    pytest_xml = etree.parse(str(project.path / "reports" / "pytest.xml"))
    suite = pytest_xml.find("testsuite")
    assert suite.get("failures") == "0" and suite.get("errors") == "0" and suite.get("tests") == "2"
    warn = pytest_xml.xpath("//testcase[@name='test_precision_target']")[0]
    assert warn.find("failure") is None and warn.find("error") is None
    assert "warn gate failed" in warn.findtext("system-out") and "0.99" in warn.findtext("system-out")
    gates = etree.fromstring(project.junit.encode())
    warn_suite = gates.xpath("//testsuite[@name='test_gates.py::test_precision_target']")[0]
    assert warn_suite.get("failures") == "0" and not warn_suite.xpath(".//failure")
    assert "warning (warn gate, not blocking)" in warn_suite.xpath(".//testcase")[0].findtext("system-out")
    assert not gates.xpath("//failure")  # the whole approved run reads as passed


def test_warn_gate_warning_joins_pytests_own_system_out_when_junit_logging_is_on(project):
    project.configure(candidate="strong.skops", baseline="good.skops")
    project.gates(WARN_ONLY.replace('    mlgate.at_least("accuracy", 0.99)',
                                    '    print("captured line")\n    mlgate.at_least("accuracy", 0.99)'))
    project.run("--junitxml=reports/pytest.xml", "-o", "junit_logging=system-out")
    warn = etree.parse(str(project.path / "reports" / "pytest.xml")).xpath(
        "//testcase[@name='test_precision_target']")[0]
    outs = warn.findall("system-out")
    assert len(outs) == 1 and "captured line" in outs[0].text and "warn gate failed" in outs[0].text
