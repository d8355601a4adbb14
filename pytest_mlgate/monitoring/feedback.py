"""Stakeholder feedback beyond labels: disputed or flagged predictions, by request id.

Kept in the prediction log's SQLite file (table ``feedback``), so a window of the log and its
feedback are read together; the monitor stage bounds their rate (``mlgate.feedback_rate``).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_mlgate.errors import MlgateError
from pytest_mlgate.monitoring.predlog import connect

if TYPE_CHECKING:
    import pandas as pd

KINDS = ("dispute", "flag")
SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    request_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    note TEXT,
    added_at REAL NOT NULL,
    PRIMARY KEY (request_id, kind)
);
"""


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise MlgateError(f"feedback: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    return kind


def add(path: str | Path, frame: pd.DataFrame, kind: str, *, id_column: str = "request_id",
        note_column: str = "note") -> dict[str, int]:
    """Store one ``kind`` entry per request id of ``frame`` (a note where a ``note_column`` exists).

    Returns counts of entries, ids matching logged predictions and unknown ids; a request id
    disputed twice is stored once (the later note wins).
    """
    check_kind(kind)
    if id_column not in frame.columns:
        raise MlgateError(f"feedback: column '{id_column}' not found (columns: {', '.join(map(str, frame.columns))})")
    if frame[id_column].isna().any():
        raise MlgateError(f"feedback: column '{id_column}' has {int(frame[id_column].isna().sum())} missing values")
    ids = frame[id_column].astype(str).tolist()
    notes = frame[note_column].astype(str).tolist() if note_column in frame.columns else [None] * len(ids)
    now = time.time()
    conn = connect(path)
    try:
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(SCHEMA)
            conn.executemany("INSERT OR REPLACE INTO feedback VALUES (?, ?, ?, ?)",
                             [(i, kind, n, now) for i, n in zip(ids, notes)])
            matched = conn.execute("SELECT count(DISTINCT f.request_id) FROM feedback f JOIN predictions p "
                                   "USING (request_id) WHERE f.kind = ? AND f.added_at = ?", (kind, now)).fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise MlgateError(f"prediction log {path}: {exc}") from None
    finally:
        conn.close()
    unique = len(set(ids))
    return {"entries": unique, "matched": int(matched), "unknown": unique - int(matched)}


def count(path: str | Path, request_ids: Iterable[str], kind: str) -> int:
    """How many of ``request_ids`` carry feedback of ``kind``."""
    check_kind(kind)
    conn = connect(path)
    try:
        if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'feedback'").fetchone() is None:
            return 0  # no feedback recorded yet
        conn.execute("CREATE TEMP TABLE window_ids (request_id TEXT PRIMARY KEY)")
        conn.executemany("INSERT OR IGNORE INTO window_ids VALUES (?)", [(str(i),) for i in request_ids])
        return int(conn.execute("SELECT count(*) FROM window_ids JOIN feedback USING (request_id) WHERE kind = ?",
                                (kind,)).fetchone()[0])
    except sqlite3.DatabaseError as exc:
        raise MlgateError(f"prediction log {path}: {exc}") from None
    finally:
        conn.close()
