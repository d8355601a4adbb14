"""File hashes, cached per path, size and modification time; the bottom of every layer that hashes."""

from __future__ import annotations

import hashlib
from pathlib import Path

from pytest_mlgate.errors import MlgateError

_HASHES: dict[tuple[str, int, int], str] = {}


def sha256_file(path: Path) -> str:
    """The file's sha256, cached by path, size and modification time."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _HASHES:
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        _HASHES[key] = digest.hexdigest()
    return _HASHES[key]


def sha256_tree(path: Path) -> str:
    """The sha256 of a directory: of its files' relative paths and sha256s, one line each, sorted.

    Symbolic links are refused (a model folder that points outside itself is not one artifact).
    """
    lines = []
    for item in sorted(p for p in path.rglob("*") if not p.is_dir() or p.is_symlink()):
        relative = item.relative_to(path).as_posix()
        if item.is_symlink():
            raise MlgateError(f"{path}: {relative} is a symbolic link; a model folder must hold its own files")
        lines.append(f"{sha256_file(item)}  {relative}\n")
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()
