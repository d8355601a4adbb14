"""Windows of the prediction log as datasets: ``predlog:PATH?window=24h``, and late labels joined in."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from pytest_mlgate.errors import MlgateError
from pytest_mlgate.monitoring.predlog import connect, plain_value

if TYPE_CHECKING:
    import pandas as pd

    from pytest_mlgate.config import Settings
    from pytest_mlgate.evaluate.sources import Artifact

PREFIX = "predlog:"
#: Columns a window adds next to the logged features (and the target, when labels arrived).
META = ("request_id", "timestamp", "model_version", "model_sha256", "prediction", "latency_ms", "error")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


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
    values = [json.dumps(v, default=plain_value) for v in labels[label_column].tolist()]
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
    from pytest_mlgate.evaluate.sources import Artifact

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
