"""``mlgate history MODEL [--last N] [--format text|html] [-o PATH]``: each check over the last versions."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pytest_mlgate.commands._project import add_config, emit, model_name, settings
from pytest_mlgate.errors import MlgateError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("history", help="each check of a model over its last registry versions",
                                   description="Every push decision's checks, per registry version, from the "
                                               "audit trail: a table, or an HTML page with a chart per check.")
    parser.add_argument("model", nargs="?", default=None, help="model name (default: [tool.mlgate] model)")
    parser.add_argument("--last", type=int, default=5, help="how many versions (default: 5)")
    parser.add_argument("--format", "-f", choices=("text", "html"), default="text", help="output (default: text)")
    parser.add_argument("-o", "--output", type=Path, default=None, help="write here instead of standard output")
    add_config(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pytest_mlgate.lifecycle.history import table
    from pytest_mlgate.reports.history import render_html, render_text

    config = settings(args)
    model = model_name(config, args.model)
    if args.last < 1:
        raise MlgateError(f"history: --last must be at least 1, got {args.last}")
    labels, rows = table(config, model, args.last)
    if not labels:
        raise MlgateError(f"history: no registry version of {model!r} has a push decision in the audit log")
    text = render_html(model, labels, rows) if args.format == "html" else render_text(labels, rows)
    return emit(text, args.output, f"mlgate: wrote the history of {model} ({', '.join(labels)}) to {args.output}")
