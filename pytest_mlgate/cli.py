"""The ``mlgate`` command. Each subcommand lives in ``pytest_mlgate/commands/<name>.py`` and
exposes ``register(subparsers)``, which adds its parser with ``set_defaults(run=function)``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from pytest_mlgate import __version__
from pytest_mlgate.errors import MlgateError

COMMANDS: tuple[str, ...] = ("init", "report", "registry", "promote", "rollback", "audit", "approve", "schema",
                          "feedback", "docs", "history", "trust")


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="mlgate", description="pytest-mlgate: quality gates for ML model pushes.")
    main.add_argument("--version", action="version", version=f"pytest-mlgate {__version__}")
    subparsers = main.add_subparsers(title="commands", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"pytest_mlgate.commands.{name}").register(subparsers)
    return main


def main(argv: Sequence[str] | None = None) -> int:
    """Run a subcommand; errors print one line and exit 2."""
    args = parser().parse_args(argv)
    run = getattr(args, "run", None)
    if run is None:
        parser().print_help()
        return 0
    try:
        return int(run(args) or 0)
    except MlgateError as exc:
        print(f"mlgate: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
