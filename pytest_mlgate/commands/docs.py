"""``mlgate docs [PATHS] [--format markdown|html] [-o PATH]``: the gate catalog of the suite.

The suite is collected in-process with pytest's own collection (nothing runs), and joined with
the audit trail's decisions: thresholds of the last run, last outcomes, who may approve.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
from pathlib import Path
from typing import Any

from pytest_mlgate.commands._project import add_config, emit, settings
from pytest_mlgate.errors import MlgateError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("docs", help="generate the gate catalog (Markdown or HTML)",
                                   description="Collect the gate suite without running it and document every "
                                               "gate: docstring, severity, owner, stage, thresholds from the "
                                               "last run, last outcomes and who may approve it.")
    parser.add_argument("paths", nargs="*", help="gate files or folders (default: pytest testpaths, else the project)")
    parser.add_argument("--format", "-f", choices=("markdown", "html"), default=None,
                        help="output format (default: from the -o suffix, else markdown)")
    parser.add_argument("-o", "--output", type=Path, default=None, help="write here instead of standard output")
    add_config(parser)
    parser.set_defaults(run=run)


def _collector() -> Any:
    """A pytest plugin that keeps every collected gate (before any stage filter) and collection errors."""
    import pytest

    class Collector:
        def __init__(self) -> None:
            self.specs: list[dict[str, Any]] = []
            self.errors: list[str] = []

        @pytest.hookimpl(wrapper=True)  # around every implementation: sees the items before any filter
        def pytest_collection_modifyitems(self, items: list[Any]) -> Any:
            from pytest_mlgate.reports.catalog import gate_spec

            self.specs = [gate_spec(item) for item in items]
            return (yield)

        def pytest_collectreport(self, report: Any) -> None:
            if report.failed:
                self.errors.append(report.nodeid or "collection")

    return Collector()


def collect(root: Path, pyproject: str | None, paths: list[str]) -> list[dict[str, Any]]:
    """Gate specs of the suite under ``paths``, collected in this process; nothing runs."""
    import pytest

    args = ["--collect-only", "-q", "-p", "no:cacheprovider", "--rootdir", str(root)]
    if pyproject:
        args += ["-c", pyproject, "--mlgate-config", pyproject]
    collector, output, modules = _collector(), io.StringIO(), set(sys.modules)
    try:
        with contextlib.redirect_stdout(output):
            status = pytest.main([*args, *(paths or _testpaths(root, pyproject))], plugins=[collector])
    finally:  # forget the project's gate modules, so that a later run in this process imports them afresh
        for name in set(sys.modules) - modules:
            if Path(getattr(sys.modules[name], "__file__", None) or "/").resolve().is_relative_to(root.resolve()):
                del sys.modules[name]
    if collector.errors or status not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        sys.stderr.write(output.getvalue())
        raise MlgateError(f"docs: collecting the gates failed ({', '.join(collector.errors) or f'exit {int(status)}'})")
    return collector.specs


def _testpaths(root: Path, pyproject: str | None) -> list[str]:
    import tomllib

    if pyproject:
        with open(pyproject, "rb") as fh:
            ini = tomllib.load(fh).get("tool", {}).get("pytest", {}).get("ini_options", {})
        if ini.get("testpaths"):
            return [str(root / p) for p in ini["testpaths"]]
    return [str(root)]


def catalog_for(config: Any, specs: list[dict[str, Any]]) -> dict[str, Any]:
    """The catalog of ``specs`` joined with the audit trail of ``config``'s model."""
    from pytest_mlgate.lifecycle.audit import open_log
    from pytest_mlgate.records import now
    from pytest_mlgate.reports.catalog import build

    decisions = open_log(config).find("decision", config.model) if config.model else []
    return build(specs, decisions, model=config.model, owner=config.owner, approvers=config.approvers,
                 generated=now())


def run(args: argparse.Namespace) -> int:
    from pytest_mlgate.reports.catalog import format_for, render

    config = settings(args)
    specs = collect(config.root, config.source, [str(Path(p).resolve()) for p in args.paths])
    fmt = args.format or (format_for(args.output) if args.output else "markdown")
    text = render(catalog_for(config, specs), fmt)
    return emit(text, args.output, f"mlgate: wrote the gate catalog ({len(specs)} gates, {fmt}) to {args.output}")
