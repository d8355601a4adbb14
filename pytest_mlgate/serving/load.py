"""Load and probes against a staging server: request bodies, the threaded load generator, resource sampling, bad-input probes.

Everything here talks to 127.0.0.1 only."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from pytest_mlgate.errors import MlgateError
from pytest_mlgate.serving.inprocess import UNSEEN
from pytest_mlgate.serving.staging import LOCAL_HOSTS, StagingServer

try:
    import httpx
    import psutil
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise MlgateError(f"staging gates need the staging extra ({exc.name} is missing): "
                      "pip install 'pytest-mlgate[staging]'") from None

if TYPE_CHECKING:
    from pytest_mlgate.evaluate.models import Dataset

HISTOGRAM_EDGES_MS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)


# ---------------------------------------------------------------- request bodies


def feature_rows(model: Any, data: Dataset, role: str = "candidate", limit: int = 200) -> list[dict[str, Any]]:
    """Up to ``limit`` complete rows (no missing values) of the model's features as JSON-ready dicts."""
    frame = data.features_for(model, role).dropna().head(limit)
    if frame.empty:
        raise MlgateError(f"staging: dataset '{data.name}' has no row without missing values to send")
    return json.loads(frame.to_json(orient="records"))


def bodies(rows: list[dict[str, Any]], batch: int = 1) -> list[bytes]:
    """Request bodies of ``batch`` consecutive rows each."""
    if not rows:
        raise MlgateError("staging: no rows to send (the dataset is empty)")
    return [json.dumps({"rows": [rows[(i + k) % len(rows)] for k in range(batch)]}).encode()
            for i in range(0, len(rows), batch)]


# ---------------------------------------------------------------- load generation


@dataclass
class LoadResult:
    """What a load run measured: one latency per answered request, status counts, transport errors."""

    latencies_ms: list[float]
    statuses: dict[str, int]
    transport_errors: dict[str, int]
    elapsed_s: float
    concurrency: int
    rate: float | None = None
    resources: dict[str, float] = field(default_factory=dict)

    @property
    def sent(self) -> int:
        return sum(self.statuses.values()) + sum(self.transport_errors.values())

    @property
    def ok(self) -> int:
        return sum(n for s, n in self.statuses.items() if s.startswith("2"))

    @property
    def error_rate(self) -> float:
        return (self.sent - self.ok) / self.sent if self.sent else 1.0

    @property
    def throughput(self) -> float:
        """Successful requests per second."""
        return self.ok / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else math.inf

    def histogram(self) -> list[dict[str, Any]]:
        """Latency counts per bucket (``le_ms`` is the bucket's upper edge)."""
        slots = np.searchsorted(HISTOGRAM_EDGES_MS, self.latencies_ms, side="left")
        counts = np.bincount(slots, minlength=len(HISTOGRAM_EDGES_MS) + 1)
        edges = [*(str(e) for e in HISTOGRAM_EDGES_MS), "inf"]
        return [{"le_ms": e, "requests": int(n)} for e, n in zip(edges, counts) if n]

    def summary(self) -> dict[str, Any]:
        return {
            "requests": self.sent, "ok": self.ok, "elapsed_s": self.elapsed_s, "concurrency": self.concurrency,
            "target_rate": self.rate, "throughput_rps": self.throughput, "error_rate": self.error_rate,
            "p50_ms": self.percentile(50), "p95_ms": self.percentile(95), "p99_ms": self.percentile(99),
            "statuses": dict(self.statuses), "transport_errors": dict(self.transport_errors), **self.resources,
        }


def _local(url: str) -> str:
    host = httpx.URL(url).host
    if host not in LOCAL_HOSTS:
        raise MlgateError(f"staging: load and probes go to 127.0.0.1 only, not {host!r}")
    return url


def run_load(url: str, path: str, payloads: Sequence[bytes], *, requests: int, concurrency: int,
             duration: float, rate: float | None = None, timeout: float = 10.0) -> LoadResult:
    """POST ``payloads`` (cycled) to ``url + path`` from ``concurrency`` client threads.

    Stops after ``requests`` requests or ``duration`` seconds, whichever comes first; with
    ``rate`` (requests/s) request i is not sent before ``i / rate`` seconds into the run. Each
    thread keeps its own ``httpx.Client`` (a pooled keep-alive connection): in measurements this
    sustains about twice the rate of ``httpx.AsyncClient`` on asyncio (see the benchmark).
    """
    if not payloads:
        raise MlgateError("staging: no request bodies for the load run")
    _local(url)
    result = LoadResult([], {}, {}, 0.0, concurrency, rate)
    counter, lock = iter(range(requests)), threading.Lock()
    start = time.perf_counter()

    def next_index() -> int | None:
        with lock:
            i = next(counter, None)
        if i is not None and rate is not None:
            time.sleep(max(0.0, start + i / rate - time.perf_counter()))
        return None if i is None or time.perf_counter() - start >= duration else i

    def worker() -> None:
        with httpx.Client(base_url=url, timeout=timeout, headers={"content-type": "application/json"}) as client:
            while (i := next_index()) is not None:
                sent = time.perf_counter()
                try:
                    response = client.post(path, content=payloads[i % len(payloads)])
                except httpx.HTTPError as exc:
                    with lock:
                        _count(result.transport_errors, type(exc).__name__)
                    continue
                elapsed = (time.perf_counter() - sent) * 1000
                with lock:
                    result.latencies_ms.append(elapsed)
                    _count(result.statuses, str(response.status_code))

    threads = [threading.Thread(target=worker, name=f"mlgate-load-{n}", daemon=True) for n in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.elapsed_s = time.perf_counter() - start
    return result


def _count(counts: dict[str, int], key: str) -> None:
    counts[key] = counts.get(key, 0) + 1


class ResourceMonitor:
    """Samples a process tree's resident memory in a thread; CPU from its CPU times over the run."""

    def __init__(self, server: StagingServer, interval: float = 0.05):
        self.server = server
        self.interval = interval
        self.peak_rss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="mlgate-resources", daemon=True)

    def __enter__(self) -> ResourceMonitor:
        self._cpu0, self._t0 = self._cpu(), time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.cpu_percent = (self._cpu() - self._cpu0) / max(time.perf_counter() - self._t0, 1e-9) * 100

    def result(self) -> dict[str, float]:
        return {"server_peak_rss_mb": self.peak_rss / 2**20, "server_cpu_percent": self.cpu_percent}

    def _cpu(self) -> float:
        total = 0.0
        for proc in self.server.tree():
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.Error:
                pass
        return total

    def _sample(self) -> None:
        while True:
            rss = 0
            for proc in self.server.tree():
                try:
                    rss += proc.memory_info().rss
                except psutil.Error:
                    pass
            self.peak_rss = max(self.peak_rss, rss)
            if self._stop.wait(self.interval):
                return


def load_test(server: StagingServer, payloads: Sequence[bytes], *, requests: int | None = None,
              concurrency: int | None = None, duration: float | None = None,
              rate: float | None = None) -> LoadResult:
    """A bounded load run against the server's predict path, with the server's resource use."""
    c = server.config
    with ResourceMonitor(server) as monitor:
        result = run_load(server.url, c.predict, payloads, requests=requests or c.requests,
                          concurrency=concurrency or c.concurrency, duration=duration or c.duration,
                          rate=rate if rate is not None else c.rate, timeout=c.request_timeout)
    result.resources = monitor.result()
    return result


# ---------------------------------------------------------------- probes


@dataclass(frozen=True)
class Probe:
    """One malformed (or control) request and the answers that are acceptable."""

    name: str
    description: str
    body: bytes | None
    accept: tuple[str, ...] = ("4",)


def probe_battery(row: dict[str, Any], categorical: Sequence[str], oversize_bytes: int = 2**20) -> list[Probe]:
    """A valid control request, then the malformed ones; ``body`` None means not applicable."""
    numeric = [k for k, v in row.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    num = numeric[0] if numeric else None
    cat = next((c for c in categorical if c in row), None)

    def body(payload: Any) -> bytes:
        return json.dumps(payload, allow_nan=True).encode()

    def with_value(column: str | None, value: Any) -> bytes | None:
        return None if column is None else body({"rows": [{**row, column: value}]})

    first = next(iter(row), None)
    big = body({"rows": [row] * (oversize_bytes // max(len(body(row)), 1) + 1)})
    return [
        Probe("valid", "a well-formed row (control)", body({"rows": [row]}), ("2",)),
        Probe("missing_field", f"row without '{first}'", body({"rows": [{k: v for k, v in row.items() if k != first}]})),
        Probe("wrong_type", f"'{num}' as a string", with_value(num, "not-a-number")),
        Probe("null_value", f"'{num}' null", with_value(num, None)),
        Probe("nan", f"'{num}' NaN", with_value(num, math.nan)),
        Probe("infinity", f"'{num}' Infinity", with_value(num, math.inf)),
        Probe("extreme_value", f"'{num}' 1e308", with_value(num, 1e308)),
        Probe("unseen_category", f"'{cat}' = {UNSEEN!r}", with_value(cat, UNSEEN)),
        Probe("empty_batch", "no rows", body({"rows": []})),
        Probe("wrong_shape", "rows is a string", body({"rows": "x"})),
        Probe("invalid_json", "a truncated JSON document", b'{"rows": [{'),
        Probe("oversized_body", f"{len(big) / 2**20:.1f} MiB of rows", big),
    ]


def run_probes(server: StagingServer, probes: Sequence[Probe]) -> list[dict[str, Any]]:
    """Send each probe; a probe passes when answered with an accepted status and the server stays up."""
    table, down = [], None
    for probe in probes:
        row = {"probe": probe.name, "request": probe.description, "expect": "/".join(f"{a}xx" for a in probe.accept)}
        if probe.body is None:
            table.append({**row, "status": None, "server_up": None, "outcome": "not_applicable",
                          "detail": "no column of that kind in the request row"})
            continue
        if down is not None:
            table.append({**row, "status": None, "server_up": False, "outcome": "not_run",
                          "detail": f"server down since probe '{down}'"})
            continue
        status, detail = _send(server, probe.body)
        up = server.healthy()
        ok = up and status is not None and str(status)[0] in probe.accept
        if not up:
            down = probe.name
            code = server.exit_code(wait=2.0)
            detail = (detail + "; " if detail else "") + (
                f"server exited with code {code}" if code is not None else "server stopped answering its health check")
        table.append({**row, "status": status, "server_up": up, "outcome": "passed" if ok else "failed",
                      "detail": detail})
    return table


def _send(server: StagingServer, body: bytes) -> tuple[int | None, str]:
    try:
        response = server.post(server.config.predict, content=body, headers={"content-type": "application/json"})
    except httpx.HTTPError as exc:
        return None, f"no answer: {type(exc).__name__}"
    return response.status_code, response.text[:120].replace("\n", " ")
