"""The warm cache: predictions and folded statistics on disk, reused while their inputs are unchanged.

An entry's key hashes what its value is a pure function of: the kind of entry, the plugin's
version and source files, every model's sha256 and the dataset's fingerprint (the sha256 of its bytes, its rows
and column types); a change to any of them is a different key, so nothing is shared across
different bytes. Each file starts with the sha256 of its payload: a truncated or damaged entry
fails that check, is deleted and rebuilt. Writes are atomic (temporary file, then rename), the
least recently used entries go when the directory outgrows ``cache_size``, and an unwritable
cache is skipped, never an error. Statistics are stored as pickles: the cache directory needs the
same trust as the model files.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

DIGEST = 32


class Cache:
    """A size-bounded directory of entries keyed by the sha256 of their inputs."""

    def __init__(self, root: Path, max_bytes: int):
        self.root = root
        self.max_bytes = max_bytes
        self.hits = self.misses = 0

    @staticmethod
    def key(*parts: Any) -> str:
        return hashlib.sha256("\0".join(map(str, (_version(), *parts))).encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / key

    def get_array(self, key: str) -> np.ndarray | None:
        payload = self._read(key)
        if payload is None:
            return None
        try:
            return np.load(io.BytesIO(payload), allow_pickle=False)
        except (ValueError, OSError):
            self._drop(key)
            return None

    def put_array(self, key: str, value: np.ndarray) -> None:
        if value.dtype.kind == "O":  # object labels would need a pickle: not worth it
            return
        buffer = io.BytesIO()
        np.save(buffer, value, allow_pickle=False)
        self._write(key, buffer.getvalue())

    def get_object(self, key: str) -> Any:
        payload = self._read(key)
        if payload is None:
            return None
        try:
            return pickle.loads(payload)
        except Exception:  # an entry from an incompatible version of a library: rebuild it
            self._drop(key)
            return None

    def put_object(self, key: str, value: Any) -> None:
        self._write(key, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))

    def _read(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            data = path.read_bytes()
        except OSError:
            self.misses += 1
            return None
        payload = data[DIGEST:]
        if len(data) < DIGEST or hashlib.sha256(payload).digest() != data[:DIGEST]:
            self._drop(key)
            self.misses += 1
            return None
        self.hits += 1
        try:
            os.utime(path)  # recently used: trimmed last
        except OSError:
            pass
        return payload

    def _write(self, key: str, payload: bytes) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(hashlib.sha256(payload).digest())
                    fh.write(payload)
                os.replace(tmp, path)
            finally:
                Path(tmp).unlink(missing_ok=True)
            self._trim()
        except OSError:  # a full disk or a read-only cache: run without it
            return

    def _drop(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def _trim(self) -> None:
        entries = []
        for path in self.root.glob("*/*"):
            if not path.name.startswith("."):
                stat = path.stat()
                entries.append((stat.st_mtime_ns, stat.st_size, path))
        total = sum(size for _, size, _ in entries)
        for _, size, path in sorted(entries):
            if total <= self.max_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size


@functools.lru_cache(maxsize=1)
def _version() -> str:
    """The plugin's version and a digest of its own source files: an edited install (a source tree,
    a patched copy) never reads entries that other code computed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("pytest-mlgate")
    except PackageNotFoundError:  # a source tree: its entries are keyed as such
        found = "0+unknown"
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(f"{path.relative_to(root).as_posix()}\0".encode())
        digest.update(path.read_bytes())
    return f"{found}\0{digest.hexdigest()}"


def open_cache(settings: Any) -> Cache | None:
    """The project's cache, or ``None`` when ``--mlgate-no-cache`` (``no_cache``) is set."""
    if settings.no_cache:
        return None
    return Cache(settings.path(settings.cache), settings.cache_size)
