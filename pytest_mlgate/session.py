"""The gate session: collects gate results (serial or from xdist workers) and decides at session end.

Registered as a plugin object by :mod:`pytest_mlgate.plugin`; the pytest hooks below are its methods.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_mlgate.config import Settings
from pytest_mlgate.decision import SEVERITIES, GateResult
from pytest_mlgate.errors import MlgateError

if TYPE_CHECKING:
    from pytest_mlgate.evaluate.workspace import Workspace

RECORDER = pytest.StashKey["object"]()
WARNING = pytest.StashKey[str]()
OBSERVED = pytest.StashKey[dict]()
PHASES = pytest.StashKey[dict]()


class GateSession:
    """Collects gate results (from this process or xdist workers) and decides at session end."""

    def __init__(self, config: pytest.Config, settings: Settings, active: bool):
        from pytest_mlgate.records import now

        self.config = config
        self.settings = settings
        self.active = active
        self.started = now()
        self.results: dict[str, GateResult] = {}
        self.datasets: dict[str, Any] = {}
        self.order: list[str] = []
        self.failed_nodes: dict[str, str] = {}
        self.collect_errors: list[str] = []
        self.record: dict[str, Any] | None = None
        self.training: dict[str, Any] | None = None
        self._workspace: Workspace | None = None

    @property
    def workspace(self) -> Workspace:
        if self._workspace is None:
            from pytest_mlgate.evaluate.workspace import Workspace

            hook = self.config.hook
            self._workspace = Workspace(
                self.settings,
                load_model=lambda path, s: hook.pytest_mlgate_load_model(path=path, settings=s),
                load_dataset=lambda path, s: hook.pytest_mlgate_load_dataset(path=path, settings=s),
            )
        return self._workspace

    @pytest.hookimpl(trylast=True)
    def pytest_mlgate_load_model(self, path: Path, settings: Settings) -> Any:
        from pytest_mlgate.evaluate import loaders

        return loaders.load_model(path, settings.skops_trusted)

    @pytest.hookimpl(trylast=True)
    def pytest_mlgate_load_dataset(self, path: Path, settings: Settings) -> Any:
        from pytest_mlgate.evaluate import loaders

        return loaders.load_dataset(path)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if self.active and not hasattr(self.config, "workerinput"):
            from pytest_mlgate.lifecycle.promotion import start_session
            from pytest_mlgate.reports import junit_pytest

            junit_pytest.install(self.config)  # --junitxml: warn gates pass, with the warning in system-out

            self.training = start_session(self.settings)

    # -- collection

    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        if not self.active:
            return
        keep, drop = [], []
        for item in items:
            (keep if self.settings.stage in _stages(item) else drop).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep
        self.order = [item.nodeid for item in items]
        review = [item.nodeid for item in items if _severity(item) == "review"]
        if review and not self.settings.approvers:
            reporter = config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write_line(f"mlgate warning: {len(review)} review gate(s) (e.g. {review[0]}) but "
                                    "[tool.mlgate] approvers is empty: nobody can approve them", yellow=True)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collect_errors.append(report.nodeid or "collection")

    # -- running a gate (in the process that runs it: serial or an xdist worker)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Any:
        if not self.active:  # no configuration: nothing to observe, and numpy stays unimported
            return (yield)
        from pytest_mlgate.evaluate import models

        observed = item.stash.setdefault(OBSERVED, {})
        token = models.observer.set(
            lambda role, metric, data, value: observed.__setitem__((role, metric, data), value))
        try:
            return (yield)
        finally:
            models.observer.reset(token)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
        report = yield
        if call.excinfo is not None and call.excinfo.errisinstance(MlgateError):
            report.longrepr = f"{item.nodeid}: {call.excinfo.value}"
        item.stash.setdefault(PHASES, {})[call.when] = (*_phase_outcome(report, call), report.duration)
        if self.active:
            _mark_warning(item, report, call.when)
        if call.when == "teardown" and self.active:
            report.mlgate_gate = _gate_result(item).to_dict()
            if self._workspace is not None:
                report.mlgate_datasets = self._workspace.fingerprints()
        return report

    # -- collecting results (serial session or xdist controller)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        payload = getattr(report, "mlgate_gate", None)
        if payload is not None:
            self.results[report.nodeid] = GateResult.from_dict(payload)
            self.datasets.update(getattr(report, "mlgate_datasets", None) or {})
        elif report.failed:
            lines = str(report.longrepr or "").strip().splitlines()
            self.failed_nodes[report.nodeid] = lines[-1] if lines else "failed"

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if not self.active or hasattr(self.config, "workerinput") or self.config.option.collectonly:
            return
        from pytest_mlgate.decision import decide
        from pytest_mlgate.lifecycle.promotion import session_approvals

        gates = self._gates()
        approved, ignored = session_approvals(self.settings, gates)
        decision = decide(gates, interrupted=self._interrupted(session, int(exitstatus)), approved_gates=approved)
        session.exitstatus = _exit_status(decision.status, int(exitstatus), self.settings.review_exit_code)
        self.record = self._write(decision, int(session.exitstatus), ignored)
        session.exitstatus = self.record["exit_status"]
        self.config.hook.pytest_mlgate_decision(decision=decision, record=self.record, config=self.config)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.record is None:
            return
        from pytest_mlgate.reports.terminal import summary_lines

        terminalreporter.write_sep("=", "mlgate gate summary")
        lines = summary_lines(self.record)
        for line in lines[:-1]:
            terminalreporter.write_line(line)
        color = {"approved": "green", "rejected": "red"}.get(self.record["decision"], "yellow")
        terminalreporter.write_line(lines[-1], **{color: True, "bold": True})
        for name, path in self.record.get("outputs", {}).items():
            terminalreporter.write_line(f"mlgate {name}: {path}")
        from pytest_mlgate.lifecycle.promotion import summary_lines as lifecycle_lines

        for line in lifecycle_lines(self.record):
            terminalreporter.write_line(line)
        from pytest_mlgate.monitoring.monitor import summary_lines as monitor_lines

        for line in monitor_lines(self.record.get("monitor")):
            terminalreporter.write_line(line)

    # -- helpers

    def _gates(self) -> list[GateResult]:
        for nodeid, message in self.failed_nodes.items():
            if nodeid not in self.results and nodeid:
                self.results[nodeid] = GateResult(nodeid, "error", message=f"gate did not finish: {message}")
        ordered = [self.results[n] for n in self.order if n in self.results]
        return ordered + [g for n, g in self.results.items() if n not in self.order]

    def _interrupted(self, session: pytest.Session, exitstatus: int) -> str | None:
        if self.training and self.training.get("error"):
            return f"training failed: {self.training['error']}"
        if self.collect_errors:
            return f"collection errors in {', '.join(self.collect_errors)}"
        if exitstatus in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR):
            return "interrupted"
        if session.shouldfail or session.shouldstop:
            return str(session.shouldfail or session.shouldstop)
        missing = [n for n in self.order if n not in self.results]
        if missing:
            return f"{len(missing)} gate(s) did not run, e.g. {missing[0]}"
        return None

    def _write(self, decision: Any, exit_status: int, ignored: list[dict[str, Any]]) -> dict[str, Any]:
        from pytest_mlgate.lifecycle.promotion import after_decision, owner_of
        from pytest_mlgate.records import (
            decision_record,
            git_commit,
            write_atomic,
            write_json,
        )
        from pytest_mlgate.reports import html, junit, markdown

        s = self.settings
        record = decision_record(
            decision, model=s.model, owner=owner_of(s), stage=s.stage, exit_status=exit_status,
            artifacts=self.workspace.artifacts(), datasets=self.datasets, started=self.started,
            commit=git_commit(s.root))
        record.update(approvals_ignored=ignored, training=self.training)
        record["lifecycle"] = after_decision(s, record)  # audit entry and --mlgate-promote
        from pytest_mlgate.monitoring.monitor import (
            after_run,  # monitor stage: alerts and --mlgate-auto-rollback
        )

        record["monitor"] = after_run(s, record, lambda alert: self.config.hook.pytest_mlgate_alert(
            alert=alert, config=self.config))
        from pytest_mlgate.lifecycle.review import review_block

        record["review"] = review_block(s, record, self.config.invocation_params.dir)
        if record["lifecycle"].get("error") and exit_status == 0:
            record["exit_status"] = 1
        outputs = {"decision": s.path(s.decision)}
        for name, renderer in (("junit", junit), ("markdown", markdown), ("html", html)):
            if getattr(s, name):
                outputs[name] = s.path(getattr(s, name))
                write_atomic(outputs[name], renderer.render(record))
        if os.environ.get("GITHUB_STEP_SUMMARY"):
            outputs["step summary"] = Path(os.environ["GITHUB_STEP_SUMMARY"])
        record["outputs"] = {k: str(v) for k, v in outputs.items()}
        write_json(outputs["decision"], record)
        if "step summary" in outputs:  # after the decision file, which must exist whatever happens here
            markdown.append_step_summary(outputs["step summary"], record)
        return record


def _stages(item: pytest.Item) -> tuple[str, ...]:
    marker = item.get_closest_marker("gate")
    stage = marker.kwargs.get("stage", "push") if marker else "push"
    if stage == "both":
        return ("push", "monitor")
    return tuple(stage) if isinstance(stage, (list, tuple)) else (stage,)


def _severity(item: pytest.Item) -> str:
    marker = item.get_closest_marker("gate")
    return str(marker.kwargs.get("severity", "block")) if marker else "block"


def _mark_warning(item: pytest.Item, report: pytest.TestReport, when: str) -> None:
    """A failing warn gate's call and teardown reports carry the warning (pytest's JUnit reads it)."""
    if _severity(item) != "warn":
        return
    phase, message, _ = item.stash[PHASES][when]
    if when == "call" and phase == "failed":
        item.stash[WARNING] = message
    if when in ("call", "teardown") and WARNING in item.stash:
        report.mlgate_warning = item.stash[WARNING]


def _phase_outcome(report: pytest.TestReport, call: pytest.CallInfo[None]) -> tuple[str, str]:
    """(outcome, message) of one test phase, from the gate's point of view."""
    if report.passed:
        return ("passed", "")
    if report.skipped:
        reason = getattr(report, "wasxfail", None)
        if reason is not None:
            return ("skipped", f"expected failure: {reason}")
        longrepr = report.longrepr
        return ("skipped", longrepr[2] if isinstance(longrepr, tuple) else str(longrepr))
    message = _first_line(call.excinfo.value) if call.excinfo else str(report.longrepr)
    if call.when == "call" and call.excinfo is not None and (
            call.excinfo.errisinstance(AssertionError) or call.excinfo.errisinstance(pytest.fail.Exception)):
        return ("failed", message)
    return ("error", message)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    if not isinstance(exc, (AssertionError, MlgateError)):
        line = f"{type(exc).__name__}: {line}"
    return line[:500]


def _gate_result(item: pytest.Item) -> GateResult:
    from pytest_mlgate.decision import Check

    marker = item.get_closest_marker("gate")
    options = dict(marker.kwargs) if marker else {}
    phases = item.stash.get(PHASES, {})
    outcome, message = "passed", ""
    for when in ("setup", "call", "teardown"):
        phase, text, _ = phases.get(when, ("passed", "", 0.0))
        if phase != "passed" and outcome == "passed" or phase == "error":
            outcome, message = phase, text
    severity = options.get("severity", "block")
    if severity not in SEVERITIES:
        outcome, message = "error", f"gate marker: severity must be one of {', '.join(SEVERITIES)}, got {severity!r}"
        severity = "block"
    recorder = item.stash.get(RECORDER, None)
    checks = list(recorder.checks) if recorder is not None else []
    for (role, metric, data), value in item.stash.get(OBSERVED, {}).items():
        checks.append(Check(f"{metric}@{data}" + ("" if role == "candidate" else f" ({role})"),
                            outcome if outcome in ("passed", "failed") else "error", metric=metric, dataset=data,
                            candidate=value if role == "candidate" else None,
                            baseline=value if role == "baseline" else None, kind="observed",
                            message=message if outcome == "failed" else ""))
    stage = options.get("stage", "push")
    return GateResult(item.nodeid, outcome, severity, options.get("category"), options.get("owner"),
                      stage if isinstance(stage, str) else ",".join(stage), message,
                      sum(p[2] for p in phases.values()), checks)


def _exit_status(status: str, pytest_status: int, review_code: int) -> int:
    """approved -> 0, needs-review -> review_code, rejected -> pytest's failure status (at least 1)."""
    if pytest_status > 1:
        return pytest_status
    return {"approved": 0, "needs-review": review_code}.get(status, 1)
