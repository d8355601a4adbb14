"""``mlgate feedback add labels.csv [--log PATH]``: join late ground truth to logged predictions."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pytest_mlgate.commands._project import add_config, settings
from pytest_mlgate.errors import MlgateError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("feedback", help="add late labels to the prediction log",
                                   description="Late ground truth for logged predictions, joined by request id.")
    actions = parser.add_subparsers(title="actions", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="store labels from a CSV or Parquet file",
                             description="Store labels by request id; monitoring gates then compute real "
                                         "metrics on production traffic (mlgate.live_metric).")
    add.add_argument("labels", type=Path, help="CSV or Parquet file with a request id and a label column")
    add.add_argument("--log", type=Path, default=None, metavar="PATH",
                     help="prediction log (default: the predlog: path of [tool.mlgate.datasets] current)")
    add.add_argument("--id-column", default="request_id", help="request id column (default: request_id)")
    add.add_argument("--label-column", default=None,
                     help="label column (default: [tool.mlgate] target, else 'label')")
    add.add_argument("--kind", choices=("label", "dispute", "flag"), default="label",
                     help="label: late ground truth (default); dispute or flag: stakeholder feedback on the "
                          "predictions of the file's request ids (an optional 'note' column is kept), bounded "
                          "by the monitor gate mlgate.feedback_rate")
    add_config(add)
    add.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pytest_mlgate.evaluate import loaders
    from pytest_mlgate.monitoring import window

    config = settings(args)
    log = args.log or default_log(config)
    if not args.labels.is_file():
        raise MlgateError(f"labels: file not found: {args.labels}")
    try:
        frame = loaders.load_dataset(args.labels)
    except Exception as exc:  # a malformed file raises anything; report it in one line
        raise loaders.describe_error("labels", args.labels, exc) from None
    if frame is None:
        raise MlgateError(f"labels: {args.labels.name}: use a .csv or .parquet file")
    if args.kind != "label":
        from pytest_mlgate.monitoring import feedback

        counts = feedback.add(log, frame, args.kind, id_column=args.id_column)
        print(f"recorded {counts['entries']} {args.kind}(s) in {log}: {counts['matched']} matched logged "
              f"predictions, {counts['unknown']} unknown request ids")
        return 0
    counts = window.add_labels(log, frame, id_column=args.id_column,
                                label_column=args.label_column or config.target or "label")
    print(f"added {counts['labels']} labels to {log}: {counts['matched']} matched logged predictions, "
          f"{counts['unknown']} unknown request ids")
    return 0


def default_log(config: Any) -> Path:
    """The prediction log named by ``[tool.mlgate.datasets] current = "predlog:PATH?..."``."""
    from pytest_mlgate.monitoring import window

    spec = config.datasets.get("current", "")
    if not window.is_spec(spec):
        raise MlgateError("feedback: no prediction log given: pass --log PATH or set [tool.mlgate.datasets] "
                          "current = \"predlog:PATH?window=24h\"")
    return config.path(window.parse_spec(spec)[0])
