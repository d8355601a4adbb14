"""In memory or streamed: open a Parquet dataset the way the memory budget allows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pytest_mlgate.evaluate.fold import Grouping
from pytest_mlgate.evaluate.models import Dataset
from pytest_mlgate.evaluate.parts import Parts, part_files
from pytest_mlgate.evaluate.sources import Artifact
from pytest_mlgate.evaluate.streamed import StreamedDataset

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
        return Dataset(name, parts.frame(), settings.target, artifact, dtype_mismatches=parts.mismatches)
    per_row = max(parts.bytes_per_row() * OVERHEAD, 1.0)
    chunk_rows = max(MIN_CHUNK_ROWS, int(budget // per_row))
    return StreamedDataset(name, parts, settings.target, artifact, engine=_engine(settings),
                           engine_name=settings.engine, chunk_rows=chunk_rows, models=models,
                           groupings=tuple(Grouping((s,)) for s in settings.sensitive),
                           sample_rows=settings.sample_rows, seed=settings.seed, cache=cache)


def _engine(settings: Any) -> Callable[..., Any]:
    if settings.engine == "dask":
        from pytest_mlgate.engines import dask

        address = settings.dask_scheduler
        return lambda data, plan, models: dask.run(data, plan, models, address)
    from pytest_mlgate.engines import local

    return local.run
