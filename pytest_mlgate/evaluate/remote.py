"""Datasets at fsspec URLs (``file://``, ``memory://``, ``s3://`` with s3fs, ...): their Parquet parts
listed, hashed and opened through the URL's filesystem.

fsspec is the ``remote`` extra; a URL without it fails with one line naming the dataset.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from typing import Any

from pytest_mlgate.errors import MlgateError

PARQUET = (".parquet", ".pq")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_HASHES: dict[tuple[Any, ...], str] = {}


def is_url(spec: str) -> bool:
    """Whether ``spec`` is a URL (``protocol://...``) rather than a path."""
    return bool(_URL.match(spec))


def filesystem(name: str, url: str) -> tuple[Any, str]:
    """The fsspec filesystem of ``url`` and the path on it."""
    try:
        import fsspec
    except ImportError:
        raise MlgateError(f"dataset '{name}': {url} is an fsspec URL, and fsspec is not installed: "
                          "pip install 'pytest-mlgate[remote]'") from None
    try:
        return fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:  # e.g. s3fs missing for s3://, an unknown protocol
        raise MlgateError(f"dataset '{name}': {url}: {type(exc).__name__}: {_first(exc)}") from None


def part_urls(name: str, url: str) -> tuple[str, list[str]]:
    """The base URL and the full URLs of the Parquet files of a directory, glob or file URL, sorted."""
    fs, path = filesystem(name, url)
    try:
        if any(ch in path for ch in "*?["):
            found = sorted(p for p in fs.glob(path) if fs.isfile(p))
            base = posixpath.commonpath([posixpath.dirname(p) for p in found]) if found else path
        elif fs.isdir(path):
            found = sorted(p for p in fs.find(path) if p.lower().endswith(PARQUET))
            base = path.rstrip("/")
        elif fs.isfile(path):
            found, base = [path], posixpath.dirname(path)
        else:
            raise MlgateError(f"{name}: not found: {url}")
    except OSError as exc:
        raise MlgateError(f"{name}: cannot list {url}: {type(exc).__name__}: {_first(exc)}") from None
    if not found:
        raise MlgateError(f"{name}: no Parquet files found for {url!r}")
    wrong = [posixpath.basename(p) for p in found if not p.lower().endswith(PARQUET)]
    if wrong:
        raise MlgateError(f"{name}: {url!r} matches non-Parquet file(s) {wrong[:3]}")
    return fs.unstrip_protocol(base), [fs.unstrip_protocol(p) for p in found]


def digest(name: str, url: str) -> tuple[str, str]:
    """The base URL, and one sha256 over every part's path relative to it and its bytes' sha256."""
    base, urls = part_urls(name, url)
    fs, root = filesystem(name, base)
    total = hashlib.sha256()
    for part in urls:
        path = fs._strip_protocol(part)
        total.update(f"{posixpath.relpath(path, root)}\0{sha256_part(name, fs, path, part)}\n".encode())
    return base, total.hexdigest()


def sha256_part(name: str, fs: Any, path: str, url: str) -> str:
    """The sha256 of one part's bytes, streamed; cached while its size and modification stamp hold."""
    try:
        info = fs.info(path)
        stamp = next((info[k] for k in ("mtime", "LastModified", "ETag", "created") if info.get(k)), None)
        key = (url, info.get("size"), str(stamp)) if stamp is not None else None
        if key in _HASHES:
            return _HASHES[key]
        hashed = hashlib.sha256()
        with fs.open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                hashed.update(block)
    except (OSError, KeyError) as exc:  # gone between listing and reading, or unreadable
        raise MlgateError(f"dataset '{name}': cannot read part {url}: {type(exc).__name__}: {_first(exc)}") from None
    if key is not None:
        _HASHES[key] = hashed.hexdigest()
    return hashed.hexdigest()


def resolve(urls: list[str]) -> tuple[Any, list[str]]:
    """The filesystem of ``urls`` (all on one) and their paths on it, for ``pyarrow.dataset``."""
    fs, _ = filesystem("parts", urls[0])
    return fs, [fs._strip_protocol(u) for u in urls]


def _first(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""
