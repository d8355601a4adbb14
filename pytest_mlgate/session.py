"""The gate session: collects gate results (serial or from xdist workers) and decides at session end.

Registered as a plugin object by :mod:`pytest_mlgate.plugin`; the pytest hooks below are its methods.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_mlgate.config import Settings
from pytest_mlgate.decision import GateResult
from pytest_mlgate.errors import MlgateError, NotApplicable
from pytest_mlgate.evaluate import loaders

if TYPE_CHECKING:
    from pytest_mlgate.evaluate.workspace import Workspace

RECORDER = pytest.StashKey["object"]()
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
        self.usage_error: str | None = None
        self.errors: list[str] = []
        self.not_run: list[str] = []
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
        return loaders.load_model(path, settings.skops_trusted)

    @pytest.hookimpl(trylast=True)
    def pytest_mlgate_load_dataset(self, path: Path, settings: Settings) -> Any:
        return loaders.load_dataset(path)

    @property
    def deciding(self) -> bool:
        """Whether this process decides: a gate run, not an xdist worker, not an informational run."""
        from pytest_mlgate.suite import informational

        return self.active and not hasattr(self.config, "workerinput") and not informational(self.config.option)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if self.deciding:
            from pytest_mlgate.lifecycle.promotion import start_session
            from pytest_mlgate.suite import mark_in_progress

            try:
                mark_in_progress(self.settings)
            except OSError as exc:
                raise pytest.UsageError(f"mlgate: cannot write the decision file {exc.filename}: "
                                        f"{exc.strerror}") from None
            self.training = start_session(self.settings)

    # -- collection

    @pytest.hookimpl(tryfirst=True)  # before -k, -m, --deselect, --lf, --sw or a conftest deselect anything
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        if not self.active:
            return
        from pytest_mlgate.validation import marker_problem

        for item in items:
            self.usage_error = marker_problem(item.nodeid, item.iter_markers("gate"))
            if self.usage_error:
                raise pytest.UsageError(self.usage_error)
        keep, drop = [], []
        for item in items:
            (keep if self.settings.stage in _stages(item) else drop).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep
        self.order = [item.nodeid for item in items]

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collect_errors.append(report.nodeid or "collection")

    # -- running a gate (in the process that runs it: serial or an xdist worker)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Any:
        from pytest_mlgate.evaluate import models

        observed = item.stash.setdefault(OBSERVED, {})
        token = models.observer.set(
            lambda role, metric, data, value: observed.__setitem__((role, metric, data), value))
        try:
            return (yield)
        except NotApplicable as exc:
            pytest.skip(str(exc))
        finally:
            models.observer.reset(token)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
        report = yield
        if call.excinfo is not None and call.excinfo.errisinstance(MlgateError):
            report.longrepr = f"{item.nodeid}: {call.excinfo.value}"
        item.stash.setdefault(PHASES, {})[call.when] = (*_phase_outcome(report, call), report.duration)
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
        if not self.deciding:
            return
        from pytest_mlgate.decision import decide
        from pytest_mlgate.lifecycle.promotion import session_approvals

        gates = self._gates()
        try:
            approved, ignored = session_approvals(self.settings, gates)
        except (MlgateError, OSError) as exc:  # an unreadable audit log: no approval applies
            approved, ignored = {}, [{"gate": "*", "by": "audit log", "ignored": f"not read: {_first_line(exc)}"}]
        decision = decide(gates, interrupted=self._interrupted(session, int(exitstatus)), approved_gates=approved)
        session.exitstatus = _exit_status(decision.status, int(exitstatus), self.settings.review_exit_code)
        try:
            self.record = self._write(decision, int(session.exitstatus), ignored)
        except (MlgateError, OSError) as exc:
            self.errors.append(_first_line(exc) if isinstance(exc, MlgateError) else
                               f"{exc.filename or 'output'}: {exc.strerror or type(exc).__name__}")
        if self.record is not None:
            session.exitstatus = self.record["exit_status"]
            self.config.hook.pytest_mlgate_decision(decision=decision, record=self.record, config=self.config)
        if self.errors and int(session.exitstatus) in (0, self.settings.review_exit_code):
            session.exitstatus = 1

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        for error in self.errors:
            terminalreporter.write_line(f"mlgate error: {error}", red=True, bold=True)
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
        if self.usage_error:
            return f"usage error: {self.usage_error}"
        from pytest_mlgate.suite import unrun

        self.not_run, why = unrun(self.config, self.settings, self.order, set(self.results))
        return why

    def _write(self, decision: Any, exit_status: int, ignored: list[dict[str, Any]]) -> dict[str, Any]:
        """Decision file first (atomic), then the audit entry, then promotion or alerts, then reports.

        A failure at a step raises and leaves the steps before it intact; promotion needs the audit.
        """
        from pytest_mlgate.lifecycle.promotion import after_decision, owner_of
        from pytest_mlgate.monitoring.monitor import after_run
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
        record.update(approvals_ignored=ignored, training=self.training, not_run=self.not_run)
        outputs = {"decision": s.path(s.decision)}
        for name in ("junit", "markdown", "html"):
            if getattr(s, name):
                outputs[name] = s.path(getattr(s, name))
        if os.environ.get("GITHUB_STEP_SUMMARY"):
            outputs["step summary"] = Path(os.environ["GITHUB_STEP_SUMMARY"])
        record["outputs"] = {k: str(v) for k, v in outputs.items()}
        write_json(outputs["decision"], record)
        self.record = record  # written: kept for the summary even when a later step fails
        record["lifecycle"] = after_decision(s, record)  # audit entry, then --mlgate-promote
        record["monitor"] = after_run(s, record, lambda alert: self.config.hook.pytest_mlgate_alert(
            alert=alert, config=self.config))  # monitor stage: alerts and --mlgate-auto-rollback
        if record["lifecycle"].get("error") and exit_status in (0, s.review_exit_code):
            record["exit_status"] = 1
        write_json(outputs["decision"], record)
        for name, renderer in (("junit", junit), ("markdown", markdown), ("html", html)):
            if name in outputs:
                write_atomic(outputs[name], renderer.render(record))
        if "step summary" in outputs:
            markdown.append_step_summary(outputs["step summary"], record)
        return record


def _stages(item: pytest.Item) -> tuple[str, ...]:
    marker = item.get_closest_marker("gate")
    stage = marker.kwargs.get("stage", "push") if marker else "push"
    if stage == "both":
        return ("push", "monitor")
    return tuple(stage) if isinstance(stage, (list, tuple)) else (stage,)


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
    return line if isinstance(exc, MlgateError) else line[:500]  # ours are one complete line: never cut a name


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
    severity = options.get("severity", "block")  # validated at collection
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
