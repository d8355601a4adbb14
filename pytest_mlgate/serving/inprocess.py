"""In-process serving measurements of a loaded model: latency, memory growth, stability, bad input.

No server and no staging extra needed: these call the model's own ``predict``.
"""

from __future__ import annotations

import gc
import math
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from pytest_mlgate.errors import MlgateError

if TYPE_CHECKING:
    from pytest_mlgate.evaluate.models import Dataset, ModelUnderTest

UNSEEN = "__mlgate_unseen__"


def _features(model: ModelUnderTest, data: Dataset, rows: int) -> Any:
    """The first ``rows`` feature rows; a dataset with fewer rows is resampled (seeded, with
    replacement) up to that size, so a batch larger than the dataset is still measured."""
    frame = data.features_for(model.model, model.role)
    if len(frame) >= rows:
        return frame.head(rows)
    if not len(frame):
        raise MlgateError(f"dataset '{data.name}' has no rows to time predictions on")
    return frame.iloc[np.random.default_rng(0).integers(0, len(frame), rows)]


@contextmanager
def native_threads(limit: int | None) -> Iterator[None]:
    """Limit OpenMP/BLAS threads (threadpoolctl) while measuring; ``None`` leaves the library default."""
    if limit is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=limit):
        yield


def predict_latency(model: ModelUnderTest, data: Dataset, batch: int, repeats: int = 50, warmup: int = 5,
                    threads: int | None = None) -> dict[str, float]:
    """p50/p95/p99 milliseconds of ``model.predict`` on ``batch`` rows, after ``warmup`` calls."""
    frame = _features(model, data, batch)
    times = []
    with native_threads(threads):
        for i in range(warmup + repeats):
            start = time.perf_counter()
            model.model.predict(frame)
            if i >= warmup:
                times.append((time.perf_counter() - start) * 1000)
    p50, p95, p99 = np.percentile(times, [50, 95, 99])
    return {"batch": len(frame), "resampled": len(frame) > len(data), "repeats": repeats, "threads": threads,
            "p50_ms": float(p50), "p95_ms": float(p95),
            "p99_ms": float(p99)}


def memory_growth(model: ModelUnderTest, data: Dataset, repeats: int = 50, rows: int = 100,
                  threads: int | None = None) -> dict[str, float]:
    """Python-heap memory still held after ``repeats`` predictions, measured with tracemalloc (MiB)."""
    frame = _features(model, data, rows)
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    try:
        with native_threads(threads):
            for _ in range(3):
                model.model.predict(frame)
            gc.collect()
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            for _ in range(repeats):
                model.model.predict(frame)
            gc.collect()
            after, peak = tracemalloc.get_traced_memory()
    finally:
        if started:
            tracemalloc.stop()
    return {"repeats": repeats, "rows": len(frame), "growth_mb": (after - before) / 2**20,
            "peak_mb": (peak - before) / 2**20}


def flip_rate(model: ModelUnderTest, data: Dataset, noise: float = 0.01, rows: int = 2000,
              seed: int = 0) -> tuple[float, list[dict[str, Any]]]:
    """Share of predictions that change when numeric features get Gaussian noise of ``noise`` x std.

    Returns the rate with all numeric features perturbed, and a table per perturbed feature.
    """
    frame = _features(model, data, rows)
    numeric = [c for c in frame.columns if is_numeric(frame[c])]
    rng = np.random.default_rng(seed)
    clean = np.asarray(model.model.predict(frame))

    def flips(columns: list[str]) -> float:
        noisy = frame.copy()
        for column in columns:
            values = noisy[column].to_numpy(dtype=float)
            noisy[column] = values + rng.normal(0, noise * (np.nanstd(values) or 1.0), len(values))
        return float(np.mean(np.asarray(model.model.predict(noisy)) != clean))

    table = [{"feature": c, "flip_rate": flips([c])} for c in numeric]
    return (flips(numeric) if numeric else 0.0), table


def input_behaviour(model: ModelUnderTest, data: Dataset, rows: int = 20) -> list[dict[str, Any]]:
    """What the model does in process with NaN in each numeric feature and an unseen category."""
    frame = _features(model, data, rows)
    table = []
    for column in frame.columns:
        case, value = ("nan", math.nan) if is_numeric(frame[column]) else ("unseen_category", UNSEEN)
        bad = frame.copy()
        bad[column] = value
        table.append({"feature": column, "case": case, **_behaviour(model.model, bad)})
    return table


def is_numeric(column: Any) -> bool:
    """Numbers, not booleans."""
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    return is_numeric_dtype(column) and not is_bool_dtype(column)


def _behaviour(model: Any, frame: Any) -> dict[str, Any]:
    try:
        out = np.asarray(model.predict(frame))
    except Exception as exc:  # the point is to see what the model does with bad input
        text = str(exc).splitlines()[0] if str(exc) else ""
        return {"result": "rejected", "detail": f"{type(exc).__name__}: {text}"[:160]}
    finite = bool(np.all(np.isfinite(out))) if out.dtype.kind in "fc" else not any(v is None for v in out.ravel())
    if not finite:
        return {"result": "silent_nan", "detail": "returned missing or non-finite predictions"}
    return {"result": "predicted", "detail": f"predictions {np.unique(out)[:5].tolist()}"}
