"""Exact repeat and overlap counts of datasets too large for memory, by hash partitioning.

Every row is hashed to 64 bits over the compared columns (pandas' ``hash_pandas_object``; for
overlap, numbers first rounded to float32, as the in-memory check rounds them for its candidates:
a float whose last bits changed in a CSV round trip still matches; rows that agree to 7 but not to
12 significant digits, which the in-memory check then tells apart, count as overlapping here).
The hashes and row positions are spilled to ``PARTITIONS`` temporary files by their top bits and
each file is then counted in memory: the partitioned hash join (Kitsuregawa, Tanaka and Moto-Oka
1983, "Application of hash to data base machine and its architecture"; DeWitt et al. 1984).
Memory is one chunk plus one partition, disk 16 bytes a row (removed after). Rows count as equal
when their hashes are: two different rows collide with probability about n² / 2^65 (1e-5 at 20
million rows), never the other way round, so a repeat is never missed.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from pytest_mlgate.errors import MlgateError

BITS = 6
PARTITIONS = 1 << BITS
SHOWN = 20
ROW = np.dtype([("hash", "<u8"), ("position", "<i8")])


def hashes(frame: Any, columns: list[str], tolerant: bool = False) -> np.ndarray:
    """A 64-bit hash of each row over ``columns`` (numbers at float32 precision when ``tolerant``)."""
    import pandas as pd

    part = frame[columns]
    if tolerant:
        numbers = {c: _rounded(part[c]) for c in columns if pd.api.types.is_float_dtype(part[c].dtype)}
        part = part.assign(**numbers) if numbers else part
    return pd.util.hash_pandas_object(part, index=False).to_numpy()


def _rounded(series: Any) -> np.ndarray:
    return series.to_numpy(dtype=float, na_value=np.nan).astype(np.float32) + np.float32(0.0)  # -0.0 as 0.0


class Spill:
    """Row hashes and positions of one dataset, partitioned into temporary files."""

    def __init__(self, name: str, chunks: Iterable[Any], columns: list[str], tolerant: bool = False):
        self.name = name
        self._dir = tempfile.TemporaryDirectory(prefix="mlgate-rows-")
        self.rows = 0
        try:
            files = [open(self._path(i), "wb") for i in range(PARTITIONS)]  # noqa: SIM115 (closed below)
            try:
                for chunk in chunks:
                    self._write(files, hashes(chunk, columns, tolerant))
            finally:
                for file in files:
                    file.close()
        except OSError as exc:
            self.close()
            raise MlgateError(f"dataset '{name}': cannot spill row hashes to {self._dir.name}: {exc}") from None

    def _path(self, part: int) -> Path:
        return Path(self._dir.name) / f"{part:02d}.bin"

    def _write(self, files: list[Any], found: np.ndarray) -> None:
        rows = np.empty(len(found), dtype=ROW)
        rows["hash"], rows["position"] = found, np.arange(self.rows, self.rows + len(found))
        self.rows += len(found)
        part = (found >> np.uint64(64 - BITS)).astype(np.intp)
        order = np.argsort(part, kind="stable")
        bounds = np.searchsorted(part[order], np.arange(PARTITIONS + 1))
        for i in range(PARTITIONS):
            if bounds[i + 1] > bounds[i]:
                rows[order[bounds[i]:bounds[i + 1]]].tofile(files[i])

    def part(self, i: int) -> np.ndarray:
        return np.fromfile(self._path(i), dtype=ROW)

    def close(self) -> None:
        self._dir.cleanup()


def repeats(spill: Spill) -> tuple[int, np.ndarray]:
    """How many rows repeat an earlier row, and the first ``SHOWN`` of their positions."""
    count, first = 0, np.zeros(0, dtype=np.int64)
    for i in range(PARTITIONS):
        rows = np.sort(spill.part(i), order=["hash", "position"])
        again = rows["hash"][1:] == rows["hash"][:-1]
        count += int(again.sum())
        first = np.sort(np.concatenate([first, np.sort(rows["position"][1:][again])[:SHOWN]]))[:SHOWN]
    return count, first


def shared(mine: Spill, theirs: Spill) -> tuple[int, np.ndarray]:
    """How many rows of ``mine`` occur in ``theirs``, and the first ``SHOWN`` of their positions."""
    count, first = 0, np.zeros(0, dtype=np.int64)
    for i in range(PARTITIONS):
        rows = mine.part(i)
        found = np.isin(rows["hash"], theirs.part(i)["hash"])
        count += int(found.sum())
        first = np.sort(np.concatenate([first, np.sort(rows["position"][found])[:SHOWN]]))[:SHOWN]
    return count, first
