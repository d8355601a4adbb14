"""Partitioned Parquet datasets: a directory or glob of files, hashed together, read in chunks.

Reading goes through ``pyarrow.dataset``: files are scanned one after another, a batch at a time and
without read-ahead, so a chunk costs memory in proportion to its rows, never to the whole dataset. A
spec may be an fsspec URL (``file:///data/holdout/``, ``memory://bucket/*.parquet``,
``s3://bucket/prefix/`` with s3fs): its parts are listed and read through the URL's filesystem
(:mod:`.remote`).
"""

from __future__ import annotations

import glob
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_mlgate.errors import MlgateError
from pytest_mlgate.evaluate import dtypes, remote
from pytest_mlgate.evaluate.hashing import sha256_file

if TYPE_CHECKING:
    import pandas as pd

    from pytest_mlgate.config import Settings

PARQUET = (".parquet", ".pq")


def is_parts(spec: str, settings: Settings) -> bool:
    """Whether ``spec`` names a directory of Parquet files, a glob pattern or an fsspec URL (an MLflow
    model directory is not)."""
    if remote.is_url(spec):
        return True
    path = settings.path(spec)
    return any(ch in spec for ch in "*?[") or path.is_dir() and not (path / "MLmodel").is_file()


def part_files(name: str, spec: str, settings: Settings) -> list[Any]:
    """The Parquet files of a directory (recursively, e.g. hive partitions) or of a glob, sorted
    (paths; full URLs for an fsspec URL)."""
    if remote.is_url(spec):
        return remote.part_urls(name, spec)[1]
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


def parts_digest(name: str, spec: str, settings: Settings) -> tuple[Any, str]:
    """Where the parts are, and one sha256 over every part's relative path and sha256."""
    if remote.is_url(spec):
        return remote.digest(name, spec)
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


def open_arrow(name: str, files: list[Any]) -> Any:
    """``files`` as one ``pyarrow.dataset``; an unreadable part fails closed naming it."""
    try:
        arrow = _dataset([str(p) for p in files])
        arrow.count_rows()
        return _unified(name, arrow, files)
    except MlgateError:
        raise
    except Exception as exc:  # unreadable or inconsistent parts: fail closed, one line
        text = str(exc).splitlines()[0] if str(exc) else ""
        bad = next((f for f in files if not _readable(str(f))), None)
        where = f"part {bad}" if bad is not None else "Parquet parts"
        raise MlgateError(f"dataset '{name}': cannot read {where}: {type(exc).__name__}: {text}") from None


def _unified(name: str, arrow: Any, files: list[Any]) -> Any:
    """``arrow`` read with one schema that holds every part's columns (``pyarrow.dataset`` takes the
    first part's): int64 in one part and double in another read as double, then typed as the reference."""
    import pyarrow as pa

    schemas = [f.physical_schema for f in arrow.get_fragments()]
    if all(s.equals(arrow.schema) for s in schemas):
        return arrow
    try:
        schema = pa.unify_schemas(schemas, promote_options="permissive").with_metadata(arrow.schema.metadata)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        first = arrow.schema
        for file, found in zip(files, schemas, strict=False):
            for field in found:
                if field.name in first.names and not field.type.equals(first.field(field.name).type):
                    raise MlgateError(f"dataset '{name}': part {file}: column '{field.name}' is {field.type} where "
                                      f"part {files[0]} has {first.field(field.name).type}") from None
        raise
    return _dataset([str(p) for p in files], schema)


def _readable(file: str) -> bool:
    try:
        _dataset([file]).count_rows()
        return True
    except Exception:  # the part that made the whole fail
        return False


def _dataset(files: list[str], schema: Any = None) -> Any:
    import pyarrow.dataset as pads

    if files and remote.is_url(files[0]):
        fs, paths = remote.resolve(files)
        return pads.dataset(paths, schema=schema, format="parquet", filesystem=fs)
    return pads.dataset(files, schema=schema, format="parquet")


class Parts:
    """The files of one partitioned dataset, opened with ``pyarrow.dataset`` and read with the column
    types ``expected`` (the reference's; by default the types its files were written from)."""

    def __init__(self, name: str, files: list[Any], expected: dict[str, dtypes.Column] | None = None):
        self.name = name
        self.files = files
        self.arrow = open_arrow(name, files)
        self.rows = int(sum(f.count_rows() for f in self.arrow.get_fragments()))
        self.columns = list(self.arrow.schema.names)
        found = dtypes.stored(self.arrow.schema)
        targets, mismatches = dtypes.resolve(found, expected or {c: dtypes.Column(t) for c, t in found.items()},
                                             self._has_nulls)
        self.mismatches = mismatches if expected else []
        self.typer = dtypes.Typer(targets, name, {c: str(expected[c].dtype) for c in targets} if expected else {})

    def _has_nulls(self, column: str) -> bool:
        """Whether ``column`` may hold nulls, from the row groups' statistics (none: it may)."""
        for fragment in self.arrow.get_fragments():
            meta = fragment.metadata
            for i in range(meta.num_row_groups):
                group = meta.row_group(i)
                for j in range(group.num_columns):
                    chunk = group.column(j)
                    if chunk.path_in_schema == column:
                        stats = chunk.statistics
                        if stats is None or not stats.has_null_count or stats.null_count:
                            return True
        return False

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
        return typed(self.arrow, self.files, _batches(self.arrow, rows), self.typer)

    def frame(self, columns: list[str] | None = None) -> pd.DataFrame:
        """Every row at once (for data that fits the memory budget), of every column or of ``columns``."""
        return _cast(self.arrow, self.files, self.arrow.to_table(columns=columns).to_pandas(), self.typer)

    def rows_at(self, positions: Any) -> pd.DataFrame:
        """The rows at dataset ``positions`` (file order, then row order), cast like every chunk."""
        return _cast(self.arrow, self.files, self.arrow.take(positions).to_pandas(), self.typer)

    def sample(self, size: int, seed: int) -> pd.DataFrame:
        """A uniform sample of ``size`` rows without replacement, in file order."""
        import numpy as np

        if size >= self.rows:
            return self.frame()
        index = np.sort(np.random.default_rng(seed).choice(self.rows, size, replace=False))
        return _cast(self.arrow, self.files, self.arrow.take(index).to_pandas(), self.typer)


def chunks_of(files: list[str], rows: int, typer: dtypes.Typer | None = None) -> Iterator[pd.DataFrame]:
    """The rows of ``files`` (paths or URLs) as DataFrames of at most ``rows`` rows, cast by ``typer``
    (on a worker, for example)."""
    arrow = _dataset(files)
    frames = _batches(arrow, rows)
    return typed(arrow, files, frames, typer) if typer is not None else frames


def typed(arrow: Any, files: list[Any], frames: Iterator[pd.DataFrame], typer: dtypes.Typer) -> Iterator[pd.DataFrame]:
    """``frames`` cast by ``typer``; a cast that would lose values fails naming the part that holds them."""
    for frame in frames:
        yield _cast(arrow, files, frame, typer)


def _cast(arrow: Any, files: list[Any], frame: pd.DataFrame, typer: dtypes.Typer) -> pd.DataFrame:
    try:
        return typer(frame)
    except dtypes.Lossy as exc:
        raise typer.failure(exc, _culprit(arrow, files, typer, exc.column)) from None


def _culprit(arrow: Any, files: list[Any], typer: dtypes.Typer, column: str) -> Any:
    """The first part whose ``column`` does not cast (read again, that column only: an error path)."""
    for fragment, file in zip(arrow.get_fragments(), files, strict=False):
        try:
            typer(fragment.to_table(columns=[column]).to_pandas())
        except dtypes.Lossy:
            return file
    return "Parquet parts"


def _batches(arrow: Any, rows: int) -> Iterator[pd.DataFrame]:
    """One file after another, each without read-ahead: the scanner's default read-ahead (16
    batches, 4 files) fills memory with every part of a dataset of a few million rows before the
    first chunk is folded, so peak memory grew with the rows; one file at a time keeps it to one
    row group's worth, whatever the number of files."""
    for fragment in arrow.get_fragments():
        for batch in fragment.to_batches(batch_size=max(1, rows), batch_readahead=0, fragment_readahead=0):
            if batch.num_rows:
                yield batch.to_pandas()
