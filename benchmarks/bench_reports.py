"""Render time and size of each report format for 100 and 500 gates.

Run: ``python benchmarks/bench_reports.py``. Each gate has a regression check with a CI; every tenth
also carries a 30-row drift table, as real runs mix the families. Prints milliseconds per render,
the output size, and the Markdown size as a share of GitHub's 1 MiB step-summary limit; then what
a session writes after its decision, as it writes it: the decision file (twice: before and after
the audit entry), the audit entry (to a log that already holds 20 such decisions) and the three
report files, each fsynced: wall and CPU time (on a busy disk the wall time is mostly fsync).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from pytest_mlgate.decision import Check, GateResult, decide
from pytest_mlgate.lifecycle.audit import AuditLog
from pytest_mlgate.records import decision_record, write_atomic, write_json
from pytest_mlgate.reports import html, junit, markdown

REPEATS = 3


def gates(n: int) -> list[GateResult]:
    found = []
    for i in range(n):
        failed = i % 7 == 0
        outcome = "failed" if failed else "passed"
        checks = [Check(f"roc_auc[slice={i}]", outcome, "roc_auc", "holdout", 0.8 - (0.05 if failed else 0), 0.8,
                        -0.05 if failed else 0.0, "drop <= 0.01", (-0.07, -0.03) if failed else (-0.01, 0.01),
                        f"roc_auc[slice={i}] dropped 0.05 from baseline 0.8 to 0.75; allowed drop <= 0.01"
                        if failed else "", "regression", {"rows": 2000, "criterion": "point"})]
        if i % 10 == 0:
            table = [{"feature": f"f{j}", "statistic": j / 100, "p_value": 0.5, "effect_value": j / 200,
                      "drifted": j > 25, "outcome": "drifted" if j > 25 else "stable"} for j in range(30)]
            checks.append(Check("drift@current", outcome, kind="drift", details={"table": table}))
        found.append(GateResult(f"gates/test_bench.py::test_gate_{i}", outcome,
                                message=checks[0].message, checks=checks))
    return found


def record(n: int) -> dict:
    return decision_record(decide(gates(n)), model="bench", owner="ml@example.org", stage="push", exit_status=1,
                           artifacts={}, datasets={}, started="2026-01-01T00:00:00+00:00", commit=None)


def main() -> None:
    print(f"{'gates':>6} {'format':>9} {'ms/render':>10} {'size KiB':>9}  note")
    for n in (100, 500):
        data = record(n)
        for name, renderer in (("markdown", markdown), ("html", html), ("junit", junit)):
            start = time.perf_counter()
            for _ in range(REPEATS):
                text = renderer.render(data)
            ms = (time.perf_counter() - start) / REPEATS * 1000
            size = len(text.encode())
            note = f"{size / markdown.GITHUB_LIMIT:.1%} of the 1 MiB step-summary limit" if name == "markdown" else ""
            print(f"{n:>6} {name:>9} {ms:>10.1f} {size / 1024:>9.1f}  {note}")
    for n in (100, 500):
        data = record(n)
        with tempfile.TemporaryDirectory() as tmp:
            log = AuditLog(Path(tmp) / "audit.jsonl")
            for _ in range(20):
                log.append("decision", data, model="bench")
            start, cpu = time.perf_counter(), time.process_time()
            for _ in range(REPEATS):
                session_writes(Path(tmp), data, log)
            ms = (time.perf_counter() - start) / REPEATS * 1000
            cpu_ms = (time.process_time() - cpu) / REPEATS * 1000
        print(f"{n:>6} gates: decision file x2 + audit entry + JUnit, Markdown, HTML written in {ms:.0f} ms "
              f"({cpu_ms:.0f} ms CPU; the rest is waiting for fsync)")


def session_writes(folder: Path, data: dict, log: AuditLog) -> None:
    """The files a session writes after its decision, in its order."""
    write_json(folder / "decision.json", data)
    log.append("decision", data, model="bench")
    write_json(folder / "decision.json", data)
    for name, renderer in (("junit.xml", junit), ("summary.md", markdown), ("report.html", html)):
        write_atomic(folder / name, renderer.render(data))


if __name__ == "__main__":
    main()
