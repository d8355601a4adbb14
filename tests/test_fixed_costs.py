"""Fixed costs of a gate run: heavy modules wait for the gate that needs them, and the end of the
run skips garbage collection passes without losing a record."""

from __future__ import annotations

import gc
import hashlib
import json
from pathlib import Path

import pytest
import skops.io  # noqa: F401  (imported here, not inside a pytester test, which would drop it after)
from engine_scenarios import write_project

from pytest_mlgate.lifecycle.audit import AuditLog
from pytest_mlgate.lifecycle.registry import Registry

# A conftest of the gate project: reports what the collector and the module table looked like
# at the very end of the run, after every mlgate hook.
PROBE = """
import gc, json, os, sys
import pytest

@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    with open(os.path.join(str(config.rootpath), "probe.json"), "w") as fh:
        json.dump({"frozen": gc.get_freeze_count(), "modules": sorted(sys.modules)}, fh)
"""

GATES = """
def test_auc(candidate, holdout):
    assert candidate.metric("roc_auc", holdout) > 0.6

def test_accuracy(mlgate):
    mlgate.at_least("accuracy", 0.6)
"""


def probe(project) -> dict:
    return json.loads((project.path / "probe.json").read_text())


def test_an_in_process_run_freezes_after_its_decision_and_thaws_at_its_end(project) -> None:
    project.pytester.makeconftest(PROBE)
    project.gates(GATES)
    before = gc.get_freeze_count()
    assert project.run().ret == 0
    assert probe(project)["frozen"] > 0  # pytest's unconfigure collections skip what the run left
    assert gc.get_freeze_count() == before  # and the process that ran pytest.main collects as before


def test_a_run_that_exits_has_written_and_synced_every_record(project) -> None:
    """The run as CI makes it (its own process, exiting with the frozen collector): the decision,
    every report, the audit entry and the registry promotion are complete on disk."""
    project.configure(candidate="good.skops", baseline=None,
                      extra='markdown = "reports/gates.md"\nhtml = "reports/gates.html"')
    project.pytester.makeconftest(PROBE)
    project.gates(GATES)
    result = project.run_subprocess("--mlgate-promote", "production")
    assert result.ret == 0, result.stdout.str()
    assert probe(project)["frozen"] > 0
    decision = project.decision
    assert decision["decision"] == "approved" and len(decision["gates"]) == 2
    assert decision["lifecycle"]["audit"] == 1 and decision["lifecycle"]["promotion"]["to"] == "v1"
    log = AuditLog(project.path / ".mlgate" / "audit.jsonl")
    assert log.verify().ok
    assert [e["event"] for e in log.entries()] == ["decision", "register", "promote"]
    audited = log.find("decision")[0]["data"]
    assert audited["gates"] == decision["gates"] and audited["finished"] == decision["finished"]
    entry = Registry(project.path / ".mlgate" / "registry").version("credit-risk", "production")
    assert entry["sha256"] == hashlib.sha256((project.path / "good.skops").read_bytes()).hexdigest()
    reports = project.path / "reports"
    assert "approved" in (reports / "gates.md").read_text()
    assert (reports / "gates.html").read_text().rstrip().endswith("</html>")
    assert project.junit.rstrip().endswith(">") and "test_accuracy" in project.junit


# ---------------------------------------------------------------- the suite listing runs beside the gates

GATE_A = "def test_a(mlgate):\n    mlgate.at_least('accuracy', 0.6)\n"
WATCH_LISTING = """
import psutil

def listings():
    return [p for p in psutil.Process().children(recursive=True) if "--collect-only" in p.cmdline()]

def test_b(mlgate):
    assert listings(), "the suite listing is not running while the gates run"
    mlgate.at_least('accuracy', 0.6)
"""
LISTING_HOOK = """
import time
import pytest

def pytest_collection_modifyitems(config):
    if config.option.collectonly:
        {action}
"""


def listings() -> list:
    import psutil

    return [p for p in psutil.Process().children(recursive=True) if "--collect-only" in p.cmdline()]


def test_the_suite_is_listed_while_the_gates_run(project) -> None:
    project.configure(baseline=None)
    project.pytester.makeconftest(LISTING_HOOK.format(action="time.sleep(5)"))  # still listing when test_b runs
    project.pytester.makepyfile(test_a=GATE_A, test_b=WATCH_LISTING)
    result = project.run("test_b.py")
    assert result.ret == 1
    decision = project.decision
    assert [g["outcome"] for g in decision["gates"]] == ["passed"]  # the listing was running during test_b
    assert decision["not_run"] == ["test_a.py::test_a"]
    assert "1 of 2 gate(s) of the suite did not run" in decision["reasons"][0]


def test_a_run_that_stops_early_ends_the_listing(project) -> None:
    project.configure(baseline=None)
    project.pytester.makeconftest(LISTING_HOOK.format(action="time.sleep(120)"))
    project.pytester.makepyfile(test_a=GATE_A, test_b="def test_b():\n    assert False\n")
    result = project.run("-x", "test_b.py")
    assert result.ret == 1 and project.decision["decision"] == "rejected"
    assert "stopping after 1 failures" in project.decision["reasons"][0]
    assert listings() == []


def test_a_listing_that_fails_rejects_naming_why(project) -> None:
    project.configure(baseline=None)
    project.pytester.makeconftest(LISTING_HOOK.format(action='raise pytest.UsageError("no listing here")'))
    project.pytester.makepyfile(test_a=GATE_A, test_b="def test_b(mlgate):\n    mlgate.at_least('accuracy', 0.6)\n")
    result = project.run("test_b.py")
    assert result.ret == 1 and project.decision["decision"] == "rejected"
    assert project.decision["reasons"][0].endswith("could not list the gate suite (exit 4): ERROR: no listing here")


# ---------------------------------------------------------------- heavy modules wait for their gate

HEAVY = ("scipy.stats", "sklearn", "pandera", "skops", "matplotlib", "jinja2", "fairlearn", "datasketches")
DATA_ONLY = """
def test_nulls(mlgate):
    mlgate.no_missing("holdout", max_rate=0.01)

def test_rows(holdout):
    assert len(holdout.frame) > 1000
"""
THRESHOLDS = """
def test_accuracy(mlgate):
    mlgate.at_least("accuracy", 0.6)

def test_auc(candidate, holdout):
    assert candidate.metric("roc_auc", holdout) > 0.6
"""
DRIFT = "def test_drift(mlgate):\n    mlgate.no_drift('reference', 'holdout', features=['income', 'debt'])\n"
SCHEMA = "def test_schema(mlgate):\n    mlgate.schema('holdout', 'infer')\n"


def heavy_modules(project, gates: str) -> set[str]:
    project.pytester.makeconftest(PROBE)
    project.gates(gates)
    result = project.run_subprocess()
    assert result.ret == 0, result.stdout.str()
    return set(probe(project)["modules"]) & set(HEAVY)


def test_gates_that_read_only_data_import_no_statistics_model_or_schema_library(project) -> None:
    assert heavy_modules(project, DATA_ONLY) == set()


def test_threshold_gates_on_a_csv_holdout_import_no_schema_library(project) -> None:
    # scikit-learn itself imports scipy.stats (sklearn.utils.fixes): the model's library brings it
    assert heavy_modules(project, THRESHOLDS) == {"sklearn", "skops", "scipy.stats"}


def test_a_drift_and_a_schema_gate_import_what_they_need(project) -> None:
    assert {"scipy.stats", "pandera"} <= heavy_modules(project, DRIFT + SCHEMA)


def test_a_streamed_run_keeps_collecting_so_its_sketches_are_freed_at_exit(pytester) -> None:
    """datasketches' bindings print every KLL sketch still alive at exit (hundreds of lines): a run
    that made sketches is not frozen."""
    write_project(Path(pytester.path), rows=3_000)
    pytester.makepyprojecttoml(
        '[tool.mlgate]\ncandidate = "candidate.skops"\nbaseline = "baseline.skops"\ntarget = "defaulted"\n'
        'memory_budget = "64KiB"\ngates = ["gates"]\n[tool.mlgate.datasets]\nholdout = "holdout"\n'
        'reference = "reference"\ncurrent = "current"\n')
    pytester.makeconftest(PROBE)
    (pytester.path / "gates").mkdir()
    (pytester.path / "gates" / "test_drift.py").write_text(
        "def test_drift(mlgate):\n    mlgate.no_drift('reference', 'current', features=['income', 'debt'])\n")
    result = pytester.runpytest_subprocess("gates", "-p", "no:cacheprovider")
    assert "mlgate decision: REJECTED" in result.stdout.str()  # the run got to its decision (income drifted)
    assert "_datasketches" in json.loads((pytester.path / "probe.json").read_text())["modules"]
    assert "leaked" not in result.stderr.str() and "leaked" not in result.stdout.str()


def test_a_process_that_made_sketches_is_not_frozen_at_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    """An xdist worker whose earlier tests made sketches, then ran a run that froze: at exit the
    sketches must still be collected, or their bindings report each one."""
    from pytest_mlgate import session
    from pytest_mlgate.evaluate.statistics import Sketch

    Sketch()
    before = gc.get_freeze_count()
    session._freeze_at_exit()
    frozen = gc.get_freeze_count()
    if frozen != before:  # leave this process as it was
        gc.unfreeze()
    assert frozen == before
    monkeypatch.setattr(Sketch, "made", 0)  # one that made none is frozen
    session._freeze_at_exit()
    frozen = gc.get_freeze_count()
    gc.unfreeze()
    assert frozen > 0
