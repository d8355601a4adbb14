"""Gate-centric JUnit XML: a testsuite per gate, a testcase per check, and one for the decision.

Valid against Jenkins' junit-10.xsd: numbers travel as testsuite properties (that schema allows
no properties on a testcase), and the ``disabled`` attribute junit-xml writes is removed.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from pytest_mlgate.reports.table import number

NUMBERS = ("candidate", "baseline", "delta", "threshold")


def _case(name: str, classname: str, outcome: str, message: str, text: str, seconds: float) -> Any:
    from junit_xml import TestCase

    case = TestCase(name, classname=classname, elapsed_sec=seconds, stdout=text or None)
    if outcome == "failed":
        case.add_failure_info(message=message, failure_type="GateFailure")
    elif outcome == "error":
        case.add_error_info(message=message, error_type="GateError")
    elif outcome not in ("passed",):
        case.add_skipped_info(message=message or outcome)
    return case


def _gate_suite(gate: dict[str, Any]) -> Any:
    from junit_xml import TestSuite

    classname = gate["gate"].replace("::", ".").replace("/", ".")
    properties = {k: str(gate[k]) for k in ("severity", "category", "owner", "stage", "outcome") if gate.get(k)}
    cases = []
    for check in gate["checks"]:
        values = {k: number(check[k]) for k in NUMBERS if check.get(k) is not None}
        if check.get("ci"):
            values["ci"] = f"[{number(check['ci'][0])}, {number(check['ci'][1])}]"
        properties.update({f"{check['name']}.{k}": v for k, v in values.items()})
        text = " ".join(f"{k}={v}" for k, v in values.items())
        cases.append(_case(check["name"], classname, check["outcome"], check["message"], text, 0.0))
    if not gate["checks"]:
        cases.append(_case(gate["gate"].rsplit("::", 1)[-1], classname, gate["outcome"], gate["message"], "",
                           gate["duration"]))
    elif gate["outcome"] in ("failed", "error") and not any(c["outcome"] == gate["outcome"] for c in gate["checks"]):
        cases.append(_case("gate", classname, gate["outcome"], gate["message"], "", gate["duration"]))
    return TestSuite(gate["gate"], cases, properties=properties)


def render(record: dict[str, Any]) -> str:
    """The decision record as a JUnit XML document."""
    from junit_xml import TestSuite, to_xml_report_string

    suites = [_gate_suite(gate) for gate in record["gates"]]
    status = record["decision"]
    outcome = "passed" if status == "approved" else "failed"
    message = "; ".join(record["reasons"]) or status
    decision = _case("decision", "mlgate", outcome, f"{status}: {message}", f"decision={status}", 0.0)
    properties = {"decision": status, "model": record.get("model") or "", "owner": record.get("owner") or ""}
    suites.append(TestSuite("mlgate.decision", [decision], properties=properties, timestamp=record.get("finished")))
    root = ET.fromstring(to_xml_report_string(suites, prettyprint=False, encoding="utf-8"))
    for element in (root, *root.iter("testsuite")):
        element.attrib.pop("disabled", None)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
