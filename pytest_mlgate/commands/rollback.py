"""``mlgate rollback NAME [--to vN] --reason TEXT``: move production back to the previous version."""

from __future__ import annotations

import argparse
from typing import Any

from pytest_mlgate.commands._project import add_config, settings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("rollback", help="move an alias (production) back to its previous version",
                                   description="Move an alias back to the version it pointed at before "
                                               "(or to --to vN), with a reason kept in the audit log.")
    parser.add_argument("model", help="model name")
    parser.add_argument("--to", default=None, metavar="vN", help="the version to restore (default: the previous one)")
    parser.add_argument("--alias", default="production", help="the alias to move (default: production)")
    parser.add_argument("--reason", required=True, help="why (kept in the alias history and audit log)")
    parser.add_argument("--by", default=None, help="who rolls back (default: $MLGATE_ACTOR or login name)")
    add_config(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pytest_mlgate.lifecycle.backend import open_backend
    from pytest_mlgate.lifecycle.promotion import actor

    event = open_backend(settings(args)).rollback(args.model, args.alias, args.to, by=args.by or actor(),
                                                  reason=args.reason)
    print(f"rolled back {args.model}@{event['alias']}: {event['from']} -> {event['to']}")
    return 0
