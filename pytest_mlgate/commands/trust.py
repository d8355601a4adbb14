"""``mlgate trust MODEL.skops [--write]``: the types a .skops file would load that skops does not
trust by default, for review; ``--write`` adds the ones still refused to ``[tool.mlgate] skops_trusted``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pytest_mlgate.commands._project import add_config, find_pyproject
from pytest_mlgate.errors import MlgateError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("trust", help="review the types a .skops model file would load",
                                   description="List every type in MODEL that skops does not trust by default, "
                                               "and whether the gate loads it (trusted in [tool.mlgate] "
                                               "skops_trusted, or checked by mlgate) or refuses it.")
    parser.add_argument("model", type=Path, metavar="MODEL", help="a .skops file")
    parser.add_argument("--write", action="store_true",
                        help="add the refused types to [tool.mlgate] skops_trusted in pyproject.toml")
    add_config(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pytest_mlgate.commands._project import settings
    from pytest_mlgate.evaluate import skops_files

    if not args.model.is_file():
        raise MlgateError(f"{args.model}: file not found")
    try:
        found = skops_files.untrusted_types(args.model)
    except Exception as exc:  # not a skops file, or a corrupt one
        raise MlgateError(f"{args.model}: cannot read as a .skops file: {type(exc).__name__}: {exc}") from None
    trusted = settings(args).skops_trusted
    refused = [t for t in found if t not in trusted and t not in skops_files.VERIFIED]
    print(f"{args.model}: {len(found)} type(s) outside skops' default trusted list")
    for name in found:
        status = ("trusted in skops_trusted" if name in trusted else
                  "checked by mlgate after loading" if name in skops_files.VERIFIED else "refused")
        print(f"  {name}  ({status})")
    if not args.write:
        if refused:
            print(f"review them, then run `mlgate trust {args.model} --write` to trust {len(refused)} type(s)")
        return 0
    if refused:
        path = write_trusted(args.config or find_pyproject(Path.cwd()), refused)
        print(f"added {len(refused)} type(s) to [tool.mlgate] skops_trusted in {path}")
    else:
        print("nothing to add: the gate loads every type in this file")
    return 0


def write_trusted(path: Path | None, names: list[str]) -> Path:
    """Append ``names`` to ``skops_trusted`` in ``path``, keeping the file's comments and layout."""
    import tomlkit

    from pytest_mlgate.records import write_atomic

    if path is None or not path.is_file():
        raise MlgateError(f"{path or 'pyproject.toml'}: not found; pass --config PYPROJECT")
    try:
        document = tomlkit.parse(path.read_text(encoding="utf-8"))
    except tomlkit.exceptions.ParseError as exc:
        raise MlgateError(f"{path}: not valid TOML: {exc}") from None
    table = document.setdefault("tool", tomlkit.table()).setdefault("mlgate", tomlkit.table())
    current = table.get("skops_trusted", [])
    if isinstance(current, str) or not all(isinstance(t, str) for t in current):
        raise MlgateError(f"{path}: [tool.mlgate] skops_trusted must be a list of type names to add to")
    table["skops_trusted"] = [*current, *(n for n in names if n not in current)]
    write_atomic(path, tomlkit.dumps(document))
    return path
