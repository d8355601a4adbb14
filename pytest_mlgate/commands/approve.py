"""``mlgate approve --model --candidate SHA256 --gate GATE --by WHO --reason TEXT``."""

from __future__ import annotations

import argparse
from typing import Any

from pytest_mlgate.commands._project import add_config, model_name, settings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("approve", help="approve a review gate for one exact candidate",
                                   description="Record an approval of a review-severity gate, bound to the "
                                               "model, the candidate's sha256 and the gate. Signed with HMAC "
                                               "when MLGATE_APPROVAL_KEY is set.")
    parser.add_argument("--model", default=None, help="model name (default: [tool.mlgate] model)")
    parser.add_argument("--candidate", required=True, metavar="SHA256", help="the candidate artifact's sha256")
    parser.add_argument("--gate", required=True, help="the gate: its node id or test function name")
    parser.add_argument("--by", required=True, help="who approves (must be in [tool.mlgate] approvers)")
    parser.add_argument("--reason", required=True, help="why the failing gate is acceptable")
    add_config(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pytest_mlgate.lifecycle.approvals import approve
    from pytest_mlgate.lifecycle.audit import open_log

    config = settings(args)
    approval = approve(open_log(config), config, model=model_name(config, args.model),
                       candidate=args.candidate, gate=args.gate, by=args.by, reason=args.reason)
    signed = "signed" if "signature" in approval else "unsigned"
    print(f"approved {approval['gate']} for {approval['model']} {approval['candidate'][:12]} "
          f"by {approval['by']} ({signed})")
    return 0
