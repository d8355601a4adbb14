"""Append-only, hash-chained audit log (JSON Lines).

Each entry carries a sequence number, the previous entry's hash and its own hash (sha256 of its
canonical JSON without the ``hash`` field), so editing, deleting, inserting or reordering lines
breaks the chain and :func:`verify` says where. Appends take a file lock, so several CI jobs and
xdist workers can write at once. Rewriting the whole file consistently is only caught against a
head hash kept elsewhere: ``mlgate audit verify`` prints it for that purpose.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock

from pytest_mlgate.errors import MlgateError
from pytest_mlgate.records import now

GENESIS = "0" * 64
LOCK_TIMEOUT = 60.0


def canonical(value: Any) -> str:
    """The canonical JSON of a value: sorted keys, no spaces, UTF-8 text as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(entry: dict[str, Any]) -> str:
    """The sha256 of an entry's canonical JSON, ``hash`` field excluded."""
    return hashlib.sha256(canonical({k: v for k, v in entry.items() if k != "hash"}).encode("utf-8")).hexdigest()


def _object(fields: dict[str, str]) -> str:
    """The canonical JSON of an object whose values are already canonical JSON texts."""
    return "{" + ",".join(f"{canonical(k)}:{fields[k]}" for k in sorted(fields)) + "}"


@dataclass
class Verification:
    """The result of checking a log: entry count, head hash and every problem found (with line)."""

    entries: int
    head: str
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class AuditLog:
    """An audit log file; entries are dicts with seq, at, event, model, data, prev and hash."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.lock = FileLock(str(self.path) + ".lock", timeout=LOCK_TIMEOUT)

    def append(self, event: str, data: dict[str, Any], model: str | None = None) -> dict[str, Any]:
        """Append one entry (``data`` must be JSON-able) under the lock and return it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.lock:
            last = self._last_entry()
            entry = {"seq": last["seq"] + 1 if last else 1, "at": now(), "event": event, "model": model,
                     "data": data, "prev": last["hash"] if last else GENESIS}
            fields = {k: canonical(v) for k, v in entry.items()}  # ``data`` serialised once, for hash and line
            entry["hash"] = hashlib.sha256(_object(fields).encode("utf-8")).hexdigest()
            line = _object({**fields, "hash": canonical(entry["hash"])}) + "\n"
            _append(self.path, line.encode("utf-8"))
        return entry

    def entries(self) -> Iterator[dict[str, Any]]:
        """Every entry in file order; a line that is not JSON raises a one-line MlgateError."""
        for number, line in self._lines():
            yield _parse(self.path, number, line)

    def newest(self, event: str | None = None, model: str | None = None,
               block: int = 1 << 20) -> Iterator[dict[str, Any]]:
        """Entries of one event type and/or model, newest first, read from the end of the file in
        blocks: a reader that stops early reads only the tail. A line that is not JSON raises."""
        if not self.path.exists():
            return
        position, rest = self.path.stat().st_size, b""
        while position > 0:
            step = min(block, position)
            position -= step
            with self.path.open("rb") as fh:
                fh.seek(position)
                chunk = fh.read(step) + rest
            start = 0
            if position:  # the first line may begin in the block before: kept for it
                start = chunk.find(b"\n") + 1
                if not start:
                    rest = chunk
                    continue
                rest = chunk[:start]
            lines, offset = [], position + start
            for line in chunk[start:].splitlines(keepends=True):
                lines.append((offset, line))
                offset += len(line)
            for offset, line in reversed(lines):
                if line.strip():
                    try:
                        entry = _parse(self.path, None, line)
                    except MlgateError:  # raised again, with its line number counted from the start
                        entry = _parse(self.path, self._line_number(offset), line)
                    if (event is None or entry.get("event") == event) and (model is None or entry.get("model") == model):
                        yield entry

    def _line_number(self, offset: int) -> int:
        with self.path.open("rb") as fh:
            return fh.read(offset).count(b"\n") + 1

    def find(self, event: str | None = None, model: str | None = None) -> list[dict[str, Any]]:
        """Entries of one event type and/or model, oldest first."""
        return [e for e in self.entries()
                if (event is None or e.get("event") == event) and (model is None or e.get("model") == model)]

    def verify(self, upto: int | None = None) -> Verification:
        """Check sequence numbers, the hash chain and every entry's own hash (of the first ``upto`` bytes)."""
        problems: list[str] = []
        seen: set[int] = set()
        expected, head, count = 1, GENESIS, 0
        for number, line in self._lines(upto):
            if not line.endswith(b"\n"):
                problems.append(f"line {number}: incomplete (no line end): a writer was stopped mid-entry; "
                                "run `mlgate audit repair`")
            count += 1
            try:
                entry = _parse(self.path, number, line)
            except MlgateError as exc:
                problems.append(str(exc).removeprefix(f"{self.path}: "))
                continue
            seq = entry.get("seq")
            where = f"line {number} (seq {seq})"
            problem = None
            if entry.get("hash") != entry_hash(entry):
                problem = f"{where}: entry edited (its hash does not match its content)"
            elif not isinstance(seq, int):
                problem = f"{where}: entry has no sequence number"
            elif seq in seen:
                problem = f"{where}: duplicate sequence number: an entry was inserted"
            elif seq > expected:
                gap = f"seq {expected}" if seq == expected + 1 else f"seq {expected}-{seq - 1}"
                problem = f"{where}: {gap} missing: entries deleted or reordered"
            elif seq < expected:
                problem = f"{where}: out of order after seq {expected - 1}: entries reordered"
            elif entry.get("prev") != head:
                problem = f"{where}: does not chain to the entry before it: an entry was inserted or replaced"
            if problem:
                problems.append(problem)
            if isinstance(seq, int):
                seen.add(seq)
                expected = max(expected, seq + 1)
            head = entry.get("hash", head)
        return Verification(count, head, problems)

    def _lines(self, upto: int | None = None) -> Iterator[tuple[int, bytes]]:
        if not self.path.exists():
            return
        with self.path.open("rb") as fh:
            data = fh.read() if upto is None else fh.read(upto)
        for number, line in enumerate(data.splitlines(keepends=True), 1):
            if line.strip():
                yield number, line

    def torn_tail(self) -> tuple[int, list[int]]:
        """Where a torn tail starts (byte offset) and its line numbers: the trailing lines that are
        not complete, readable entries. ``(size, [])`` when there is none."""
        data = self.path.read_bytes() if self.path.exists() else b""
        lines = data.splitlines(keepends=True)
        offset, torn = len(data), []
        for number in range(len(lines), 0, -1):
            line = lines[number - 1]
            if line.strip() and line.endswith(b"\n") and _readable(self.path, line):
                break
            offset -= len(line)
            if line.strip():
                torn.insert(0, number)
        return offset, torn

    def quarantine(self, offset: int, target: Path) -> int:
        """Append the bytes from ``offset`` on to ``target`` (fsynced), then cut them from the log."""
        with self.lock:
            with self.path.open("rb") as fh:
                fh.seek(offset)
                tail = fh.read()
            _append(target, tail)
            with self.path.open("r+b") as fh:
                fh.truncate(offset)
                fh.flush()
                os.fsync(fh.fileno())
        return len(tail)

    def _last_entry(self) -> dict[str, Any] | None:
        """The last entry, read from the end of the file (appends stay O(1) in the log size)."""
        if not self.path.exists():
            return None
        with self.path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            end = position = fh.tell()
            tail = b""
            while position > 0 and tail.count(b"\n") < 2:
                step = min(65536, position)
                position -= step
                fh.seek(position)
                tail = fh.read(step) + tail
            lines = [line for line in tail.splitlines() if line.strip()]
        if not lines:
            return None
        if end and not tail.endswith(b"\n"):
            raise MlgateError(f"{self.path}: last entry is incomplete (a writer was killed); "
                              "run `mlgate audit verify` and repair the log before appending")
        return _parse(self.path, None, lines[-1])


def _append(path: Path, data: bytes) -> None:
    """Append all of ``data`` and fsync; on a short write or an error, cut the file back and raise."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        start = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                if written <= 0:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                view = view[written:]
            os.fsync(fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)  # leave no torn line behind
            raise MlgateError(f"{path}: cannot append the audit entry: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def _readable(path: Path, line: bytes) -> bool:
    try:
        _parse(path, None, line)
    except MlgateError:
        return False
    return True


def _parse(path: Path, number: int | None, line: bytes | str) -> dict[str, Any]:
    where = f"line {number}" if number else "last line"
    try:
        entry = json.loads(line)
    except UnicodeDecodeError:
        raise MlgateError(f"{path}: {where}: not valid UTF-8 (torn or corrupted)") from None
    except json.JSONDecodeError:
        raise MlgateError(f"{path}: {where}: not valid JSON (truncated or edited)") from None
    if not isinstance(entry, dict):
        raise MlgateError(f"{path}: {where}: not an audit entry")
    return entry


def open_log(settings: Any) -> AuditLog:
    """The audit log configured by ``[tool.mlgate] audit``."""
    return AuditLog(settings.path(settings.audit))
