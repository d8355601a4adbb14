"""``mlgate audit verify|show|repair``: check, read and repair a torn tail of the audit log."""

from __future__ import annotations

import argparse
import json
from typing import Any

from pytest_mlgate.commands._project import add_config, settings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("audit", help="verify or show the hash-chained audit log",
                                   description="The append-only audit log ([tool.mlgate] audit).")
    commands = parser.add_subparsers(title="audit commands", metavar="ACTION", required=True)
    verify = commands.add_parser("verify", help="check the hash chain; exit 1 and say where when tampered")
    verify.set_defaults(run=run_verify)
    show = commands.add_parser("show", help="print the history readably")
    show.add_argument("--model", default=None, help="only entries of this model")
    show.add_argument("--json", action="store_true", help="print the raw entries (JSON Lines)")
    show.set_defaults(run=run_show)
    repair = commands.add_parser("repair", help="show a torn tail (a writer stopped mid-entry) and, with --yes, "
                                 "move it to a quarantine file")
    repair.add_argument("--yes", action="store_true", help="move the tail (default: only show it)")
    repair.set_defaults(run=run_repair)
    for sub in (verify, show, repair):
        add_config(sub)


def run_verify(args: argparse.Namespace) -> int:
    from pytest_mlgate.lifecycle.audit import open_log

    log = open_log(settings(args))
    result = log.verify()
    for problem in result.problems:
        print(f"{log.path}: {problem}")
    if not result.ok:
        print(f"audit log TAMPERED: {len(result.problems)} problem(s) in {result.entries} entries")
        return 1
    print(f"audit log OK: {result.entries} entries, head {result.head}")
    return 0


def run_repair(args: argparse.Namespace) -> int:
    from pytest_mlgate.lifecycle.audit import open_log

    log = open_log(settings(args))
    offset, torn = log.torn_tail()
    if not torn:
        print(f"{log.path}: no torn tail")
        return run_verify(args)
    before = log.verify(upto=offset)
    if not before.ok:
        for problem in before.problems:
            print(f"{log.path}: {problem}")
        print(f"audit log not repaired: problems before the torn tail (line {torn[0]}); restore it from a copy")
        return 1
    lines = log.path.read_bytes()[offset:].splitlines()
    for number, line in zip(range(torn[0], torn[0] + len(lines)), lines):
        print(f"{log.path}: line {number} (torn): {line[:200]!r}")
    target = log.path.with_name(log.path.name + ".quarantine")
    if not args.yes:
        print(f"run again with --yes to move line(s) {torn[0]}-{torn[-1]} to {target}")
        return 1
    moved = log.quarantine(offset, target)
    print(f"moved {moved} byte(s) (line(s) {torn[0]}-{torn[-1]}) to {target}")
    return run_verify(args)


def run_show(args: argparse.Namespace) -> int:
    from pytest_mlgate.lifecycle.audit import open_log

    for entry in open_log(settings(args)).find(model=args.model):
        print(json.dumps(entry, sort_keys=True) if args.json else describe(entry))
    return 0


def describe(entry: dict[str, Any]) -> str:
    """One readable line for an audit entry."""
    data = entry.get("data") or {}
    event = entry.get("event")
    if event == "decision":
        counts = " ".join(f"{k}={v}" for k, v in sorted((data.get("counts") or {}).items()))
        sha = ((data.get("artifacts") or {}).get("candidate") or {}).get("sha256") or "?"
        text = f"{data.get('decision')} ({data.get('stage')}) candidate {sha[:12]} owner {data.get('owner')} {counts}"
        reasons = data.get("reasons") or []
        if reasons:
            text += f": {reasons[0]}" + (f" (+{len(reasons) - 1} more)" if len(reasons) > 1 else "")
    elif event == "register":
        text = (f"{data.get('version')} sha256 {str(data.get('sha256'))[:12]} owner {data.get('owner')} "
                f"by {data.get('by')}")
    elif event == "approval":
        text = f"{data.get('gate')} for {str(data.get('candidate'))[:12]} by {data.get('by')}: {data.get('reason')}"
    elif "alias" in data:
        text = (f"{data['alias']}: {data.get('from') or 'none'} -> {data.get('to')} "
                f"by {data.get('by')}: {data.get('reason')}")
    else:
        text = json.dumps(data, sort_keys=True)[:200]
    return f"{entry.get('seq'):>5}  {entry.get('at')}  {event:<9} {entry.get('model') or '-'}  {text}"
