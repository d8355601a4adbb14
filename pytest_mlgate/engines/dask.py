"""The Dask engine: partitions predicted and folded on the workers; only statistics travel.

The models are scattered to every worker once per session; each task reads its Parquet files on
the worker, folds them with the same :func:`pytest_mlgate.evaluate.fold.fold_chunk` as the local
engine, and returns a :class:`~pytest_mlgate.evaluate.fold.Statistics` (a few kilobytes to a few
megabytes, whatever the rows). The driver merges them in file order. Workers need pytest-mlgate,
the model's libraries and read access to the files.
"""

from __future__ import annotations

import atexit
from typing import Any

from pytest_mlgate.errors import MlgateError
from pytest_mlgate.evaluate.fold import Plan, Statistics, fold_chunk, fresh
from pytest_mlgate.evaluate.parts import chunks_of
from pytest_mlgate.evaluate.streamed import StreamedDataset

_CLIENTS: dict[str | None, Any] = {}
_SCATTERED: dict[tuple[Any, ...], Any] = {}


def client(address: str | None) -> Any:
    """A client of the scheduler at ``address``, or of a two-worker LocalCluster on 127.0.0.1."""
    if address in _CLIENTS:
        return _CLIENTS[address]
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise MlgateError("engine 'dask' needs the dask extra: pip install 'pytest-mlgate[dask]'") from None
    try:
        if address:
            found = Client(address, timeout="10s")
        else:
            cluster = LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1",
                                   dashboard_address="127.0.0.1:0", processes=True)
            found = Client(cluster)
            atexit.register(cluster.close)
    except OSError as exc:
        raise MlgateError(f"dask_scheduler {address!r}: cannot connect: {exc}") from None
    _CLIENTS[address] = found
    atexit.register(found.close)
    return found


def close(address: str | None) -> None:
    """Close this process's client of ``address`` (before its cluster goes away)."""
    found = _CLIENTS.pop(address, None)
    for key in [k for k in _SCATTERED if k[0] == address]:
        del _SCATTERED[key]
    if found is not None:
        found.close()


def run(data: StreamedDataset, plan: Plan, models: dict[str, Any], address: str | None = None) -> Statistics:
    """Fold every file of ``data`` on the cluster's workers and merge the statistics here."""
    dask = client(address)
    scattered = {}
    for role in plan.roles:  # each model once per session, whichever plans it serves
        key = (address, id(models[role]))
        if key not in _SCATTERED:
            _SCATTERED[key] = dask.scatter([fresh(models[role])], broadcast=True)[0]
        scattered[role] = _SCATTERED[key]
    files = [str(p) for p in data.parts.files]
    offsets = _offsets(data)
    tasks = [dask.submit(fold_files, [f], data.name, data.target, scattered, plan, data.chunk_rows,
                         data.parts.typer, start, pure=False) for f, start in zip(files, offsets)]
    total = Statistics()
    for part in dask.gather(tasks, errors="raise"):
        total.merge(part)
    return total


def _offsets(data: StreamedDataset) -> list[int]:
    """The dataset position of each file's first row (file order, as the local engine reads them)."""
    import itertools

    counts = [fragment.count_rows() for fragment in data.parts.arrow.get_fragments()]
    return [0, *itertools.accumulate(counts)][:len(counts)]


def fold_files(files: list[str], name: str, target: str | None, models: dict[str, Any], plan: Plan,
               chunk_rows: int, typer: Any = None, offset: int = 0) -> Statistics:
    """On a worker: the statistics of ``files`` (paths or URLs, opened here; their first row is at
    dataset position ``offset``) read in chunks of ``chunk_rows`` rows cast by ``typer``."""
    total = Statistics()
    for frame in chunks_of(files, chunk_rows, typer):
        total.merge(fold_chunk(frame, name, target, models, plan, offset=offset + total.rows))
    return total
