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


def list_suite(config: Any, suite: Sequence[Path], stage: str, pyproject: Path | None) -> list[str]:
    """Node ids of the suite's gates for ``stage``, collected without selection in a subprocess."""
    argv = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "-p", "no:warnings",
            "--rootdir", str(config.rootpath), "--mlgate-stage", stage]
    if config.inipath is not None:
        argv += ["-c", str(config.inipath)]
    if pyproject is not None:
        argv += ["--mlgate-config", str(pyproject)]
    argv += _plugin_args(config.invocation_params.args)
    argv += [str(p) for p in suite]
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    try:
        out = subprocess.run(argv, cwd=config.invocation_params.dir, capture_output=True, text=True,
                             timeout=LIST_TIMEOUT, env=env, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise MlgateError(f"could not list the gate suite: {exc}") from None
    if out.returncode not in (0, 5):
        tail = (out.stdout.strip().splitlines() or out.stderr.strip().splitlines() or ["no output"])[-1]
        raise MlgateError(f"could not list the gate suite (exit {out.returncode}): {tail}")
    return [line for line in out.stdout.splitlines() if "::" in line and not line.startswith(" ")]


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


def unrun(config: Any, settings: Any, collected: Sequence[str], ran: set[str]) -> tuple[list[str], str | None]:
    """Gates of the suite this run did not execute, and what narrowed it (or why the suite is unknown)."""
    paths = suite_paths(settings.gates, settings.root, config.getini("testpaths"), config.rootpath)
    narrowed = narrowing(config.option, config.args, Path(config.invocation_params.dir), paths)
    if config.pluginmanager.hasplugin("dsession"):  # an xdist controller: the workers collected and deselected
        narrowed += deselecting(config.option)
    expected = list(collected)
    if narrowed:
        pyproject = Path(settings.source) if settings.source else None
        try:
            expected = list(dict.fromkeys([*list_suite(config, paths, settings.stage, pyproject), *collected]))
        except MlgateError as exc:
            return [], f"{'; '.join(narrowed)}: {exc}"
    missing = [n for n in expected if n not in ran]
    if not missing:
        return [], None
    why = ", ".join(dict.fromkeys(narrowed + deselecting(config.option))) or "deselected"
    shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
    return missing, f"{len(missing)} of {len(expected)} gate(s) of the suite did not run ({why}): {shown}"
