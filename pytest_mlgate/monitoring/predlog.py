"""The prediction log: an embedded SQLite store of production predictions and late labels.

A :class:`PredictionLogger` wraps a model; each prediction is timed and queued, and a background
thread writes batches in WAL mode, so one writer process and any number of readers share the file
and a killed writer loses at most its unwritten queue, never the file. :func:`read_window` turns a
time window back into a table (:mod:`pytest_mlgate.monitoring.window`).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import queue
import signal
import sqlite3
import threading
import time
import uuid
import weakref
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_mlgate.errors import MlgateError

if TYPE_CHECKING:
    import pandas as pd


SCHEMA = """
CREATE TABLE IF NOT EXISTS predictions (
    request_id TEXT PRIMARY KEY,
    ts REAL NOT NULL,
    model_version TEXT,
    model_sha256 TEXT,
    features TEXT NOT NULL,
    output TEXT,
    latency_ms REAL,
    error TEXT
);
CREATE INDEX IF NOT EXISTS predictions_ts ON predictions (ts);
CREATE TABLE IF NOT EXISTS labels (
    request_id TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    labelled_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS resources (
    ts REAL NOT NULL,
    pid INTEGER NOT NULL,
    rss_mb REAL,
    cpu_percent REAL,
    queue INTEGER
);
CREATE INDEX IF NOT EXISTS resources_ts ON resources (ts);
CREATE TABLE IF NOT EXISTS dropped (
    ts REAL NOT NULL,
    pid INTEGER NOT NULL,
    rows INTEGER NOT NULL
);
"""
_INSERT = "INSERT OR REPLACE INTO predictions VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
_STOP = object()
WHEN_FULL = ("block", "drop")
log = logging.getLogger(__name__)
_OPEN: weakref.WeakSet[PredictionLogger] = weakref.WeakSet()  # closed on SIGTERM and at exit


def connect(path: str | Path, *, create: bool = False) -> sqlite3.Connection:
    """A connection in WAL mode; without ``create`` a missing file is a one-line error."""
    path = Path(path)
    if not create and not path.is_file():
        raise MlgateError(f"prediction log {path}: file not found")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        if create:
            conn.executescript(SCHEMA)
    except sqlite3.DatabaseError as exc:
        raise MlgateError(f"prediction log {path}: {exc}") from None
    return conn


class PredictionLogger:
    """Wrap ``model`` so that every ``predict`` is logged to the SQLite file at ``path``.

    The request path only times the call and queues a tuple; serialisation and inserts happen in
    a writer thread, one transaction per ``flush_interval`` seconds (what a killed process can
    lose). ``max_queue`` bounds the queue (predict calls): when it is full, ``when_full="block"``
    (the default) makes ``predict`` wait for the writer, ``"drop"`` drops the rows and counts
    them in ``dropped`` and in the log's ``dropped`` table. On SIGTERM (then exit status 143) and
    at interpreter exit the queue is written; SIGKILL loses at most the queue and the batch being
    written.
    Every ``resource_interval`` seconds the writer also samples the serving process's memory
    (RSS), CPU use since the last sample and the queue depth into the ``resources`` table.
    Call :meth:`close` (or use ``with``) to write the rest before exit.
    """

    def __init__(self, model: Any, path: str | Path, *, version: str | None = None,
                 sha256: str | None = None, method: str = "predict", flush_interval: float = 0.1,
                 max_queue: int = 1000, resource_interval: float = 10.0, when_full: str = "block"):
        if not hasattr(model, method):
            raise MlgateError(f"prediction logger: {type(model).__name__} has no {method}()")
        if when_full not in WHEN_FULL:
            raise MlgateError(f"prediction logger: when_full must be one of {', '.join(WHEN_FULL)}, got {when_full!r}")
        self.when_full = when_full
        self.model, self.path, self.version, self.sha256 = model, Path(path), version, sha256
        self.method, self.flush_interval, self.resource_interval = method, flush_interval, resource_interval
        self._last_sample = (time.monotonic() - resource_interval, time.process_time())
        self.dropped = self._recorded_drops = 0
        self._call = getattr(model, method)
        self._queue: queue.Queue[Any] = queue.Queue(max_queue)
        self._wake = threading.Event()
        self._conn = connect(self.path, create=True)
        self._writer = threading.Thread(target=self._write_loop, name="mlgate-predlog", daemon=True)
        self._writer.start()
        _OPEN.add(self)
        _install_exit_handlers()

    def __enter__(self) -> PredictionLogger:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def predict(self, features: pd.DataFrame | Mapping[str, Any], *, request_id: str | Iterable[Any] | None = None,
                timestamp: float | None = None) -> Any:
        """The model's output for ``features`` (a DataFrame, or one row as a mapping), logged.

        ``request_id`` (one per row) defaults to fresh UUIDs; ``timestamp`` (unix seconds) to now.
        A model error is logged with the error text and raised again.
        """
        if isinstance(features, Mapping):
            import pandas as pd

            features = pd.DataFrame([features])
        if request_id is not None:
            request_id = [str(request_id)] if isinstance(request_id, (str, int)) else [str(i) for i in request_id]
            if len(request_id) != len(features):
                raise MlgateError(f"prediction logger: {len(request_id)} request ids for {len(features)} rows")
        ts = time.time() if timestamp is None else timestamp
        start = time.perf_counter()
        try:
            output = self._call(features)
        except Exception as exc:
            self._enqueue((request_id, ts, features, None, time.perf_counter() - start, repr(exc)))
            raise
        self._enqueue((request_id, ts, features, output, time.perf_counter() - start, None))
        return output

    def flush(self, timeout: float = 30.0) -> None:
        """Block until everything queued so far is written (or ``timeout`` passes)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline and self._writer.is_alive():
            self._wake.set()
            time.sleep(0.002)

    def close(self) -> None:
        """Write what is queued and stop the writer thread."""
        _OPEN.discard(self)
        if self._writer.is_alive():
            self._wake.set()
            self._queue.put(_STOP)
            self._writer.join()
        self._conn.close()

    def _enqueue(self, item: tuple[Any, ...]) -> None:
        if self.when_full == "block" and self._writer.is_alive():
            if self._queue.full():  # write now, and wait until half is written: waking on every
                self._wake.set()    # freed slot would hand the GIL back and forth per row
                while self._queue.qsize() > self._queue.maxsize // 2 and self._writer.is_alive():
                    time.sleep(0.001)
            self._queue.put(item)  # back-pressure: the queue, what SIGKILL can lose, stays bounded
            return
        try:
            self._queue.put_nowait(item)
        except queue.Full:  # "drop": never delay a prediction because the log is behind
            self.dropped += len(item[2])

    def _write_loop(self) -> None:
        # One transaction per flush_interval, not per prediction: commits dominate the cost.
        while True:
            batch = [self._queue.get()]
            if batch[0] is not _STOP:
                self._wake.wait(self.flush_interval)
                self._wake.clear()
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = any(item is _STOP for item in batch)
            items = [item for item in batch if item is not _STOP]
            try:
                self._insert(items)
            except Exception as exc:  # a full disk must not take the model server down
                self.dropped += sum(len(item[2]) for item in items)
                log.error("prediction log %s: %d rows not written: %s", self.path, len(items), exc)
            for _ in batch:
                self._queue.task_done()
            if stop:
                return

    def _insert(self, items: list[tuple[Any, ...]]) -> None:
        rows = [row for item in items for row in self._rows(*item)]
        drops = self.dropped - self._recorded_drops
        if not rows and not drops:
            return
        sample = self._sample()
        with self._conn:
            self._conn.execute("BEGIN")
            self._conn.executemany(_INSERT, rows)
            if drops:
                self._conn.execute("INSERT INTO dropped VALUES (?, ?, ?)", (time.time(), os.getpid(), drops))
                self._recorded_drops += drops
            if sample is not None:
                self._conn.execute("INSERT INTO resources VALUES (?, ?, ?, ?, ?)", sample)

    def _sample(self) -> tuple[Any, ...] | None:
        """(time, pid, RSS MB, CPU % since the last sample, queue depth) when one is due."""
        wall, cpu = time.monotonic(), time.process_time()
        last_wall, last_cpu = self._last_sample
        if wall - last_wall < self.resource_interval:
            return None
        self._last_sample = (wall, cpu)
        cpu_percent = 100.0 * (cpu - last_cpu) / max(wall - last_wall, 1e-9)
        return (time.time(), os.getpid(), _rss_mb(), round(cpu_percent, 2), self._queue.qsize())

    def _rows(self, request_id: Any, ts: float, features: Any, output: Any, seconds: float,
              error: str | None) -> list[tuple[Any, ...]]:
        records = _rows(features)
        ids = _ids(request_id, records)
        outputs = _outputs(output, len(records))
        latency = seconds * 1000.0 / max(len(records), 1)
        return [(rid, ts, self.version, self.sha256, _encode(rec), out, latency, error)
                for rid, rec, out in zip(ids, records, outputs)]


def close_all() -> None:
    """Write and close every open logger (at exit and on SIGTERM)."""
    for logger in list(_OPEN):
        with contextlib.suppress(Exception):
            logger.close()


def _on_sigterm(signum: int, frame: Any) -> None:
    # Not close_all() here: the interrupted code may hold the queue's lock. Exiting unwinds it
    # (releasing the lock), then the atexit hook writes the queue; the status is 143 (128 + 15).
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    raise SystemExit(128 + signum)


def _install_exit_handlers() -> None:
    """atexit and, when SIGTERM still has its default action and this is the main thread, SIGTERM."""
    if getattr(_install_exit_handlers, "done", False):
        return
    _install_exit_handlers.done = True  # type: ignore[attr-defined]
    atexit.register(close_all)
    if threading.current_thread() is threading.main_thread() and \
            signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_sigterm)


def _rss_mb() -> float:
    """Resident memory of this process in MB (peak RSS where /proc is missing)."""
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


def _rows(features: Any) -> list[dict[str, Any]]:
    if hasattr(features, "columns"):  # ~40x faster than DataFrame.to_dict("records") on one row
        columns = list(map(str, features.columns))
        return [dict(zip(columns, values)) for values in features.to_numpy().tolist()]
    return [dict(r) for r in features]


def _ids(request_id: list[str] | None, records: list[Any]) -> list[str]:
    return [uuid.uuid4().hex for _ in records] if request_id is None else request_id


def _outputs(output: Any, n: int) -> list[str | None]:
    if output is None:
        return [None] * n
    values = output.tolist() if hasattr(output, "tolist") else list(output)
    return [_encode(v) for v in values]


def plain_value(value: Any) -> Any:
    """JSON for what ``json`` does not know: numpy scalars, timestamps, pandas' missing values."""
    if type(value).__name__ in ("NAType", "NaTType"):
        return None
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


_encode = json.JSONEncoder(default=plain_value).encode
