"""Shared by the registry, audit and approval commands: the project's settings outside pytest."""

from __future__ import annotations

import argparse
from pathlib import Path

from pytest_mlgate.config import Settings, build, read_pyproject
from pytest_mlgate.errors import MlgateError


def add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=None, metavar="PYPROJECT",
                        help="pyproject.toml with [tool.mlgate] (default: the nearest one above the current directory)")


def find_pyproject(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").is_file():
            return folder / "pyproject.toml"
    return None


def settings(args: argparse.Namespace) -> Settings:
    """Settings from ``--config`` or the nearest pyproject.toml (paths relative to its folder)."""
    path = args.config or find_pyproject(Path.cwd())
    if path is None:
        return build(Path.cwd())
    if not path.is_file():
        raise MlgateError(f"--config {path}: file not found")
    path = path.resolve()
    return build(path.parent, read_pyproject(path), source=str(path))


def model_name(config: Settings, value: str | None) -> str:
    """The model named on the command line, else ``[tool.mlgate] model``."""
    name = value or config.model
    if not name:
        raise MlgateError("no model given: pass --model NAME or set [tool.mlgate] model")
    return name


def emit(text: str, output: Path | None, done: str) -> int:
    """Print ``text``, or write it atomically to ``output`` and print ``done``; exit status 0."""
    import sys

    from pytest_mlgate.records import write_atomic

    if output is None:
        sys.stdout.write(text)
        return 0
    try:
        write_atomic(output, text)
    except OSError as exc:
        raise MlgateError(f"{output}: cannot write: {exc.strerror}") from None
    print(done)
    return 0
