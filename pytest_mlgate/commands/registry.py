"""``mlgate registry register|list|show``: the embedded model registry."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pytest_mlgate.commands._project import add_config, model_name, settings
from pytest_mlgate.errors import MlgateError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("registry", help="register, list and show model versions",
                                   description="The embedded model registry ([tool.mlgate] registry).")
    commands = parser.add_subparsers(title="registry commands", metavar="ACTION", required=True)
    reg = commands.add_parser("register", help="copy a model file in as the next version")
    reg.add_argument("path", type=Path, help="the model file")
    reg.add_argument("--model", help="model name (default: [tool.mlgate] model)")
    reg.add_argument("--owner", help="owning team or person (default: [tool.mlgate] owner; required)")
    reg.add_argument("--alias", action="append", default=[], help="also point this alias at it (repeatable)")
    reg.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE", help="metadata (repeatable)")
    reg.add_argument("--by", default=None, help="who registers (default: $MLGATE_ACTOR or login name)")
    reg.set_defaults(run=run_register)
    listing = commands.add_parser("list", help="list models, or the versions of one model")
    listing.add_argument("model", nargs="?", help="a model name")
    listing.set_defaults(run=run_list)
    show = commands.add_parser("show", help="show a model's versions, aliases and alias history")
    show.add_argument("model", nargs="?", help="model name (default: [tool.mlgate] model)")
    show.add_argument("--json", action="store_true", help="print the raw index as JSON")
    show.set_defaults(run=run_show)
    for sub in (reg, listing, show):
        add_config(sub)


def _meta(pairs: list[str]) -> dict[str, str]:
    meta = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise MlgateError(f"--meta {pair!r}: expected KEY=VALUE")
        meta[key] = value
    return meta


def run_register(args: argparse.Namespace) -> int:
    from pytest_mlgate.lifecycle.promotion import actor
    from pytest_mlgate.lifecycle.registry import open_registry
    from pytest_mlgate.records import git_commit

    config = settings(args)
    name = model_name(config, args.model)
    by = args.by or actor()
    registry = open_registry(config)
    metadata = {"git_commit": git_commit(config.root), **_meta(args.meta)}
    entry = registry.register(name, args.path, owner=args.owner or config.owner, metadata=metadata, by=by)
    print(f"registered {name} {entry['version']} sha256 {entry['sha256']} owner {entry['owner']}")
    for alias in args.alias:
        registry.set_alias(name, alias, entry["version"], by=by, reason="set at registration", action="assign")
        print(f"{name}@{alias} -> {entry['version']}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from pytest_mlgate.lifecycle.registry import open_registry

    registry = open_registry(settings(args), audit=False)
    if args.model is None:
        for name in registry.models():
            index = registry.index(name)
            aliases = " ".join(f"{a}={v}" for a, v in sorted(index["aliases"].items()))
            print(f"{name}  {len(index['versions'])} version(s)  owner {index['owner']}  {aliases}".rstrip())
        return 0
    for line in version_lines(registry.index(args.model)):
        print(line)
    return 0


def version_lines(index: dict[str, Any]) -> list[str]:
    """One line per version: label, aliases pointing at it, sha256 prefix, date, who."""
    by_version: dict[str, list[str]] = {}
    for alias, version in sorted(index["aliases"].items()):
        by_version.setdefault(version, []).append(alias)
    return [f"{e['version']:>4}  {e['sha256'][:12]}  {e['registered']}  {e.get('by') or '-'}  "
            f"{','.join(by_version.get(e['version'], [])) or '-'}" for e in index["versions"]]


def run_show(args: argparse.Namespace) -> int:
    from pytest_mlgate.lifecycle.registry import open_registry

    config = settings(args)
    index = open_registry(config, audit=False).index(model_name(config, args.model))
    if args.json:
        print(json.dumps(index, indent=2))
        return 0
    print(f"model {index['name']}  owner {index['owner']}")
    print("versions:")
    for line in version_lines(index):
        print("  " + line)
    print("alias history:")
    for event in index["history"]:
        print(f"  {event['at']}  {event['action']:<8} {event['alias']}: {event['from'] or 'none'} -> "
              f"{event['to']}  by {event.get('by') or '-'}: {event.get('reason') or ''}")
    return 0
