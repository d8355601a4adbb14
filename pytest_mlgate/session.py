"""The gate session: collects gate results (serial or from xdist workers) and decides at session end.

Registered as a plugin object by :mod:`pytest_mlgate.plugin`; the pytest hooks below are its methods.
"""

from __future__ import annotations

import atexit
import gc
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_mlgate.config import Settings
from pytest_mlgate.decision import GateResult
from pytest_mlgate.errors import MlgateError, NotApplicable
from pytest_mlgate.gate_items import (
    FAILED_BY_CHECKS,
    OBSERVED,
    PHASES,
    RECORDER,
    exit_code,
    first_line,
    gate_result,
    mark_warning,
    marked_severity,
    phase_outcome,
    stages,
)

if TYPE_CHECKING:
    from pytest_mlgate.evaluate.workspace import Workspace
    from pytest_mlgate.suite import Listing

THAW = pytest.StashKey[list]()  # on a config whose last cleanup thaws what its session froze
SKETCHES = pytest.StashKey[int]()  # KLL sketches made in this process before the run


def _sketches_made() -> int:
    statistics = sys.modules.get("pytest_mlgate.evaluate.statistics")  # not imported: none made
    return statistics.Sketch.made if statistics else 0


def thaw_at_cleanup(config: pytest.Config) -> None:
    """Before pytest's plugins configure: make the thaw this config's last cleanup (after pytest's
    unraisable-exception check, which collects garbage at unconfigure and again at cleanup)."""
    frozen = config.stash[THAW] = []
    config.stash[SKETCHES] = _sketches_made()

    def thaw() -> None:
        if frozen:
            gc.unfreeze()
            frozen.clear()

    config.add_cleanup(thaw)


def freeze_for_exit(config: pytest.Config) -> None:
    """Once every record is written and fsynced: keep the objects alive now out of the remaining
    garbage collections (pytest's two, the interpreter's at exit). Thawed at the config's last
    cleanup, so an in-process ``pytest.main`` goes on collecting normally; frozen again at exit."""
    frozen = config.stash.get(THAW, None)
    # nanobind (datasketches' KLL sketches) reports every instance still alive at exit, hundreds of lines
    if frozen is not None and not frozen and _sketches_made() == config.stash.get(SKETCHES, 0):
        gc.freeze()
        frozen.append(True)
        atexit.unregister(_freeze_at_exit)  # once per process, however many runs it makes
        atexit.register(_freeze_at_exit)


def _freeze_at_exit() -> None:
    if not _sketches_made():  # a process that made sketches (an xdist worker, say) collects them
        gc.freeze()


class CollectionOrder:
    """On an xdist controller, which collects nothing itself: the gates' collection order as the
    first worker reports it, so the decision lists gates (and reasons) as a serial run does."""

    def __init__(self, session: GateSession):
        self.session = session

    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        if not self.session.order:
            self.session.order = list(ids)


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
        self.specs: list[dict[str, Any]] = []  # every collected gate, all stages (the gate catalog)
        self.aliases_at_start: dict[str, Any] | None = None
        self._workspace: Workspace | None = None
        self.listing: Listing | None = None  # the suite, listed while the gates run

    @property
    def workspace(self) -> Workspace:
        if self._workspace is None:
            from pytest_mlgate.evaluate.workspace import Workspace

            hook = self.config.hook
            self._workspace = Workspace(
                self.settings,
                load_model=lambda path, s: hook.pytest_mlgate_load_model(path=path, settings=s),
                load_dataset=lambda path, s: hook.pytest_mlgate_load_dataset(path=path, settings=s),
                lazy_models=len(hook.pytest_mlgate_load_model.get_hookimpls()) == 1,  # no loader but ours
            )
        return self._workspace

    @pytest.hookimpl(trylast=True)
    def pytest_mlgate_load_model(self, path: Path, settings: Settings) -> Any:
        from pytest_mlgate.evaluate import loaders

        return loaders.load_model(path, settings.skops_trusted)

    @property
    def deciding(self) -> bool:
        """Whether this process decides: a gate run, not an xdist worker, not an informational run."""
        from pytest_mlgate.suite import informational

        return self.active and not hasattr(self.config, "workerinput") and not informational(self.config.option)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if self.deciding:
            from pytest_mlgate.lifecycle.promotion import alias_snapshot, start_session
            from pytest_mlgate.reports import junit_pytest
            from pytest_mlgate.suite import mark_in_progress, start_listing

            junit_pytest.install(self.config)  # --junitxml: warn gates pass, with the warning in system-out

            try:
                mark_in_progress(self.settings)
            except OSError as exc:
                raise pytest.UsageError(f"mlgate: cannot write the decision file {exc.filename}: "
                                        f"{exc.strerror}") from None
            if self.settings.stage == "push":  # the trigger makes a push run's candidate; monitor runs retrain on alerts
                self.training = start_session(self.settings)
            self.aliases_at_start = alias_snapshot(self.settings)
            self.listing = start_listing(self.config, self.settings)

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
        if self.settings.docs:
            from pytest_mlgate.reports.catalog import gate_spec

            self.specs = [gate_spec(item) for item in items]
        keep, drop = [], []
        for item in items:
            (keep if self.settings.stage in stages(item) else drop).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep
        self.order = [item.nodeid for item in items]
        self._warn_no_approvers(config.pluginmanager.get_plugin("terminalreporter"),
                                [item.nodeid for item in items if marked_severity(item) == "review"])

    def _warn_no_approvers(self, reporter: Any, review: list[str]) -> None:
        if review and not self.settings.approvers and reporter is not None:
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
            result = yield
        except NotApplicable as exc:
            pytest.skip(str(exc))
        finally:
            models.observer.reset(token)
        recorder = item.stash.get(RECORDER, None)
        message = recorder.failure_message() if recorder is not None else None
        if message is not None:  # every check ran; the gate fails now, listing each failing one
            item.stash[FAILED_BY_CHECKS] = True
            pytest.fail(message, pytrace=False)
        return result

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
        report = yield
        if call.excinfo is not None and call.excinfo.errisinstance(MlgateError):
            report.longrepr = f"{item.nodeid}: {call.excinfo.value}"
        item.stash.setdefault(PHASES, {})[call.when] = (*phase_outcome(report, call), report.duration)
        if self.active:
            mark_warning(item, report, call.when)
        if call.when == "teardown" and self.active:
            report.mlgate_gate = gate_result(item).to_dict()
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
            approved, ignored = {}, [{"gate": "*", "by": "audit log", "ignored": f"not read: {first_line(exc)}"}]
        decision = decide(gates, interrupted=self._interrupted(session, int(exitstatus)), approved_gates=approved)
        if self.listing is not None:  # not needed when the run stopped early
            self.listing.stop()
        session.exitstatus = exit_code(decision.status, int(exitstatus), self.settings.review_exit_code)
        try:
            self.record = self._write(decision, int(session.exitstatus), ignored)
        except (MlgateError, OSError) as exc:
            self.errors.append(first_line(exc) if isinstance(exc, MlgateError) else
                               f"{exc.filename or 'output'}: {exc.strerror or type(exc).__name__}")
        if self.record is not None:
            session.exitstatus = self.record["exit_status"]
            self.config.hook.pytest_mlgate_decision(decision=decision, record=self.record, config=self.config)
        if self.errors and int(session.exitstatus) in (0, self.settings.review_exit_code):
            session.exitstatus = 1
        freeze_for_exit(self.config)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.deciding and self.config.pluginmanager.hasplugin("dsession"):  # xdist: the workers collected
            self._warn_no_approvers(terminalreporter, [g.gate for g in self._gates() if g.severity == "review"])
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
        from pytest_mlgate.lifecycle.loop import summary_lines as loop_lines

        for line in loop_lines((self.record.get("monitor") or {}).get("retrain")):
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

        self.not_run, why = unrun(self.config, self.settings, self.order, set(self.results), self.listing)
        return why

    def _write(self, decision: Any, exit_status: int, ignored: list[dict[str, Any]]) -> dict[str, Any]:
        """The decision record, written with everything after it in order (:mod:`pytest_mlgate.outputs`).

        A failure at a step raises and leaves the steps before it intact; promotion needs the audit.
        """
        from pytest_mlgate.lifecycle.promotion import owner_of
        from pytest_mlgate.outputs import write_after_decision, write_decision
        from pytest_mlgate.records import decision_record, git_commit

        s = self.settings
        record = decision_record(
            decision, model=s.model, owner=owner_of(s), stage=s.stage, exit_status=exit_status,
            artifacts=self.workspace.artifacts(), datasets=self.datasets, started=self.started,
            commit=git_commit(s.root))
        record.update(approvals_ignored=ignored, training=self.training, not_run=self.not_run)
        if self.aliases_at_start is not None:
            record["aliases_at_start"] = self.aliases_at_start
        outputs = write_decision(s, record)
        self.record = record  # written: kept for the summary even when a later step fails
        base = self.config.invocation_params.dir
        write_after_decision(
            s, record, outputs, alert=lambda alert: self.config.hook.pytest_mlgate_alert(alert=alert, config=self.config),
            paths=[str(base / arg) for arg in self.config.args], specs=self.specs, cwd=base)
        return record
