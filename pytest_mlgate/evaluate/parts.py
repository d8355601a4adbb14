"""Partitioned Parquet datasets: a directory or glob of files, hashed together, read in chunks.

Reading goes through ``pyarrow.dataset``: files are scanned one after another, a batch at a time and
without read-ahead, so a chunk costs memory in proportion to its rows, never to the whole dataset.
"""

from __future__ import annotations

import glob
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_mlgate.errors import MlgateError
from pytest_mlgate.evaluate.hashing import sha256_file

if TYPE_CHECKING:
    import pandas as pd

    from pytest_mlgate.config import Settings

PARQUET = (".parquet", ".pq")


def is_parts(spec: str, settings: Settings) -> bool:
    """Whether ``spec`` names a directory of Parquet files or a glob pattern (an MLflow model directory is not)."""
    path = settings.path(spec)
    return any(ch in spec for ch in "*?[") or path.is_dir() and not (path / "MLmodel").is_file()


def part_files(name: str, spec: str, settings: Settings) -> list[Path]:
    """The Parquet files of a directory (recursively, e.g. hive partitions) or of a glob, sorted."""
    root = settings.path(spec)
    if root.is_dir():
        files = sorted(p for p in root.rglob("*") if p.suffix.lower() in PARQUET and p.is_file())
    else:
        files = sorted(Path(p) for p in glob.glob(str(root), recursive=True) if Path(p).is_file())
    if not files:
        raise MlgateError(f"{name}: no Parquet files found for {spec!r} ({root})")
    wrong = [p.name for p in files if p.suffix.lower() not in PARQUET]
    if wrong:
        raise MlgateError(f"{name}: {spec!r} matches non-Parquet file(s) {wrong[:3]}")
    return files


def parts_digest(name: str, spec: str, settings: Settings) -> tuple[Path, str]:
    """Where the parts are, and one sha256 over every part's relative path and sha256."""
    files = part_files(name, spec, settings)
    base = settings.path(spec) if settings.path(spec).is_dir() else Path(_common(files))
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(min(4, len(files))) as pool:  # hashlib releases the GIL: files hash side by side
        shas = list(pool.map(sha256_file, files))
    digest = hashlib.sha256()
    for path, sha in zip(files, shas):
        digest.update(f"{path.relative_to(base).as_posix()}\0{sha}\n".encode())
    return base, digest.hexdigest()


def _common(files: list[Path]) -> str:
    import os

    return os.path.commonpath([str(p.parent) for p in files])


class Parts:
    """The files of one partitioned dataset, opened with ``pyarrow.dataset``."""

    def __init__(self, name: str, files: list[Path]):
        import pyarrow.dataset as pads

        self.name = name
        self.files = files
        try:
            self.arrow = pads.dataset([str(p) for p in files], format="parquet")
            self.rows = int(sum(f.count_rows() for f in self.arrow.get_fragments()))
        except Exception as exc:  # unreadable or inconsistent parts: fail closed, one line
            raise MlgateError(f"dataset '{name}': cannot read Parquet parts: {type(exc).__name__}: "
                              f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
        self.columns = list(self.arrow.schema.names)

    def bytes_per_row(self) -> float:
        """Uncompressed bytes per row from the files' row-group metadata."""
        total = rows = 0
        for fragment in self.arrow.get_fragments():
            meta = fragment.metadata
            for i in range(meta.num_row_groups):
                total += meta.row_group(i).total_byte_size
            rows += meta.num_rows
        return total / rows if rows else 0.0

    def chunks(self, rows: int) -> Iterator[pd.DataFrame]:
        """The dataset as DataFrames of at most ``rows`` rows."""
        return _batches(self.arrow, rows)

    def frame(self, columns: list[str] | None = None) -> pd.DataFrame:
        """Every row at once (for data that fits the memory budget), of every column or of ``columns``."""
        return self.arrow.to_table(columns=columns).to_pandas()

    def sample(self, size: int, seed: int) -> pd.DataFrame:
        """A uniform sample of ``size`` rows without replacement, in file order."""
        import numpy as np

        if size >= self.rows:
            return self.frame()
        index = np.sort(np.random.default_rng(seed).choice(self.rows, size, replace=False))
        return self.arrow.take(index).to_pandas()


def chunks_of(files: list[str], rows: int) -> Iterator[pd.DataFrame]:
    """The rows of ``files`` as DataFrames of at most ``rows`` rows (on a worker, for example)."""
    import pyarrow.dataset as pads

    return _batches(pads.dataset(files, format="parquet"), rows)


def _batches(arrow: Any, rows: int) -> Iterator[pd.DataFrame]:
    """One file after another, each without read-ahead: the scanner's default read-ahead (16
    batches, 4 files) fills memory with every part of a dataset of a few million rows before the
    first chunk is folded, so peak memory grew with the rows; one file at a time keeps it to one
    row group's worth, whatever the number of files."""
    for fragment in arrow.get_fragments():
        for batch in fragment.to_batches(batch_size=max(1, rows), batch_readahead=0, fragment_readahead=0):
            if batch.num_rows:
                yield batch.to_pandas()
