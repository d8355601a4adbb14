"""Staging: serve the candidate with the user's own command, load-test it and probe it with bad input.

Everything here talks to 127.0.0.1 only and stops whatever it started. The server contract is
small: ``GET <health>`` answers 200 once the model is loaded, and ``POST <predict>`` takes
``{"rows": [{feature: value, ...}, ...]}``. httpx, psutil and the server are the ``staging``
extra; this module is imported only by the gates that use it.
"""

from __future__ import annotations

import atexit
import json
import math
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pytest_mlgate.errors import ConfigError, MlgateError
from pytest_mlgate.serving.inprocess import UNSEEN

try:
    import httpx
    import psutil
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise MlgateError(f"staging gates need the staging extra ({exc.name} is missing): "
                      "pip install 'pytest-mlgate[staging]'") from None

if TYPE_CHECKING:
    from pytest_mlgate.evaluate.models import Dataset
    from pytest_mlgate.evaluate.workspace import Workspace

LOCAL_HOSTS = ("127.0.0.1", "localhost")
HISTOGRAM_EDGES_MS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
PR_SET_PDEATHSIG = 1  # linux/prctl.h


# ---------------------------------------------------------------- configuration


@dataclass(frozen=True)
class StagingConfig:
    """``[tool.mlgate.staging]``: how to start the server and the default size of a load run."""

    command: str | list[str] | None = None
    health: str = "/health"
    predict: str = "/predict"
    startup_timeout: float = 60.0
    shutdown_timeout: float = 5.0
    request_timeout: float = 10.0
    requests: int = 300
    concurrency: int = 8
    duration: float = 30.0
    rate: float | None = None


def _positive(kind: type) -> Any:
    def parse(key: str, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0 or \
                (kind is int and value != int(value)):
            word = "a positive integer" if kind is int else "a positive number"
            raise ConfigError(f"mlgate config: [tool.mlgate.staging] key '{key}' must be {word}, got {value!r}")
        return kind(value)
    return parse


def _path(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.startswith("/"):
        raise ConfigError(f"mlgate config: [tool.mlgate.staging] key '{key}' must be a URL path "
                          f"starting with '/', got {value!r}")
    return value


def _command(key: str, value: Any) -> str | list[str]:
    ok = (isinstance(value, str) and value.strip()) or \
        (isinstance(value, list) and value and all(isinstance(v, str) for v in value))
    if not ok:
        raise ConfigError(f"mlgate config: [tool.mlgate.staging] key '{key}' must be a command string "
                          f"or a list of arguments, got {value!r}")
    text = value if isinstance(value, str) else " ".join(value)
    if "{port}" not in text:
        raise ConfigError(f"mlgate config: [tool.mlgate.staging] key '{key}' must contain the {{port}} "
                          f"placeholder (and usually {{model}}), got {value!r}")
    return value


PARSERS = {
    "command": _command, "health": _path, "predict": _path,
    "startup_timeout": _positive(float), "shutdown_timeout": _positive(float),
    "request_timeout": _positive(float), "requests": _positive(int), "concurrency": _positive(int),
    "duration": _positive(float), "rate": _positive(float),
}


def staging_config(section: Mapping[str, Any]) -> StagingConfig:
    """Validate ``[tool.mlgate.staging]``; every bad key is a ConfigError naming it."""
    unknown = sorted(set(section) - set(PARSERS))
    if unknown:
        raise ConfigError(f"mlgate config: [tool.mlgate.staging] unknown key '{unknown[0]}' "
                          f"(known: {', '.join(PARSERS)})")
    return StagingConfig(**{key: PARSERS[key](key, value) for key, value in section.items()})


# ---------------------------------------------------------------- the server


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _argv(command: str | list[str], model: Path, port: int) -> list[str]:
    """The command's arguments with ``{model}``, ``{port}`` and ``{python}`` (this interpreter) filled in."""
    tokens = shlex.split(command) if isinstance(command, str) else list(command)
    values = {"{model}": str(model), "{port}": str(port), "{python}": sys.executable}
    for placeholder, value in values.items():
        tokens = [t.replace(placeholder, value) for t in tokens]
    return tokens


class StagingServer:
    """A running serving process on 127.0.0.1 with a small HTTP client; stop() ends its process group."""

    def __init__(self, config: StagingConfig, model: Path, cwd: Path, port: int | None = None):
        if config.command is None:
            raise MlgateError("staging: no serving command configured ([tool.mlgate.staging] command, "
                              "with {model} and {port} placeholders)")
        self.config = config
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.argv = _argv(config.command, model, self.port)
        fd, log = tempfile.mkstemp(prefix="mlgate-staging-", suffix=".log")
        self.log = Path(log)
        env = {**os.environ, "MLGATE_MODEL": str(model), "MLGATE_PORT": str(self.port)}
        try:
            self.process = subprocess.Popen(self.argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=fd,
                                            stderr=subprocess.STDOUT, start_new_session=True,
                                            preexec_fn=_die_with_parent())
        except OSError as exc:
            self.log.unlink(missing_ok=True)
            raise MlgateError(f"staging: cannot start {self.argv[0]!r}: {exc.strerror}") from None
        finally:
            os.close(fd)
        self._tree: list[psutil.Process] = []
        self._stopped = False
        self.client = httpx.Client(base_url=self.url, timeout=config.request_timeout)
        atexit.register(self.stop)

    def __repr__(self) -> str:
        return f"<StagingServer {self.url} pid {self.pid}>"

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def exit_code(self, wait: float = 0.0) -> int | None:
        """The server's exit code, waiting up to ``wait`` seconds for it to exit; None while it runs."""
        try:
            return self.process.wait(wait)
        except subprocess.TimeoutExpired:
            return None

    def wait_healthy(self) -> None:
        """Poll the health path until it answers 200; otherwise stop and raise with the output's tail."""
        deadline = time.monotonic() + self.config.startup_timeout
        while True:
            if not self.running:
                self._fail(f"exited with code {self.process.returncode} before becoming healthy")
            if self.healthy(timeout=1.0):
                return
            if time.monotonic() > deadline:
                self._fail(f"did not become healthy on {self.url}{self.config.health} within "
                           f"{self.config.startup_timeout:g}s")
            self._remember_tree()
            time.sleep(0.1)

    def healthy(self, timeout: float = 2.0) -> bool:
        """Whether the process runs and its health path answers 200."""
        if not self.running:
            return False
        try:
            return self.client.get(self.config.health, timeout=timeout).status_code == 200
        except httpx.HTTPError:
            return False

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.get(path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.post(path, **kwargs)

    def predict(self, rows: list[dict[str, Any]]) -> httpx.Response:
        """POST ``{"rows": rows}`` to the predict path."""
        return self.client.post(self.config.predict, json={"rows": rows})

    def tail(self, lines: int = 8, width: int = 600) -> str:
        """The last lines of the server's output, on one line."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return "(no output)"
        last = [line.strip() for line in text.strip().splitlines()[-lines:] if line.strip()]
        joined = " | ".join(last) or "(no output)"
        return joined if len(joined) <= width else "…" + joined[-width:]

    def tree(self) -> list[psutil.Process]:
        """The server process and its children (as far as they still run)."""
        self._remember_tree()
        return [p for p in self._tree if p.is_running()]

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL what is left after ``shutdown_timeout``; idempotent."""
        if self._stopped:
            return
        self._stopped = True
        atexit.unregister(self.stop)
        self._remember_tree()
        _signal_group(self.pid, signal.SIGTERM)  # also reaches children when the leader has already exited
        for proc in self._tree[1:]:  # and those that left the group
            try:
                proc.terminate()
            except psutil.NoSuchProcess:
                pass
        try:
            self.process.wait(self.config.shutdown_timeout)
        except subprocess.TimeoutExpired:
            _signal_group(self.pid, signal.SIGKILL)
            self.process.wait()
        _, alive = psutil.wait_procs(self._tree[1:], timeout=self.config.shutdown_timeout)
        _signal_group(self.pid, signal.SIGKILL)
        for proc in alive:
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(alive, timeout=self.config.shutdown_timeout)
        self.client.close()

    def close(self) -> None:
        """Stop the server and remove its output file."""
        self.stop()
        self.log.unlink(missing_ok=True)

    def _remember_tree(self) -> None:
        try:
            root = psutil.Process(self.pid)
            known = {p.pid for p in self._tree}
            self._tree = (self._tree or [root]) + [c for c in root.children(recursive=True) if c.pid not in known]
        except psutil.NoSuchProcess:
            pass

    def _fail(self, reason: str) -> None:
        self.stop()
        raise MlgateError(f"staging server {shlex.join(self.argv)!r} {reason}; output: {self.tail()}")


def _die_with_parent() -> Any:
    """On Linux, a pre-exec hook that has the kernel SIGTERM the server if this process dies unannounced
    (SIGKILL, a CI runner cancelling the job), when no fixture teardown or atexit hook can run."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved here: the hook runs between fork and exec
    return lambda: prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


@contextmanager
def serve(config: StagingConfig, model: Path, cwd: Path) -> Iterator[StagingServer]:
    """Start the server, wait until it is healthy, yield it, and always stop it."""
    server = StagingServer(config, model, cwd)
    try:
        server.wait_healthy()
        yield server
    finally:
        server.close()


@contextmanager
def serve_candidate(workspace: Workspace) -> Iterator[StagingServer]:
    """Serve the configured candidate artifact with ``[tool.mlgate.staging]`` command."""
    from pytest_mlgate.evaluate.sources import locate

    settings = workspace.settings
    config = staging_config(settings.section("staging"))
    spec = workspace.model_spec("candidate")
    if spec is None:
        raise MlgateError("candidate: no model configured ([tool.mlgate] candidate or --mlgate-candidate)")
    with serve(config, locate("candidate", spec, settings).path, settings.root) as server:
        yield server


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
