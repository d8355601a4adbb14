"""Staging: serve the candidate with the user's own command on 127.0.0.1 (load and probes: :mod:`.load`).

Everything here talks to 127.0.0.1 only and stops whatever it started. The server contract is
small: ``GET <health>`` answers 200 once the model is loaded, and ``POST <predict>`` takes
``{"rows": [{feature: value, ...}, ...]}``. httpx, psutil and the server are the ``staging``
extra; this module is imported only by the gates that use it.
"""

from __future__ import annotations

import atexit
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_mlgate.errors import ConfigError, MlgateError

try:
    import httpx
    import psutil
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise MlgateError(f"staging gates need the staging extra ({exc.name} is missing): "
                      "pip install 'pytest-mlgate[staging]'") from None

if TYPE_CHECKING:
    from pytest_mlgate.evaluate.workspace import Workspace

LOCAL_HOSTS = ("127.0.0.1", "localhost")
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
    allow_external: bool = False


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
    "duration": _positive(float), "rate": _positive(float), "allow_external": lambda key, value: _flag(key, value),
}


def _flag(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"mlgate config: [tool.mlgate.staging] key '{key}' must be true or false, got {value!r}")
    return value


def staging_config(section: Mapping[str, Any]) -> StagingConfig:
    """Validate ``[tool.mlgate.staging]``; every bad key is a ConfigError naming it."""
    unknown = sorted(set(section) - set(PARSERS))
    if unknown:
        raise ConfigError(f"mlgate config: [tool.mlgate.staging] unknown key '{unknown[0]}' "
                          f"(known: {', '.join(PARSERS)})")
    return StagingConfig(**{key: PARSERS[key](key, value) for key, value in section.items()})


def _loopback(ip: str) -> bool:
    import ipaddress

    address = ipaddress.ip_address(ip.split("%", 1)[0])
    return address.is_loopback or getattr(address, "ipv4_mapped", None) is not None and address.ipv4_mapped.is_loopback


def validate(settings: Any) -> StagingConfig:
    """``[tool.mlgate.staging]`` of the settings, validated (before any gate runs)."""
    return staging_config(settings.section("staging"))


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
                self._remember_tree()
                self._check_loopback()
                return
            if time.monotonic() > deadline:
                self._fail(f"did not become healthy on {self.url}{self.config.health} within "
                           f"{self.config.startup_timeout:g}s")
            self._remember_tree()
            time.sleep(0.1)

    def external_listeners(self) -> list[str]:
        """Listening sockets of the server's processes bound to anything but loopback (``ip:port``)."""
        found = []
        for proc in self._tree or []:
            try:
                connections = proc.net_connections(kind="inet")
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            for conn in connections:
                if conn.status == psutil.CONN_LISTEN and not _loopback(conn.laddr.ip):
                    found.append(f"{conn.laddr.ip}:{conn.laddr.port}")
        return sorted(set(found))

    def _check_loopback(self) -> None:
        external = self.external_listeners()
        if external and not self.config.allow_external:
            self._fail(f"listens on {', '.join(external)}, not only on loopback (bind 127.0.0.1, or set "
                       "[tool.mlgate.staging] allow_external = true)")

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
