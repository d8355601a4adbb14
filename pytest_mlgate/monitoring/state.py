"""Per-statistic monitoring state across runs, in one SQLite file (beside the audit log by default).

Each statistic (a gate's check on the model in production) keeps its observations, one per run
that brought a new window. Folding an observation reads the last one and inserts the new one in a
single ``BEGIN IMMEDIATE`` transaction, so concurrent monitoring runs serialise and a killed run
leaves the file as it was. A window that overlaps the last folded one is not folded again (its
rows would count twice and the sequence would lose its guarantee). Sequences are keyed by the
production model's sha256: a promotion or a rollback starts fresh ones, and the first run that
sees the new production reports the reset (written to the audit log by the caller).
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pytest_mlgate.errors import MlgateError

SCHEMA = """
CREATE TABLE IF NOT EXISTS observations (
    model TEXT NOT NULL,
    production TEXT NOT NULL,
    statistic TEXT NOT NULL,
    look INTEGER NOT NULL,
    window_start REAL,
    window_end REAL,
    window_id TEXT,
    value REAL NOT NULL,
    se REAL NOT NULL,
    rho REAL NOT NULL,
    extra TEXT NOT NULL,
    recorded_at REAL NOT NULL,
    PRIMARY KEY (model, production, statistic, look)
);
CREATE TABLE IF NOT EXISTS production (
    model TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    since REAL NOT NULL
);
"""


@dataclass
class Observation:
    """One run's value of a statistic on one window, with its standard error."""

    value: float
    se: float
    window_start: float | None = None
    window_end: float | None = None
    window_id: str | None = None
    rho: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    look: int = 0
    recorded_at: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Folded:
    """What folding did: the whole history (oldest first), whether the new one joined it, why not,
    and the production sha256 this run replaced (a reset), if any."""

    history: list[Observation]
    folded: bool
    reason: str | None = None
    reset_from: str | None = None


class StateStore:
    """The monitoring state file; every method opens, uses and closes its own connection."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(SCHEMA)
        except (sqlite3.DatabaseError, OSError) as exc:
            raise MlgateError(f"monitoring state {self.path}: {exc}") from None
        return conn

    def fold(self, model: str, production: str, statistic: str, obs: Observation) -> Folded:
        """Add ``obs`` unless its window overlaps (or is) the last folded one; return the history."""
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            reset = self._production(conn, model, production)
            history = self._history(conn, model, production, statistic)
            reason = _overlap(history[-1], obs) if history else None
            if reason is None:
                obs.look = len(history) + 1
                obs.recorded_at = time.time()
                if history:
                    obs.rho = history[0].rho
                conn.execute("INSERT INTO observations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             (model, production, statistic, obs.look, obs.window_start, obs.window_end,
                              obs.window_id, obs.value, obs.se, obs.rho, json.dumps(obs.extra, default=str),
                              obs.recorded_at))
                history.append(obs)
            conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            if conn.in_transaction:
                conn.rollback()
            raise MlgateError(f"monitoring state {self.path}: {exc}") from None
        finally:
            conn.close()
        return Folded(history, reason is None, reason, reset)

    def history(self, model: str, production: str, statistic: str) -> list[Observation]:
        """The observations of one statistic for one production model, oldest first."""
        conn = self._connect()
        try:
            return self._history(conn, model, production, statistic)
        finally:
            conn.close()

    @staticmethod
    def _production(conn: sqlite3.Connection, model: str, production: str) -> str | None:
        row = conn.execute("SELECT sha256 FROM production WHERE model = ?", (model,)).fetchone()
        if row is None or row[0] != production:
            conn.execute("INSERT OR REPLACE INTO production VALUES (?, ?, ?)", (model, production, time.time()))
        return row[0] if row is not None and row[0] != production else None

    @staticmethod
    def _history(conn: sqlite3.Connection, model: str, production: str, statistic: str) -> list[Observation]:
        rows = conn.execute("SELECT look, window_start, window_end, window_id, value, se, rho, extra, recorded_at "
                            "FROM observations WHERE model = ? AND production = ? AND statistic = ? ORDER BY look",
                            (model, production, statistic)).fetchall()
        return [Observation(value=r[4], se=r[5], window_start=r[1], window_end=r[2], window_id=r[3], rho=r[6],
                            extra=json.loads(r[7]), look=r[0], recorded_at=r[8]) for r in rows]


def _overlap(last: Observation, new: Observation) -> str | None:
    if new.window_id is not None and new.window_id == last.window_id:
        return "the same window as the last folded observation"
    if new.window_start is not None and last.window_end is not None and new.window_start <= last.window_end:
        return "the window overlaps the last folded one (its rows would count twice)"
    return None
