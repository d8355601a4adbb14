"""``mlgate promote``: move an alias to a candidate whose latest recorded decision allows it."""

from __future__ import annotations

import argparse
from typing import Any

from pytest_mlgate.commands._project import add_config, model_name, settings
from pytest_mlgate.errors import MlgateError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("promote", help="promote the candidate of the latest approved decision",
                                   description="Find the latest push decision for the model in the audit log "
                                               "(optionally for one candidate sha256), fold in approvals given "
                                               "since, and move the alias only if it is approved.")
    parser.add_argument("--model", default=None, help="model name (default: [tool.mlgate] model)")
    parser.add_argument("--alias", default="production", help="alias to move (default: production)")
    parser.add_argument("--candidate", default=None, metavar="SHA256", help="promote this candidate's decision")
    parser.add_argument("--by", default=None, help="who promotes (default: $MLGATE_ACTOR or login name)")
    parser.add_argument("--reason", default="promoted after an approved gate run", help="kept in the history")
    add_config(parser)
    parser.set_defaults(run=run)


def latest_decision(entries: list[dict[str, Any]], candidate: str | None) -> dict[str, Any]:
    """The newest push-stage decision record (for ``candidate`` when given)."""
    for entry in reversed(entries):
        record = entry["data"]
        sha = ((record.get("artifacts") or {}).get("candidate") or {}).get("sha256")
        if record.get("stage", "push") == "push" and (candidate is None or sha == candidate.lower()):
            return record
    which = f" for candidate {candidate}" if candidate else ""
    raise MlgateError(f"promote: no gate decision recorded{which} in the audit log; run the gates first")


def run(args: argparse.Namespace) -> int:
    from pytest_mlgate.lifecycle.audit import open_log
    from pytest_mlgate.lifecycle.promotion import actor, promote, redecide

    config = settings(args)
    name = model_name(config, args.model)
    log = open_log(config)
    check = log.verify()
    if not check.ok:
        raise MlgateError(f"promote: audit log {log.path} fails verification ({check.problems[0]}); not promoting")
    record = redecide(config, latest_decision(log.find("decision", model=name), args.candidate))
    event = promote(config, record, args.alias, by=args.by or actor(), reason=args.reason)
    print(f"promoted {name}@{event['alias']}: {event['from'] or 'none'} -> {event['to']} "
          f"(decision {record['decision']})")
    return 0
