"""``mlgate schema infer DATA [-o schema.yaml]``: write a starting pandera schema from a dataset."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pytest_mlgate.checks.schema_infer import MARGIN, NULL_TOLERANCE, RANGE_MODES
from pytest_mlgate.errors import MlgateError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("schema", help="pandera schemas for data quality gates",
                                   description="Work with the pandera schemas used by mlgate.schema().")
    actions = parser.add_subparsers(title="schema commands", metavar="ACTION", required=True)
    infer = actions.add_parser("infer", help="infer a schema from a CSV or Parquet file",
                               description="Write a pandera schema of DATA (columns, dtypes, nullability, "
                                           "category domains, numeric ranges widened by a margin) that new "
                                           "data from the same distribution passes; each column's "
                                           "description says how its checks were derived.")
    infer.add_argument("data", type=Path, metavar="DATA", help="a .csv or .parquet dataset")
    infer.add_argument("-o", "--output", type=Path, default=None, metavar="PATH",
                       help="write here (.yaml, .yml or .json) instead of printing YAML")
    infer.add_argument("--ranges", choices=RANGE_MODES, default="margin",
                       help="numeric ranges: the observed range widened by --margin (default), the exact "
                            "observed min and max, or none")
    infer.add_argument("--margin", type=float, default=MARGIN, metavar="M",
                       help=f"widen each observed range by M times its width on each side (default {MARGIN:g})")
    infer.add_argument("--null-tolerance", type=float, default=NULL_TOLERANCE, metavar="T",
                       help="fail a column whose missing share exceeds the data's by more than T and by more "
                            f"than chance (default {NULL_TOLERANCE:g})")
    infer.set_defaults(run=run_infer)


def run_infer(args: argparse.Namespace) -> int:
    from pytest_mlgate.checks.schema_infer import infer
    from pytest_mlgate.checks.schemas import to_text
    from pytest_mlgate.evaluate.loaders import (
        DATASET_SUFFIXES,
        describe_error,
        load_dataset,
    )

    if not args.data.is_file():
        raise MlgateError(f"{args.data}: file not found")
    try:
        frame = load_dataset(args.data)
    except Exception as exc:  # a corrupt or non-tabular file raises anything
        raise describe_error("schema infer", args.data, exc) from None
    if frame is None:
        raise MlgateError(f"{args.data}: not a tabular file (supported: {', '.join(DATASET_SUFFIXES)})")
    output = args.output
    if output is not None and output.suffix.lower() not in (".yaml", ".yml", ".json"):
        raise MlgateError(f"--output {output}: use a .yaml, .yml or .json file name")
    text = to_text(infer(frame, ranges=args.ranges, margin=args.margin, null_tolerance=args.null_tolerance), output)
    if output is None:
        print(text, end="")
        return 0
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    print(f"wrote {output}: {len(frame.columns)} columns inferred from {len(frame)} rows of {args.data}")
    return 0
