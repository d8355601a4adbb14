"""Gate-centric JUnit XML: a testsuite per gate, a testcase per check, and one for the decision.

Written the way GitLab, Jenkins and GitHub test reporters read it, and valid against Jenkins'
junit-10.xsd for every outcome:

- a failing ``warn`` gate is not a failed testcase: its checks pass, with the warning in
  ``system-out`` (a warn gate never blocks, so CI must not show the run as failed);
- failure, error and skip text is the element's content as well as its ``message`` attribute
  (GitLab shows the content; an attribute alone shows as a Ruby hash);
- testcase names are unique within their class (a repeated check name gets `` (2)``);
- numbers travel as testsuite properties (junit-10.xsd allows no properties on a testcase), and
  the ``disabled`` attribute junit-xml writes is removed.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from pytest_mlgate.reports.table import labels, number

NUMBERS = ("candidate", "baseline", "delta", "threshold")
WARNING = "warning (warn gate, not blocking): "


def _case(name: str, classname: str, outcome: str, message: str, text: str, seconds: float,
          warn: bool = False) -> Any:
    from junit_xml import TestCase

    body = "\n".join(part for part in (message, text) if part)
    if warn and outcome == "failed":
        return TestCase(name, classname=classname, elapsed_sec=seconds, stdout=WARNING + body)
    case = TestCase(name, classname=classname, elapsed_sec=seconds, stdout=text or None)
    if outcome == "failed":
        case.add_failure_info(message=message or "failed", output=body or "failed", failure_type="GateFailure")
    elif outcome == "error":
        case.add_error_info(message=message or "error", output=body or "error", error_type="GateError")
    elif outcome != "passed":
        reason = message or outcome.replace("_", " ")
        case.add_skipped_info(message=reason, output=reason)
    return case


def _unique(name: str, seen: set[str]) -> str:
    found, n = name, 1
    while found in seen:
        n += 1
        found = f"{name} ({n})"
    seen.add(found)
    return found


def _gate_suite(gate: dict[str, Any]) -> Any:
    from junit_xml import TestSuite

    classname = gate["gate"].replace("::", ".").replace("/", ".")
    properties = {k: str(gate[k]) for k in ("severity", "category", "owner", "stage", "outcome") if gate.get(k)}
    warn = gate.get("severity") == "warn"
    cases, seen = [], set()
    for check in gate["checks"]:
        names = dict(zip(("candidate", "baseline"), labels(check), strict=True))
        values = {names.get(k, k): number(check[k]) for k in NUMBERS if check.get(k) is not None}
        if check.get("ci"):
            values["ci"] = f"[{number(check['ci'][0])}, {number(check['ci'][1])}]"
        properties.update({f"{check['name']}.{k}": v for k, v in values.items()})
        text = " ".join(f"{k}={v}" for k, v in values.items())
        cases.append(_case(_unique(check["name"], seen), classname, check["outcome"], check["message"], text,
                           0.0, warn))
    if not gate["checks"]:
        cases.append(_case(gate["gate"].rsplit("::", 1)[-1], classname, gate["outcome"], gate["message"], "",
                           gate["duration"], warn))
    elif gate["outcome"] in ("failed", "error") and not any(c["outcome"] == gate["outcome"] for c in gate["checks"]):
        cases.append(_case(_unique("gate", seen), classname, gate["outcome"], gate["message"], "",
                           gate["duration"], warn))
    return TestSuite(gate["gate"], cases, properties=properties)


def render(record: dict[str, Any]) -> str:
    """The decision record as a JUnit XML document (built and serialised once)."""
    from junit_xml import TestSuite, _clean_illegal_xml_chars

    suites = [_gate_suite(gate) for gate in record["gates"]]
    status = record["decision"]
    outcome = "passed" if status == "approved" else "failed"
    message = "; ".join(record["reasons"]) or status
    decision = _case("decision", "mlgate", outcome, f"{status}: {message}", f"decision={status}", 0.0)
    properties = {"decision": status, "model": record.get("model") or "", "owner": record.get("owner") or ""}
    suites.append(TestSuite("mlgate.decision", [decision], properties=properties, timestamp=record.get("finished")))
    root = ET.Element("testsuites")
    totals = {"errors": 0, "failures": 0, "tests": 0, "time": 0.0}
    for suite in suites:  # what junit_xml.to_xml_report_string does, without its string round trip
        element = suite.build_xml_doc(encoding="utf-8")
        element.attrib.pop("disabled", None)
        for key, value in totals.items():
            totals[key] = value + type(value)(element.get(key, 0))
        root.append(element)
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return _clean_illegal_xml_chars(ET.tostring(root, encoding="unicode", xml_declaration=True)) + "\n"
