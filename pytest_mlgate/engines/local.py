"""The streaming engine: chunks read one after another in this process and folded as they come."""

from __future__ import annotations

from typing import Any

from pytest_mlgate.evaluate.fold import Plan, Statistics, fold_chunk
from pytest_mlgate.evaluate.streamed import StreamedDataset


def run(data: StreamedDataset, plan: Plan, models: dict[str, Any]) -> Statistics:
    """Fold every chunk of ``data`` for ``plan``; only one chunk is in memory at a time."""
    total = Statistics()
    for frame in data.parts.chunks(data.chunk_rows):
        total.merge(fold_chunk(frame, data.name, data.target, models, plan, offset=total.rows))
    return total
