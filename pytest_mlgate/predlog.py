"""The prediction log: an embedded SQLite store of production predictions and late labels.

A :class:`PredictionLogger` wraps a model; each prediction is timed and queued, and a background
thread writes batches in WAL mode, so one writer process and any number of readers share the file
and a killed writer loses at most its unwritten queue, never the file. :func:`read_window` turns a
time window back into a table that gates use like any other dataset (spec
``predlog:PATH?window=24h``), and :func:`add_labels` joins ground truth that arrives later.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import queue
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from pytest_mlgate.errors import MlgateError

if TYPE_CHECKING:
    import pandas as pd

    from pytest_mlgate.artifacts import Artifact
    from pytest_mlgate.config import Settings

PREFIX = "predlog:"
#: Columns a window adds next to the logged features (and the target, when labels arrived).
META = ("request_id", "timestamp", "model_version", "model_sha256", "prediction", "latency_ms", "error")
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
"""
_INSERT = "INSERT OR REPLACE INTO predictions VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_STOP = object()
log = logging.getLogger(__name__)


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
    lose). ``max_queue`` bounds memory: beyond it rows are dropped and counted in ``dropped``.
    Every ``resource_interval`` seconds the writer also samples the serving process's memory
    (RSS), CPU use since the last sample and the queue depth into the ``resources`` table.
    Call :meth:`close` (or use ``with``) to write the rest before exit.
    """

    def __init__(self, model: Any, path: str | Path, *, version: str | None = None,
                 sha256: str | None = None, method: str = "predict", flush_interval: float = 0.1,
                 max_queue: int = 100_000, resource_interval: float = 10.0):
        if not hasattr(model, method):
            raise MlgateError(f"prediction logger: {type(model).__name__} has no {method}()")
        self.model, self.path, self.version, self.sha256 = model, Path(path), version, sha256
        self.method, self.flush_interval, self.resource_interval = method, flush_interval, resource_interval
        self._last_sample = (time.monotonic() - resource_interval, time.process_time())
        self.dropped = 0
        self._call = getattr(model, method)
        self._queue: queue.Queue[Any] = queue.Queue(max_queue)
        self._wake = threading.Event()
        self._conn = connect(self.path, create=True)
        self._writer = threading.Thread(target=self._write_loop, name="mlgate-predlog", daemon=True)
        self._writer.start()

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
        if self._writer.is_alive():
            self._wake.set()
            self._queue.put(_STOP)
            self._writer.join()
        self._conn.close()

    def _enqueue(self, item: tuple[Any, ...]) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:  # never block or fail a prediction because the log is behind
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
        if not rows:
            return
        sample = self._sample()
        with self._conn:
            self._conn.execute("BEGIN")
            self._conn.executemany(_INSERT, rows)
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


def _plain(value: Any) -> Any:
    """JSON for what ``json`` does not know: numpy scalars, timestamps, pandas' missing values."""
    if type(value).__name__ in ("NAType", "NaTType"):
        return None
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


_encode = json.JSONEncoder(default=_plain).encode


# ---------------------------------------------------------------- reading windows


def parse_duration(text: str) -> float:
    """Seconds in ``"90s"``, ``"30m"``, ``"24h"``, ``"7d"`` or ``"2w"``."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", str(text))
    if not match:
        raise MlgateError(f"bad duration {text!r}: use a number and a unit s, m, h, d or w (e.g. 24h)")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_time(text: str | float | datetime) -> float:
    """Unix seconds from an ISO 8601 time (UTC unless it says otherwise), a datetime or a number."""
    if isinstance(text, (int, float)):
        return float(text)
    if re.fullmatch(r"\d+(\.\d+)?", str(text)):
        return float(text)
    try:
        moment = text if isinstance(text, datetime) else datetime.fromisoformat(str(text))
    except ValueError:
        raise MlgateError(f"bad time {text!r}: use ISO 8601, e.g. 2026-11-27T06:00:00Z") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def read_window(path: str | Path, *, window: str | None = None, start: Any = None, end: Any = None,
                model_version: str | None = None, target: str | None = None,
                labelled: bool = False) -> pd.DataFrame:
    """Logged predictions with ``start <= time < end`` as a table: features, META columns, target.

    ``window`` (e.g. ``"24h"``) sets ``start`` back from ``end`` (default: now). ``target`` names
    the column that receives joined labels (missing where none arrived); ``labelled`` keeps only
    rows that have one.
    """
    import pandas as pd

    since, until = _bounds(window, start, end)
    query = ("SELECT p.request_id, p.ts, p.model_version, p.model_sha256, p.features, p.output, p.latency_ms, "
             "p.error, l.label FROM predictions p LEFT JOIN labels l USING (request_id) "
             "WHERE p.ts >= ? AND p.ts < ?" + (" AND p.model_version = ?" if model_version else "")
             + (" AND l.label IS NOT NULL" if labelled else "") + " ORDER BY p.ts, p.request_id")
    params = [since, until] + ([model_version] if model_version else [])
    conn = connect(path)
    try:
        rows = conn.execute(query, params).fetchall()
    except sqlite3.DatabaseError as exc:
        raise MlgateError(f"prediction log {path}: {exc}") from None
    finally:
        conn.close()
    features = pd.DataFrame([json.loads(r[4]) for r in rows])
    clash = [c for c in (*META, target) if c is not None and c in features.columns]
    if clash:
        raise MlgateError(f"prediction log {path}: logged feature(s) {clash} clash with the log's own columns")
    meta = pd.DataFrame({
        "request_id": [r[0] for r in rows],
        "timestamp": pd.to_datetime([r[1] for r in rows], unit="s", utc=True),
        "model_version": [r[2] for r in rows],
        "model_sha256": [r[3] for r in rows],
        "prediction": _column(r[5] for r in rows),
        "latency_ms": [float(r[6]) if r[6] is not None else float("nan") for r in rows],
        "error": [r[7] for r in rows],
    })
    frame = pd.concat([features, meta], axis=1)
    if target:
        frame[target] = _column(r[8] for r in rows)
    return frame


def _column(texts: Iterable[str | None]) -> pd.Series:
    import pandas as pd

    values = [None if t is None else json.loads(t) for t in texts]
    return pd.Series(values, dtype=object).infer_objects()


def read_resources(path: str | Path, *, window: str | None = None, start: Any = None,
                   end: Any = None) -> pd.DataFrame:
    """The serving processes' resource samples in the window: timestamp, pid, rss_mb, cpu_percent, queue."""
    import pandas as pd

    since, until = _bounds(window, start, end)
    conn = connect(path)
    try:
        rows = conn.execute("SELECT ts, pid, rss_mb, cpu_percent, queue FROM resources WHERE ts >= ? AND ts < ? "
                            "ORDER BY ts", (since, until)).fetchall()
    except sqlite3.DatabaseError as exc:
        raise MlgateError(f"prediction log {path}: {exc}") from None
    finally:
        conn.close()
    frame = pd.DataFrame(rows, columns=["timestamp", "pid", "rss_mb", "cpu_percent", "queue"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], unit="s", utc=True)
    return frame


def _bounds(window: str | None, start: Any, end: Any) -> tuple[float, float]:
    until = time.time() if end is None else parse_time(end)
    return (until - parse_duration(window) if window else (-float("inf") if start is None else parse_time(start)),
            until)


def add_labels(path: str | Path, labels: pd.DataFrame, *, id_column: str = "request_id",
               label_column: str = "label") -> dict[str, int]:
    """Store late ground truth by request id; returns counts of labels, matched ids and unknown ids."""
    for column in (id_column, label_column):
        if column not in labels.columns:
            raise MlgateError(f"labels: column '{column}' not found (columns: {', '.join(map(str, labels.columns))})")
    missing = int(labels[label_column].isna().sum())
    if missing:
        raise MlgateError(f"labels: column '{label_column}' has {missing} missing values")
    ids = labels[id_column].astype(str).tolist()
    values = [json.dumps(v, default=_plain) for v in labels[label_column].tolist()]
    now = time.time()
    conn = connect(path)
    try:
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT OR REPLACE INTO labels VALUES (?, ?, ?)",
                             [(i, v, now) for i, v in zip(ids, values)])
            conn.execute("CREATE TEMP TABLE incoming (request_id TEXT PRIMARY KEY)")
            conn.executemany("INSERT OR IGNORE INTO incoming VALUES (?)", [(i,) for i in ids])
            matched = conn.execute("SELECT count(*) FROM incoming JOIN predictions USING (request_id)").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise MlgateError(f"prediction log {path}: {exc}") from None
    finally:
        conn.close()
    unique = len(set(ids))
    return {"labels": unique, "matched": int(matched), "unknown": unique - int(matched)}


# ---------------------------------------------------------------- datasets from the log


def is_spec(spec: str) -> bool:
    """Whether a dataset spec names a prediction-log window (``predlog:PATH?window=24h``)."""
    return spec.startswith(PREFIX)


def parse_spec(spec: str) -> tuple[str, dict[str, str]]:
    """``predlog:PATH?key=value&...`` as the path and its options (window, start, end, model, labelled)."""
    path, _, query = spec[len(PREFIX):].partition("?")
    options = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    unknown = sorted(set(options) - {"window", "start", "end", "model", "labelled"})
    if not path or unknown:
        extra = f"; unknown {unknown}" if unknown else ""
        raise MlgateError(f"dataset spec {spec!r}: expected predlog:PATH?window=24h "
                          f"(options window, start, end, model, labelled){extra}")
    return path, options


def locate(name: str, spec: str, settings: Settings) -> Artifact:
    """The log file behind a spec, fingerprinted with its write-ahead log."""
    from pytest_mlgate.artifacts import Artifact

    path = settings.path(parse_spec(spec)[0])
    if not path.is_file():
        raise MlgateError(f"{name}: prediction log not found: {path}")
    digest = hashlib.sha256()
    for part in (path, path.with_name(path.name + "-wal")):
        if part.is_file():
            digest.update(part.read_bytes())
    return Artifact(name, spec, path, digest.hexdigest())


def load_spec(spec: str, settings: Settings) -> pd.DataFrame:
    """The window a spec names, with labels joined into the configured target column."""
    path, options = parse_spec(spec)
    labelled = options.get("labelled", "0").lower() in ("1", "true", "yes")
    return read_window(settings.path(path), window=options.get("window"), start=options.get("start"),
                       end=options.get("end"), model_version=options.get("model"), target=settings.target,
                       labelled=labelled)


def load_spec_resources(spec: str, settings: Settings) -> pd.DataFrame:
    """The resource samples in the window a spec names."""
    path, options = parse_spec(spec)
    return read_resources(settings.path(path), window=options.get("window"), start=options.get("start"),
                          end=options.get("end"))
