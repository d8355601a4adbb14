"""What a deciding session writes, in order: the decision file (atomic), the audit entry and any
promotion, the monitor stage's alerts, a retrain on alert, the review block, the decision file
again, then the JUnit, Markdown and HTML reports, the gate catalog and the CI step summary.

A failing step raises and leaves the steps before it intact. The HTML report's history and the
catalog read the model's decisions from the audit trail (after this run's entry) through one
reader, newest first and only as far back as they need: never the whole trail twice.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_mlgate.errors import MlgateError
from pytest_mlgate.lifecycle.promotion import after_decision
from pytest_mlgate.lifecycle.review import review_block
from pytest_mlgate.monitoring.monitor import after_run
from pytest_mlgate.records import write_atomic, write_json
from pytest_mlgate.reports import html, junit, markdown

if TYPE_CHECKING:
    from pytest_mlgate.config import Settings


class Trail:
    """The model's decision entries in the audit trail, newest first, read from the end of the file
    as far back as some reader needs and kept for the next one: each line is parsed at most once.
    A trail that cannot be read raises the same error to every reader without a second attempt."""

    def __init__(self, settings: Settings, model: str | None):
        self.settings = settings
        self.model = model
        self.reads = 0  # times the file was opened for reading, from its end
        self._seen: list[dict[str, Any]] = []
        self._source: Iterator[dict[str, Any]] | None = None
        self._end: MlgateError | OSError | StopIteration | None = None

    def newest(self) -> Iterator[dict[str, Any]]:
        index = 0
        while True:
            if index < len(self._seen):
                yield self._seen[index]
                index += 1
                continue
            if isinstance(self._end, StopIteration):
                return
            if self._end is not None:
                raise self._end
            self._pull()

    def _pull(self) -> None:
        if self._source is None:
            from pytest_mlgate.lifecycle.audit import open_log

            self.reads += 1
            self._source = open_log(self.settings).newest("decision", self.model)
        try:
            self._seen.append(next(self._source))
        except (MlgateError, OSError, StopIteration) as exc:
            self._end = exc


def destinations(settings: Settings) -> dict[str, Path]:
    """Where the run's records go: the decision file, each configured report, the CI step summary."""
    s = settings
    outputs = {"decision": s.path(s.decision)}
    for name in ("junit", "markdown", "html", "docs"):
        if getattr(s, name):
            outputs[name] = s.path(getattr(s, name))
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        outputs["step summary"] = Path(os.environ["GITHUB_STEP_SUMMARY"])
    return outputs


def write_decision(settings: Settings, record: dict[str, Any]) -> dict[str, Path]:
    """The first write: the decision file (atomic), naming every output still to come."""
    outputs = destinations(settings)
    record["outputs"] = {k: str(v) for k, v in outputs.items()}
    write_json(outputs["decision"], record)
    return outputs


def write_after_decision(settings: Settings, record: dict[str, Any], outputs: dict[str, Path], *,
                         alert: Callable[[dict[str, Any]], Any], paths: list[str],
                         specs: list[dict[str, Any]], cwd: Path | None) -> None:
    """Everything after the decision file, in order; ``record`` gains each step's outcome.

    ``alert`` is called with each alert of a monitor run, ``paths`` are the run's test paths (for a
    retrain's follow-up run), ``specs`` the collected gates (for the catalog).
    """
    s = settings
    exit_status = record["exit_status"]
    record["lifecycle"] = after_decision(s, record, lambda r: {  # audit entry, registry log, --mlgate-promote
        "mlgate-decision.md": markdown.render(r), "mlgate-decision.html": html.render(r)})
    record["monitor"] = after_run(s, record, alert)  # monitor stage: alerts and --mlgate-auto-rollback
    trail = Trail(s, s.model)
    close_loop(s, record, paths, trail)
    record["review"] = review_block(s, record, cwd)
    if record["lifecycle"].get("error") and exit_status in (0, s.review_exit_code):
        record["exit_status"] = 1
    write_json(outputs["decision"], record)
    for name, renderer in (("junit", junit), ("markdown", markdown), ("html", html)):
        if name in outputs:
            write_atomic(outputs[name], renderer.render(record))
    if "docs" in outputs:
        write_atomic(outputs["docs"], catalog(s, record, specs, outputs["docs"], trail))
    if "step summary" in outputs:
        markdown.append_step_summary(outputs["step summary"], record)


def close_loop(settings: Settings, record: dict[str, Any], paths: list[str], trail: Trail) -> None:
    """After the audit entry: a retrain on alert (``on_alert = "retrain"``), the history for the report."""
    s = settings
    if record["monitor"] is not None:
        from pytest_mlgate.lifecycle.loop import after_alert

        retrain = after_alert(s, record, paths)
        if retrain is not None:
            record["monitor"]["retrain"] = retrain
    if s.html:
        from pytest_mlgate.lifecycle.history import for_report

        record["history"] = for_report(s, record, newest=trail.newest)  # charted by the HTML report


def catalog(settings: Settings, record: dict[str, Any], specs: list[dict[str, Any]], path: Path,
            trail: Trail) -> str:
    """The gate catalog after this run: its gates (all stages) joined with the audit trail."""
    from pytest_mlgate.reports.catalog import build, format_for, recent, render, spec_from_result

    s = settings
    specs = specs or [spec_from_result(g) for g in record["gates"]]  # xdist: the controller collects none
    try:
        decisions = recent(specs, trail.newest()) if s.model and "audit" in record["lifecycle"] else []
    except (MlgateError, OSError):  # an unreadable trail must not cost the decision file
        decisions = []
    if not decisions:  # no trail to read: this run still counts
        decisions = [{"seq": None, "at": record["finished"], "data": record}]
    built = build(specs, decisions, model=s.model, owner=record.get("owner"), approvers=s.approvers,
                  generated=record["finished"])
    return render(built, format_for(path))
