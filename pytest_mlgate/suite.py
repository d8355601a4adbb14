"""The gate suite a run must execute in full before it may approve, and informational runs.

A run that executes fewer gates than its suite (``--lf``, ``--sw``, ``-k``, ``-m``,
``--deselect``, ``--ignore``, file or node-id arguments, a plugin that deselects) is incomplete:
never approved, never promoted. When this process did not collect the whole suite, the suite is
listed by ``pytest --collect-only`` in a subprocess so the decision can name every gate that did
not run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pytest_mlgate.errors import MlgateError

#: pytest options that make a run print information instead of running gates.
INFORMATIONAL = ("help", "version", "collectonly", "showfixtures", "show_fixtures_per_test", "markers",
                 "setupplan", "setuponly")
#: options that leave files of the suite uncollected (so this process cannot list the suite itself).
UNCOLLECTED = {"lf": "--lf", "ignore": "--ignore", "ignore_glob": "--ignore-glob"}
#: options that deselect collected gates (seen in-process; named when xdist hides collection).
DESELECTING = {"keyword": "-k", "markexpr": "-m", "deselect": "--deselect", "stepwise": "--sw",
               "stepwise_skip": "--sw-skip"}
LIST_TIMEOUT = 600


def informational(option: Any) -> bool:
    """Whether the parsed options ask pytest for information only (nothing is gated or written)."""
    return any(getattr(option, name, False) for name in INFORMATIONAL)


def suite_paths(gates: Sequence[str], root: Path, testpaths: Sequence[str], rootpath: Path) -> list[Path]:
    """The suite: the ``gates`` key (relative to the project root), else pytest's testpaths, else the root."""
    if gates:
        return [(root / g).resolve() for g in gates]
    if testpaths:
        return [(rootpath / t).resolve() for t in testpaths]
    return [root.resolve()]


def narrowing(option: Any, args: Sequence[str], invocation_dir: Path, suite: Sequence[Path]) -> list[str]:
    """What keeps this process from collecting the whole suite (flags and arguments), if anything."""
    found = [flag for name, flag in UNCOLLECTED.items() if getattr(option, name, None)]
    paths = []
    for arg in args:
        text, _, rest = str(arg).partition("::")
        if rest:
            found.append(f"node id {arg}")
        paths.append((invocation_dir / text).resolve())
    uncovered = [s for s in suite if not any(s == p or p in s.parents for p in paths)]
    if uncovered:
        found.append(f"arguments {' '.join(map(str, args))} do not cover {uncovered[0]}")
    return found


def deselecting(option: Any) -> list[str]:
    """Deselecting flags given on this run."""
    return [flag for name, flag in DESELECTING.items() if getattr(option, name, None)]


class Listing:
    """``pytest --collect-only`` of the suite in a subprocess, started with the session so that it
    runs while the gates do; :meth:`node_ids` waits for it."""

    def __init__(self, config: Any, suite: Sequence[Path], stage: str, pyproject: Path | None):
        argv = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "-p",
                "no:warnings", "--rootdir", str(config.rootpath), "--mlgate-stage", stage]
        if config.inipath is not None:
            argv += ["-c", str(config.inipath)]
        if pyproject is not None:
            argv += ["--mlgate-config", str(pyproject)]
        argv += _plugin_args(config.invocation_params.args)
        argv += [str(p) for p in suite]
        env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
        # files, not pipes: a long listing never blocks the subprocess while nobody reads it (closed by stop)
        self.output, self.errors = (tempfile.TemporaryFile("w+", encoding="utf-8") for _ in range(2))  # noqa: SIM115
        self.process: subprocess.Popen[str] | None = None
        self.error: str | None = None
        try:
            self.process = subprocess.Popen(argv, cwd=config.invocation_params.dir, stdout=self.output,
                                            stderr=self.errors, env=env, text=True)
        except OSError as exc:
            self.error = str(exc)

    def node_ids(self) -> list[str]:
        """Node ids of the suite's gates for the stage, collected without selection."""
        try:
            if self.process is None:
                raise MlgateError(f"could not list the gate suite: {self.error}")
            try:
                code = self.process.wait(timeout=LIST_TIMEOUT)
            except subprocess.TimeoutExpired:
                raise MlgateError(f"could not list the gate suite: no answer in {LIST_TIMEOUT} s") from None
            lines, errors = (self._read(f) for f in (self.output, self.errors))
        finally:
            self.stop()
        if code not in (0, 5):
            tail = ([x for x in errors if x.strip()] or [x for x in lines if x.strip()] or ["no output"])[-1].strip()
            raise MlgateError(f"could not list the gate suite (exit {code}): {tail}")
        return [line for line in lines if "::" in line and not line.startswith(" ")]

    def stop(self) -> None:
        """End the subprocess if it still runs (the run stopped before it needed the list)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.output.close()
        self.errors.close()

    @staticmethod
    def _read(file: Any) -> list[str]:
        file.seek(0)
        return file.read().splitlines()


def _plugin_args(args: Sequence[str]) -> list[str]:
    """The ``-p NAME`` plugin arguments of the invocation (they can define gates or fixtures)."""
    found, args = [], list(args)
    for i, arg in enumerate(args):
        if arg == "-p" and i + 1 < len(args):
            found += ["-p", args[i + 1]]
        elif arg.startswith("-p") and len(arg) > 2:
            found.append(arg)
    return found


def mark_in_progress(settings: Any) -> None:
    """Replace the decision file with an "in progress" record: a killed run leaves no old approval."""
    from pytest_mlgate.records import SCHEMA, now, write_json

    write_json(settings.path(settings.decision), {
        "schema": SCHEMA, "model": settings.model, "owner": settings.owner, "stage": settings.stage,
        "decision": "in-progress", "exit_status": None, "started": now(), "finished": None,
        "reasons": ["the gate run has not finished (still running, or stopped before it decided)"],
        "gates": []})


def mark_undecided(path: Path, reason: str) -> None:
    """Replace the decision file with the record of a run that could not decide (a bad setting):
    rejected, no gates, ``reason`` naming what is at fault, exit status 4 (pytest's usage error)."""
    from pytest_mlgate.decision import decide
    from pytest_mlgate.records import decision_record, now, write_json

    write_json(path, decision_record(decide([], interrupted=reason), model=None, owner=None, stage="push",
                                     exit_status=4, artifacts={}, datasets={}, started=now(), commit=None))


def start_listing(config: Any, settings: Any) -> Listing | None:
    """List the suite in the background when this process will not collect all of it (see :func:`unrun`)."""
    paths = suite_paths(settings.gates, settings.root, config.getini("testpaths"), config.rootpath)
    if not _narrowed(config, paths):
        return None
    return Listing(config, paths, settings.stage, Path(settings.source) if settings.source else None)


def _narrowed(config: Any, paths: Sequence[Path]) -> list[str]:
    narrowed = narrowing(config.option, config.args, Path(config.invocation_params.dir), paths)
    if config.pluginmanager.hasplugin("dsession"):  # an xdist controller: the workers collected and deselected
        narrowed += deselecting(config.option)
    return narrowed


def unrun(config: Any, settings: Any, collected: Sequence[str], ran: set[str],
          listing: Listing | None = None) -> tuple[list[str], str | None]:
    """Gates of the suite this run did not execute, and what narrowed it (or why the suite is unknown).

    ``listing`` is the one :func:`start_listing` started for this run, if any.
    """
    paths = suite_paths(settings.gates, settings.root, config.getini("testpaths"), config.rootpath)
    narrowed = _narrowed(config, paths)
    expected = list(collected)
    if narrowed:
        pyproject = Path(settings.source) if settings.source else None
        try:
            listing = listing or Listing(config, paths, settings.stage, pyproject)
            expected = list(dict.fromkeys([*listing.node_ids(), *collected]))
        except MlgateError as exc:
            return [], f"{'; '.join(narrowed)}: {exc}"
    missing = [n for n in expected if n not in ran]
    if not missing:
        return [], None
    why = ", ".join(dict.fromkeys(narrowed + deselecting(config.option))) or "deselected"
    shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
    return missing, f"{len(missing)} of {len(expected)} gate(s) of the suite did not run ({why}): {shown}"
