"""In memory or streamed: open a Parquet dataset the way the memory budget allows."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pytest_mlgate.errors import MlgateError
from pytest_mlgate.evaluate.columns import listing
from pytest_mlgate.evaluate.fold import Grouping
from pytest_mlgate.evaluate.models import Dataset
from pytest_mlgate.evaluate.parts import Parts, part_files
from pytest_mlgate.evaluate.sources import Artifact
from pytest_mlgate.evaluate.streamed import StreamedDataset

if TYPE_CHECKING:
    import pandas as pd

#: Bytes in memory per byte of Parquet data while evaluating: the frame, the feature matrix a
#: model builds from it, and the outputs.
OVERHEAD = 3.0
MIN_CHUNK_ROWS = 64


def estimate(parts: Parts) -> float:
    """Bytes needed to evaluate every row of ``parts`` at once."""
    return parts.rows * parts.bytes_per_row() * OVERHEAD


def open_dataset(name: str, spec: str, artifact: Artifact, settings: Any, models: Callable[[], dict[str, Any]],
                 cache: Any = None, expected: dict[str, Any] | None = None) -> Dataset | None:
    """The dataset in memory when it fits ``memory_budget``, else streamed by the configured
    engine, read with the column types ``expected``; ``None`` for a single file that fits (the
    ordinary loaders read it)."""
    from pytest_mlgate.evaluate.parts import is_parts

    parts = Parts(name, part_files(name, spec, settings), expected)
    needed = estimate(parts)
    budget = settings.memory_budget
    if needed <= budget and settings.engine == "local":
        if not is_parts(spec, settings):
            return None
        return PartsInMemory(name, parts, settings.target, artifact, cache)
    per_row = max(parts.bytes_per_row() * OVERHEAD, 1.0)
    chunk_rows = max(MIN_CHUNK_ROWS, int(budget // per_row))
    return StreamedDataset(name, parts, settings.target, artifact, engine=_engine(settings),
                           engine_name=settings.engine, chunk_rows=chunk_rows, models=models,
                           groupings=tuple(Grouping((s,)) for s in settings.sensitive),
                           sample_rows=settings.sample_rows, seed=settings.seed, cache=cache)


class PartsInMemory(Dataset):
    """Parquet parts that fit the budget, read on first use: the whole frame when a gate needs rows,
    one column when it needs only that (the target), nothing when every gate's answer is in the
    warm cache. Its fingerprint comes from the files (sha256, row count, Arrow schema), as a
    streamed dataset's does."""

    def __init__(self, name: str, parts: Parts, target: str | None, artifact: Artifact, cache: Any = None):
        self.name, self.parts, self.target, self.artifact, self.cache = name, parts, target, artifact, cache
        self.dtype_mismatches = parts.mismatches
        self._frame: pd.DataFrame | None = None
        self._columns: dict[str, pd.Series] = {}
        self._y = None
        self.reads = 0  # how many times rows were read: 0 in a fully warm run

    @property
    def frame(self) -> pd.DataFrame:
        if self._frame is None:
            self._frame = self._read(None)
            self._columns.clear()
        return self._frame

    def __len__(self) -> int:
        return self.parts.rows

    def __repr__(self) -> str:
        return f"<PartsInMemory {self.name}: {len(self.parts.files)} Parquet file(s), {self.parts.rows} rows>"

    def column(self, name: str) -> pd.Series:
        if self._frame is not None:
            return super().column(name)
        if name not in self.parts.columns:
            raise MlgateError(f"dataset '{self.name}': column '{name}' not found "
                              f"(columns: {listing(self.parts.columns)})")
        if name not in self._columns:
            self._columns[name] = self._read([name])[name]
        return self._columns[name]

    def _read(self, columns: list[str] | None) -> pd.DataFrame:
        self.reads += 1
        try:
            return self.parts.frame(columns)
        except Exception as exc:  # a damaged part: fail closed, one line naming the dataset
            raise MlgateError(f"dataset '{self.name}': cannot read Parquet parts: {type(exc).__name__}: "
                              f"{str(exc).splitlines()[0] if str(exc) else ''}") from None

    def fingerprint(self) -> dict[str, Any]:
        # the stored types and the cast to the reference's: what a gate computes depends on both
        schema = ",".join(f"{f.name}:{f.type}" for f in self.parts.arrow.schema) + self.parts.typer.key()
        found = {"name": self.name, "path": str(self.artifact.path), "sha256": self.artifact.sha256,
                 "rows": len(self), "columns": len(self.parts.columns),
                 "schema_sha256": hashlib.sha256(schema.encode()).hexdigest()}
        if self.dtype_mismatches:
            found["dtype_mismatches"] = [m.to_dict() for m in self.dtype_mismatches]
        return found


def _engine(settings: Any) -> Callable[..., Any]:
    if settings.engine == "dask":
        from pytest_mlgate.engines import dask

        address = settings.dask_scheduler
        return lambda data, plan, models: dask.run(data, plan, models, address)
    from pytest_mlgate.engines import local

    return local.run
