"""Fault injection: no flag, partial run, bad input, full disk or signal approves a model that was not
fully gated, and nothing recorded earlier (decision, audit, registry, approvals) is lost or changed."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_mlgate.cli import main
from pytest_mlgate.lifecycle.audit import AuditLog
from pytest_mlgate.lifecycle.registry import Registry

GATE_A = """
def test_a(candidate, holdout):
    assert candidate.metric("roc_auc", holdout) >= 0.99, "AUC floor"
"""
GATE_B = """
def test_b(candidate, holdout):
    assert candidate.metric("roc_auc", holdout) >= 0.5
"""
OLD_APPROVAL = {"decision": "approved", "model": "credit-risk", "note": "an older candidate"}


def two_files(project) -> None:
    """test_a.py fails (AUC floor 0.99), test_b.py passes: any subset without test_a would approve."""
    project.pytester.makepyfile(test_a=GATE_A, test_b=GATE_B)


def audit(project) -> AuditLog:
    return AuditLog(project.path / ".mlgate" / "audit.jsonl")


def production(project) -> str | None:
    registry = Registry(project.path / ".mlgate" / "registry")
    return registry.index("credit-risk")["aliases"].get("production") if "credit-risk" in registry.models() else None


def decision_path(project) -> Path:
    return project.path / "reports" / "mlgate-decision.json"


def old_decision(project) -> str:
    """An approval left by an earlier run, where CI reads the decision."""
    path = decision_path(project)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(OLD_APPROVAL))
    return path.read_text()


def set_keys(project, text: str, table: str = "[tool.mlgate]\n") -> None:
    path = project.path / "pyproject.toml"
    path.write_text(path.read_text().replace(table, table + text + "\n", 1))


def assert_usage_error(result: pytest.RunResult, message: str) -> None:
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.lines if line.strip()]
    assert errors == [f"ERROR: {message}"], errors


# ---------------------------------------------------------------- the suite, not what survived selection


@pytest.mark.parametrize("selection", [
    ["-k", "test_b"],
    ["--deselect", "test_a.py::test_a"],
    ["test_b.py"],
    ["test_b.py::test_b"],
    ["--ignore", "test_a.py"],
    ["-m", "not slow"],
], ids=["k", "deselect", "file", "node-id", "ignore", "m"])
def test_a_narrowed_run_is_incomplete_names_the_gates_and_promotes_nothing(project, selection):
    project.configure(baseline=None, extra='[tool.pytest.ini_options]\nmarkers = ["slow: slow gates"]')
    project.pytester.makepyfile(test_a="import pytest\n\n@pytest.mark.slow" + GATE_A, test_b=GATE_B)
    result = project.run(*selection, "--mlgate-promote", "production")
    decision = project.decision
    assert result.ret == 1
    assert decision["decision"] == "rejected"
    assert decision["not_run"] == ["test_a.py::test_a"]
    assert "1 of 2 gate(s) of the suite did not run" in decision["reasons"][0]
    assert "test_a.py::test_a" in decision["reasons"][0]
    assert production(project) is None
    result.stdout.fnmatch_lines(["mlgate promotion refused: credit-risk@production not moved: the decision is rejected"])


def test_a_narrowed_xdist_run_is_incomplete(project):
    project.configure(baseline=None)
    two_files(project)
    result = project.run("-n", "2", "-k", "test_b")
    assert result.ret == 1
    assert project.decision["not_run"] == ["test_a.py::test_a"] and "-k" in project.decision["reasons"][0]


def test_last_failed_reruns_are_incomplete_and_never_promote(project):
    project.configure(baseline=None)
    project.pytester.makepyfile(test_a=GATE_B.replace("test_b", "test_a"), test_b=GATE_B + "    assert False\n")
    assert project.pytester.runpytest().ret == 1  # test_b failed; test_a passed
    two_files(project)  # now test_a fails, test_b passes; --lf reruns test_b only
    result = project.pytester.runpytest("--lf", "--mlgate-promote", "production")
    assert result.ret == 1
    assert project.decision["decision"] == "rejected"
    assert project.decision["not_run"] == ["test_a.py::test_a"]
    assert "--lf" in project.decision["reasons"][0]
    assert production(project) is None


def test_stepwise_reruns_are_incomplete(project):
    project.configure(baseline=None)
    project.pytester.makepyfile(test_a=GATE_B.replace("test_b", "test_a"), test_b=GATE_B + "    assert False\n")
    assert project.pytester.runpytest("--sw").ret == pytest.ExitCode.INTERRUPTED  # stopped at test_b
    two_files(project)  # now test_a fails; --sw skips ahead to test_b, which passes
    result = project.pytester.runpytest("--sw", "--mlgate-promote", "production")
    assert result.ret == 1
    assert project.decision["not_run"] == ["test_a.py::test_a"] and "--sw" in project.decision["reasons"][0]
    assert production(project) is None


def test_a_full_run_after_selection_still_decides(project):
    project.configure(baseline=None)
    project.pytester.makepyfile(test_b=GATE_B)
    result = project.run("test_b.py", "--mlgate-promote", "production")  # the whole suite, named
    assert result.ret == 0
    assert project.decision["decision"] == "approved" and project.decision["not_run"] == []
    assert production(project) == "v1"


def test_a_conftest_deselect_is_caught(project):
    two_files(project)
    project.pytester.makeconftest("""
def pytest_collection_modifyitems(config, items):
    dropped = [i for i in items if i.name == "test_a"]
    items[:] = [i for i in items if i.name != "test_a"]
    config.hook.pytest_deselected(items=dropped)
""")
    assert project.run().ret == 1
    assert project.decision["not_run"] == ["test_a.py::test_a"]


# ---------------------------------------------------------------- informational runs and interrupted runs


@pytest.mark.parametrize("flag", ["--collect-only", "--fixtures", "--markers", "--setup-plan", "--help",
                                  "--version"])
def test_informational_runs_write_nothing(project, flag):
    two_files(project)
    before = old_decision(project)
    result = project.run(flag)
    assert result.ret == 0
    assert decision_path(project).read_text() == before
    assert not (project.path / "reports" / "gates.xml").exists()
    assert not (project.path / ".mlgate" / "audit.jsonl").exists()


def test_a_conftest_error_leaves_no_old_approval(project):
    project.pytester.makepyfile(test_b=GATE_B)
    old_decision(project)
    project.pytester.makeconftest("raise RuntimeError('broken conftest')")
    result = project.run()
    assert result.ret != 0
    assert project.decision["decision"] == "in-progress"


@pytest.mark.parametrize(("keys", "where", "message"), [
    ('confidence = "high"', None, "'confidence' must be a number in [0.5, 0.9999], got 'high'"),
    ('confidence = "high"\ndecision = "out/decided.json"', "out/decided.json",
     "'confidence' must be a number in [0.5, 0.9999], got 'high'"),
    ('modle = "x"', None, "unknown key 'modle' (known: "),
], ids=["bad value", "bad value, own decision path", "unknown key"])
def test_a_bad_setting_leaves_no_old_approval(project, keys, where, message):
    project.pytester.makepyfile(test_b=GATE_B)
    path = decision_path(project) if where is None else project.path / where
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(OLD_APPROVAL))
    set_keys(project, keys)
    result = project.run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    said = [line for line in result.stderr.lines if "mlgate" in line]
    assert len(said) == 1 and said[0].startswith(f"ERROR: mlgate config: {message}")
    record = json.loads(path.read_text())
    assert record["decision"] == "rejected" and record["exit_status"] == 4 and record["gates"] == []
    assert record["reasons"][0].startswith(f"run incomplete: configuration error: mlgate config: {message}")


def test_a_bad_setting_from_the_command_line_replaces_the_old_approval(project):
    project.pytester.makepyfile(test_b=GATE_B)
    old_decision(project)
    result = project.run("--mlgate-bootstrap", "many")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert project.decision["decision"] == "rejected"
    assert "'bootstrap' must be an integer" in project.decision["reasons"][0]


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_killed_run_leaves_in_progress_not_the_old_approval(project, sig):
    project.pytester.makepyfile(test_slow="import time\n\ndef test_slow():\n    time.sleep(60)\n")
    old_decision(project)
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"], cwd=project.path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while "in-progress" not in decision_path(project).read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        proc.send_signal(sig)
        proc.wait(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode != 0
    assert project.decision["decision"] == "in-progress"


# ---------------------------------------------------------------- validation before any gate runs


@pytest.mark.parametrize("marker, message", [
    ('stage="pushh"', "@pytest.mark.gate(stage=...) must be one of push, monitor, both (or a list of them), "
                      "got 'pushh'"),
    ('severity="blocker"', "@pytest.mark.gate(severity=...) must be one of block, review, warn, got 'blocker'"),
    ('category=""', "@pytest.mark.gate(category=...) must be a non-empty string, got ''"),
    ('sevrity="warn"', "@pytest.mark.gate(sevrity=...) is unknown (known: severity, stage, category, owner)"),
])
def test_bad_gate_marker_is_a_usage_error_before_any_gate(project, marker, message):
    project.gates(f"import pytest\n\n@pytest.mark.gate({marker})\ndef test_x():\n    assert False\n")
    result = project.run()
    assert_usage_error(result, f"test_gates.py::test_x: {message}")
    assert project.decision["decision"] == "rejected"
    assert project.decision["counts"] == {}


@pytest.mark.parametrize("keys, message", [
    ('sha256 = { holdut = "' + "0" * 64 + '" }', "mlgate config: 'sha256' pins 'holdut', which is no model role "
                                                 "or dataset (known: candidate, baseline, holdout, reference)"),
    ('sha256 = { candidate = "" }', "mlgate config: 'sha256' pin for 'candidate' must be 64 hex digits, got ''"),
    ('sha256 = { candidate = "abc" }', "mlgate config: 'sha256' pin for 'candidate' must be 64 hex digits, "
                                       "got 'abc'"),
    ('html = "/"', "mlgate config: 'html' = '/' is a directory; give a file path"),
    ('decision = "reports/"', "mlgate config: 'decision' = 'reports/' is a directory; give a file path"),
    ('markdown = "pyproject.toml/x.md"', "mlgate config: 'markdown' = 'pyproject.toml/x.md': {root}/pyproject.toml "
                                       "is not a directory"),
    ("review_exit_code = 0", "mlgate config: 'review_exit_code' must not be 0 (that status means approved); "
                             "use 6-255"),
    ("review_exit_code = 1", "mlgate config: 'review_exit_code' must not be 1 (that status means rejected); "
                             "use 6-255"),
    ("predict_timeout = 0", "mlgate config: 'predict_timeout' must be a number in [0.001, 86400.0], got 0"),
    ("[tool.mlgate.alerts]\nwebhok = 'http://127.0.0.1:1'", "mlgate config: [tool.mlgate.alerts] unknown key(s) "
                                                              "['webhok'] (known: webhook, webhook_env, file, "
                                                              "state, dedupe_window, timeout, retries)"),
    ("[tool.mlgate.monitor]\nwindow = '1h'", "mlgate config: [tool.mlgate.monitor] unknown key(s) ['window'] "
                                             "(known: alpha, state, tune_looks, rollback_on, on_alert)"),
], ids=["pin-name", "pin-empty", "pin-short", "html-root", "decision-dir", "parent-file", "review-0",
        "review-1", "timeout", "alerts-key", "monitor-key"])
def test_bad_settings_are_one_line_usage_errors_naming_the_key(project, keys, message):
    project.gates(GATE_B)
    if keys.startswith("["):  # a sub-table
        path = project.path / "pyproject.toml"
        path.write_text(path.read_text() + "\n" + keys + "\n")
    else:
        set_keys(project, keys)
    result = project.run()
    assert_usage_error(result, message.format(root=project.path))
    assert not (project.path / ".mlgate" / "audit.jsonl").exists()


def test_a_path_option_value_does_not_change_which_project_applies(project, tmp_path):
    import hashlib

    other = tmp_path / "other"
    other.mkdir()
    (other / "pyproject.toml").write_text('[tool.mlgate]\nmodel = "someone-else"\n')
    (other / "weak.skops").write_bytes((project.path / "weak.skops").read_bytes())
    pin = hashlib.sha256((project.path / "good.skops").read_bytes()).hexdigest()
    set_keys(project, f'sha256 = {{ candidate = "{pin}" }}')
    project.gates(GATE_B)
    result = project.run("--mlgate-candidate", str(other / "weak.skops"))  # space form: a path argument
    assert result.ret == 1
    assert project.decision["model"] == "credit-risk"
    assert "sha256" in project.decision["reasons"][0]
    assert not (other / "reports").exists()


# ---------------------------------------------------------------- data and predictions


EMPTY_GATES = """
def test_per_group(mlgate):
    mlgate.at_least("roc_auc", 0.5, by="sex")

def test_regression_by_group(mlgate):
    mlgate.no_regression("roc_auc", by="sex")
"""


def test_an_empty_holdout_fails_per_group_gates_by_name(project):
    (project.path / "holdout.csv").write_text((project.path / "holdout.csv").read_text().splitlines()[0] + "\n")
    project.gates(EMPTY_GATES)
    result = project.run()
    assert result.ret == 1
    decision = project.decision
    assert decision["decision"] == "rejected"
    assert [g["outcome"] for g in decision["gates"]] == ["error", "error"]
    assert all("dataset 'holdout' has no rows" in g["message"] for g in decision["gates"])
    assert "ZeroDivisionError" not in result.stdout.str()


def test_slices_that_leave_no_rows_fail(project):
    project.gates("""
def test_slice(mlgate):
    mlgate.at_least("roc_auc", 0.5, where="income > 1000")

def test_groups(mlgate):
    mlgate.no_regression("roc_auc", by="sex", where="income > 1000")

def test_nothing(mlgate):
    mlgate.record()
""")
    assert project.run().ret == 1
    messages = [g["message"] for g in project.decision["gates"]]
    assert "slice 'income > 1000' has no rows" in messages[0]
    assert "slice 'income > 1000' has no rows" in messages[1]
    assert messages[2] == "test_gates.py::test_nothing: the check recorded nothing to judge"


WRAPPED_MODEL = """
import time
import numpy as np
import skops.io as sio

class Wrapped:
    def __init__(self, model):
        self.model, self.classes_, self.feature_names_in_ = model, model.classes_, model.feature_names_in_
    def predict(self, X):
        {predict}
    def predict_proba(self, X):
        {proba}

def pytest_mlgate_load_model(path, settings):
    return Wrapped(sio.load(path, trusted=sio.get_untrusted_types(file=path)))
"""


@pytest.mark.parametrize("predict, proba, message", [
    ("return self.model.predict(X)", "return self.model.predict_proba(X) * 1.5",
     "model 'candidate' predict_proba on dataset 'holdout' returned probabilities outside [0, 1] in "),
    ("return self.model.predict(X)", "return self.model.predict_proba(X) * 0.5",
     "model 'candidate' predict_proba on dataset 'holdout' returned probability rows not summing to 1 "
     "(within 0.001) in 2000 of 2000 rows"),
    ("return self.model.predict(X) + 7", "time.sleep(0); return self.model.predict_proba(X)",
     "model 'candidate' predict on dataset 'holdout' returned labels outside the model's classes [0, 1] in 2000 "
     "of 2000 rows (e.g. 7)"),
    ("return self.model.predict(X)", "time.sleep(30); return self.model.predict_proba(X)",
     "model 'candidate' predict_proba on dataset 'holdout' did not return within 0.5 s "
     "([tool.mlgate] predict_timeout)"),
], ids=["above-1", "rows-not-1", "unknown-label", "hang"])
def test_bad_or_hung_predictions_fail_closed(project, predict, proba, message):
    project.configure(baseline=None, extra="predict_timeout = 0.5")
    project.pytester.makeconftest(WRAPPED_MODEL.format(predict=predict, proba=proba))
    project.gates("""
def test_auc(candidate, holdout):
    assert candidate.metric("roc_auc", holdout) >= 0.5

def test_accuracy(candidate, holdout):
    assert candidate.metric("accuracy", holdout) >= 0.5
""")
    result = project.run()
    assert result.ret == 1
    assert project.decision["decision"] == "rejected"
    assert any(message in g["message"] for g in project.decision["gates"]), project.decision["gates"]


# ---------------------------------------------------------------- session end: decision, audit, promotion


FULL_DISK = """
import errno
import os

real_write = os.write
calls = []

def full_disk(fd, data):
    if os.readlink(f"/proc/self/fd/{fd}").endswith("audit.jsonl"):
        calls.append(len(data))
        if SHORT and len(calls) == 1:
            return real_write(fd, bytes(data[:10]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    return real_write(fd, data)

def pytest_configure(config):
    os.write = full_disk

def pytest_unconfigure(config):
    os.write = real_write
"""


@pytest.mark.parametrize("short", [False, True], ids=["ENOSPC", "short-write-then-ENOSPC"])
def test_a_full_disk_fails_closed_keeps_the_audit_log_and_promotes_nothing(project, short):
    project.configure(baseline=None)
    project.gates(GATE_B)
    assert project.run().ret == 0  # one good audit entry
    before = (project.path / ".mlgate" / "audit.jsonl").read_bytes()
    project.pytester.makeconftest(f"SHORT = {short}\n" + FULL_DISK)
    result = project.run("--mlgate-promote", "production")
    assert result.ret == 1
    assert (project.path / ".mlgate" / "audit.jsonl").read_bytes() == before
    assert production(project) is None
    assert project.decision["decision"] == "approved" and project.decision["exit_status"] == 1
    result.stdout.fnmatch_lines(["mlgate error: */.mlgate/audit.jsonl: cannot append the audit entry: "
                                 "No space left on device"])
    assert main(["audit", "verify", "--config", str(project.path / "pyproject.toml")]) == 0


def test_an_unwritable_decision_file_stops_before_the_audit_and_the_promotion(project):
    project.configure(baseline=None)
    project.gates("""
import pathlib, shutil

def test_b(candidate, holdout):
    assert candidate.metric("roc_auc", holdout) >= 0.5
    shutil.rmtree("reports")
    pathlib.Path("reports").write_text("a file where the decision's directory was")
""")
    result = project.run("--mlgate-promote", "production")
    assert result.ret == 1
    errors = [line for line in result.stdout.lines if line.startswith("mlgate error:")]
    assert len(errors) == 1 and "reports" in errors[0], result.stdout.lines
    assert not (project.path / ".mlgate" / "audit.jsonl").exists()
    assert production(project) is None


def test_a_torn_and_undecodable_audit_log_is_reported_by_line_and_repaired(project, capsys):
    project.configure(baseline=None, extra='approvers = ["alice"]')
    project.gates(GATE_B + '\n\nimport pytest\n\n@pytest.mark.gate(severity="review")\n'
                  'def test_review():\n    assert False, "needs a look"\n')
    assert project.run().ret == 6
    log_path = project.path / ".mlgate" / "audit.jsonl"
    good = log_path.read_bytes()
    config = ["--config", str(project.path / "pyproject.toml")]
    with log_path.open("ab") as fh:
        fh.write(b'{"seq": 2, "event": "dec\xff\xfe')  # torn and not UTF-8
    capsys.readouterr()
    assert main(["audit", "verify", *config]) == 1
    out = capsys.readouterr().out
    assert "line 2: incomplete (no line end)" in out and "line 2: not valid UTF-8" in out
    result = project.run()  # a failing review gate reads approvals from the torn log
    assert result.ret == 1
    assert project.decision["decision"] == "needs-review"
    result.stdout.fnmatch_lines(["mlgate error: *audit.jsonl: last entry is incomplete*"])
    assert main(["audit", "repair", *config]) == 1  # shows, moves nothing
    assert "line 2 (torn)" in capsys.readouterr().out and log_path.read_bytes().startswith(good)
    assert main(["audit", "repair", "--yes", *config]) == 0
    assert log_path.read_bytes() == good
    assert (project.path / ".mlgate" / "audit.jsonl.quarantine").read_bytes() == b'{"seq": 2, "event": "dec\xff\xfe'
    assert main(["audit", "verify", *config]) == 0


def test_an_approval_replayed_from_another_model_is_refused(project, monkeypatch):
    import hashlib

    from pytest_mlgate.config import build
    from pytest_mlgate.lifecycle.approvals import approve

    monkeypatch.setenv("MLGATE_APPROVAL_KEY", "secret")
    project.configure(baseline=None, extra='approvers = ["alice"]')
    project.gates('import pytest\n\n@pytest.mark.gate(severity="review")\ndef test_review():\n    assert False\n')
    sha = hashlib.sha256((project.path / "good.skops").read_bytes()).hexdigest()
    log = audit(project)
    settings = build(project.path, {"approvers": ["alice"]})
    signed = approve(log, settings, model="other-model", candidate=sha, gate="test_review", by="alice",
                     reason="fine for the other model")
    log.append("approval", signed, model="credit-risk")  # replayed under this model's name
    result = project.run()
    assert result.ret == 6
    assert project.decision["decision"] == "needs-review"
    assert project.decision["approvals_used"] == []
