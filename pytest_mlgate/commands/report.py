"""``mlgate report DECISION.json --format markdown|html|junit [-o PATH]``: render a stored decision again."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import Any

from pytest_mlgate.errors import MlgateError

FORMATS = ("markdown", "html", "junit")
REQUIRED = ("decision", "reasons", "counts", "gates")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("report", help="render a stored decision as Markdown, HTML or JUnit XML",
                                   description="Render a decision JSON written by a gate run.")
    parser.add_argument("decision", type=Path, help="the decision JSON (e.g. reports/mlgate-decision.json)")
    parser.add_argument("--format", "-f", choices=FORMATS, default="markdown", help="output format (default: markdown)")
    parser.add_argument("-o", "--output", type=Path, default=None, help="write here instead of standard output")
    parser.set_defaults(run=run)


def load(path: Path) -> dict[str, Any]:
    """A decision record from disk, checked enough that every renderer can read it."""
    from pytest_mlgate.records import read_json

    record = read_json(path)
    if not isinstance(record, dict):
        raise MlgateError(f"{path}: not a decision record (expected a JSON object)")
    missing = [key for key in REQUIRED if key not in record]
    if missing:
        raise MlgateError(f"{path}: not a decision record: missing {', '.join(missing)}")
    return record


def run(args: argparse.Namespace) -> int:
    from pytest_mlgate.records import write_atomic

    record = load(args.decision)
    renderer = importlib.import_module(f"pytest_mlgate.reports.{args.format}")
    try:
        text = renderer.render(record)
    except (KeyError, TypeError, AttributeError, IndexError) as exc:
        raise MlgateError(f"{args.decision}: malformed decision record ({type(exc).__name__}: {exc})") from None
    if args.output is None:
        sys.stdout.write(text)
    else:
        try:
            write_atomic(args.output, text)
        except OSError as exc:
            raise MlgateError(f"{args.output}: cannot write: {exc.strerror}") from None
        print(f"mlgate: wrote {args.format} report to {args.output}")
    return 0
