"""Staging gates: the example server under load and bad input, slow and crashing variants, cleanup."""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpcore  # noqa: F401 - imported here so pytester's inline runs do not unload it (httpx imports it lazily)
import psutil
import pytest

from pytest_mlgate.checks.staging import behaviour_check, load_checks, probe_check
from pytest_mlgate.errors import ConfigError, MlgateError
from pytest_mlgate.serving import load as ld
from pytest_mlgate.serving import staging as st

EXAMPLE = Path(__file__).resolve().parents[1] / "example_project"
SERVE = f"{{python}} {EXAMPLE / 'serve.py'} --model {{model}} --port {{port}} --schema train.parquet"

CRASH_ON_NAN_APP = f'''
import os, sys
from pathlib import Path
sys.path.insert(0, {str(EXAMPLE)!r})
import uvicorn
from serve import create_app


def crash_on_nan(app):
    """The example app, but the process dies on a request containing NaN (like a native crash)."""
    async def wrapped(scope, receive, send):
        if scope["type"] != "http" or scope["path"] != "/predict":
            return await app(scope, receive, send)
        first = [await receive()]
        if b"NaN" in first[0].get("body", b""):
            print("segfault-like crash on NaN input", flush=True)
            os._exit(3)

        async def replay():
            return first.pop() if first else await receive()
        return await app(scope, replay, send)
    return wrapped


uvicorn.run(crash_on_nan(create_app(Path(sys.argv[1]), Path("train.parquet"))), host="127.0.0.1",
            port=int(sys.argv[2]), log_level="warning")
'''

RECORD_PIDS = '''
import json
from pathlib import Path


def remember(staging):
    pids = [p.pid for p in staging.tree()]
    Path("pids.json").write_text(json.dumps(pids))
'''


def staging_table(command: str, **keys: object) -> str:
    keys = {"command": command, "startup_timeout": 60, "requests": 200, "concurrency": 4, **keys}
    lines = [f"{k} = {json.dumps(v)}" for k, v in keys.items()]
    return "[tool.mlgate.staging]\n" + "\n".join(lines) + "\n"


def gone(pid: int) -> bool:
    """No such process any more (a zombie waiting for an init that does not reap counts as gone)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def assert_stopped(path: Path) -> list[int]:
    pids = json.loads((path / "pids.json").read_text())
    assert pids, "the gate recorded no server pid"
    assert [p for p in pids if not gone(p)] == []
    return pids


def gate_checks(decision: dict, name: str) -> list[dict]:
    return next(g["checks"] for g in decision["gates"] if g["gate"].endswith(name))


# ---------------------------------------------------------------- end to end against the example server


def test_healthy_example_server_passes_load_probe_and_in_process_gates(project):
    project.configure(candidate="good.skops", extra=staging_table(SERVE))
    project.pytester.makepyfile(pids=RECORD_PIDS)
    project.gates("""
        from pids import remember

        def test_load(mlgate, staging):
            remember(staging)
            mlgate.load_test(staging, max_p95_ms=3000, max_p99_ms=5000, min_throughput=2, max_error_rate=0,
                             max_rss_mb=4000)

        def test_probes(mlgate, staging):
            mlgate.probe_server(staging)

        def test_in_process(mlgate):
            mlgate.predict_latency(batch_sizes=(1, 50), repeats=20, max_p95_ms={1: 500, 50: 1000}, threads=1)
            mlgate.memory_growth(repeats=20, max_growth_mb=5)
            mlgate.artifact_size(max_mb=5)
            mlgate.flip_rate(noise=0.01, max_rate=0.2)
            mlgate.input_behaviour()
    """)
    result = project.run()
    result.assert_outcomes(passed=3)
    decision = project.decision
    assert decision["decision"] == "approved"
    load = gate_checks(decision, "test_load")
    assert [c["name"] for c in load] == ["load error rate", "load p95 latency", "load p99 latency",
                                         "load throughput", "server peak RSS"]
    details = load[0]["details"]
    assert details["requests"] == 200 and details["ok"] == 200 and details["statuses"] == {"200": 200}
    assert sum(row["requests"] for row in details["table"]) == 200
    assert 0 < details["p50_ms"] <= details["p95_ms"] <= details["p99_ms"]
    assert details["server_peak_rss_mb"] > 10 and details["server_cpu_percent"] > 0
    probes = gate_checks(decision, "test_probes")[0]
    table = {row["probe"]: row for row in probes["details"]["table"]}
    assert table["valid"]["status"] == 200
    assert table["oversized_body"]["status"] == 413
    assert all(400 <= table[p]["status"] < 500 for p in ("missing_field", "wrong_type", "nan", "infinity",
                                                         "extreme_value", "empty_batch", "invalid_json"))
    # the test models use numeric features only: the unseen-category probe is listed, not silently dropped
    assert table["unseen_category"]["outcome"] == "not_applicable"
    assert probes["message"] == "all 11 probes answered as expected, server stayed up (not applicable: unseen_category)"
    names = [c["name"] for c in gate_checks(decision, "test_in_process")]
    assert names == ["predict p95 latency, batch 1", "predict p95 latency, batch 50", "memory growth over 20 predictions",
                     "artifact size", "prediction flip rate at 0.01 std noise", "bad-input behaviour"]
    latency = gate_checks(decision, "test_in_process")[0]["details"]["table"]
    assert [(row["batch"], row["threads"], row["repeats"]) for row in latency] == [(1, 1, 20), (50, 1, 20)]
    behaviour = gate_checks(decision, "test_in_process")[-1]["details"]["table"]
    assert {row["result"] for row in behaviour} == {"rejected"}  # LogisticRegression refuses NaN
    assert_stopped(project.path)


def test_slow_variant_fails_the_p95_gate(project):
    project.configure(candidate="good.skops", extra=staging_table(SERVE + " --delay-ms 150", requests=24))
    project.pytester.makepyfile(pids=RECORD_PIDS)
    project.gates("""
        from pids import remember

        def test_latency(mlgate, staging):
            remember(staging)
            mlgate.load_test(staging, max_p95_ms=100)
    """)
    result = project.run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*AssertionError: load p95 latency * ms > 100 ms"])
    check = gate_checks(project.decision, "test_latency")[1]
    assert check["outcome"] == "failed" and check["candidate"] >= 150
    assert project.decision["decision"] == "rejected"
    assert_stopped(project.path)


def test_server_that_crashes_on_nan_fails_the_probe_gate_naming_the_probe(project):
    project.pytester.makepyfile(crash_app=CRASH_ON_NAN_APP, pids=RECORD_PIDS)
    project.configure(candidate="good.skops",
                      extra=staging_table(f"{sys.executable} crash_app.py {{model}} {{port}}"))
    project.gates("""
        from pids import remember

        def test_probes(mlgate, staging):
            remember(staging)
            mlgate.probe_server(staging)
    """)
    result = project.run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*probe 'nan' ('income' NaN) got no answer, expected 4xx*server exited with code 3*"])
    check = gate_checks(project.decision, "test_probes")[0]
    table = {row["probe"]: row["outcome"] for row in check["details"]["table"]}
    assert table["missing_field"] == "passed" and table["nan"] == "failed" and table["infinity"] == "not_run"
    assert check["details"]["failed"][0] == "nan"
    assert project.decision["decision"] == "rejected"
    assert_stopped(project.path)


def test_server_that_never_starts_fails_closed_with_its_output(project):
    command = (f"{sys.executable} -c \"import json, os; open('pids.json', 'w').write(json.dumps([os.getpid()])); "
               f"print('cannot load model: corrupt file {{model}}'); raise SystemExit(4)\" {{port}}")
    project.configure(candidate="good.skops", extra=staging_table(command))
    project.gates("""
        def test_load(mlgate, staging):
            mlgate.load_test(staging)

        def test_probes(mlgate, staging):
            mlgate.probe_server(staging)
    """)
    result = project.run()
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*staging server*exited with code 4 before becoming healthy; "
                                 "output: cannot load model: corrupt file *good.skops*"])
    decision = project.decision
    assert decision["decision"] == "rejected"
    assert {g["outcome"] for g in decision["gates"]} == {"error"}
    assert_stopped(project.path)


def test_interrupted_run_stops_the_server(project):
    project.configure(extra=staging_table(f"{sys.executable} -m http.server {{port}} --bind 127.0.0.1", health="/"))
    project.pytester.makepyfile(pids=RECORD_PIDS)
    project.gates("""
        from pids import remember

        def test_interrupted(staging):
            remember(staging)
            raise KeyboardInterrupt
    """)
    result = project.pytester.runpytest("-p", "no:cacheprovider", no_reraise_ctrlc=True)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert project.decision["decision"] == "rejected"
    assert "run incomplete: interrupted" in project.decision["reasons"]
    assert_stopped(project.path)


def test_staging_without_a_command_is_a_gate_error(project):
    project.gates("""
        def test_load(mlgate, staging):
            mlgate.load_test(staging)

        def test_in_process(mlgate):
            mlgate.artifact_size(max_mb=0.000001)
    """)
    result = project.run()
    result.assert_outcomes(errors=1, failed=1)
    result.stdout.fnmatch_lines(["*staging: no serving command configured*", "*artifact size * MiB > 1e-06 MiB*"])


def test_in_process_gates_do_not_need_the_staging_extra():
    import subprocess

    code = ("import sys, pytest_mlgate.checks.staging; "
            "print(sorted(m for m in ('httpx', 'psutil', 'uvicorn', 'fastapi') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# ---------------------------------------------------------------- the server lifecycle


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux only")
def test_server_dies_with_a_killed_gate_run(project):
    import time

    project.configure(extra=staging_table(f"{sys.executable} -m http.server {{port}} --bind 127.0.0.1", health="/"))
    project.pytester.makepyfile(pids=RECORD_PIDS)
    project.gates("""
        import os, signal
        from pids import remember

        def test_killed(staging):
            remember(staging)
            os.kill(os.getpid(), signal.SIGKILL)  # no teardown, no atexit
    """)
    result = project.run_subprocess()
    assert result.ret == -signal.SIGKILL
    pid = json.loads((project.path / "pids.json").read_text())[0]
    deadline = time.monotonic() + 10
    while not gone(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert gone(pid)


def test_never_healthy_server_is_stopped_with_its_children(tmp_path):
    # one child stays in the server's process group, one leaves it (its own session)
    script = ("import subprocess, sys, time; sleep = [sys.executable, '-c', 'import time; time.sleep(60)']; "
              "kids = [subprocess.Popen(sleep), subprocess.Popen(sleep, start_new_session=True)]; "
              "open('child.pid', 'w').write(' '.join(str(k.pid) for k in kids)); print('still loading', flush=True); "
              "time.sleep(60)")
    config = st.StagingConfig(command=[sys.executable, "-c", script, "{port}"], startup_timeout=2)
    server = st.StagingServer(config, tmp_path / "model.skops", tmp_path)
    with pytest.raises(MlgateError, match=r"did not become healthy on http://127\.0\.0\.1:\d+/health within 2s; "
                                          r"output: still loading"):
        server.wait_healthy()
    children = [int(pid) for pid in (tmp_path / "child.pid").read_text().split()]
    assert len(children) == 2
    assert gone(server.pid) and all(gone(child) for child in children)
    server.close()
    assert not server.log.exists()


def test_serve_stops_the_server_when_the_body_raises(tmp_path):
    config = st.StagingConfig(command=f"{sys.executable} -m http.server {{port}} --bind 127.0.0.1", health="/")
    with pytest.raises(RuntimeError, match="gate crashed"):
        with st.serve(config, tmp_path / "m", tmp_path) as server:
            assert server.healthy()
            pid = server.pid
            raise RuntimeError("gate crashed")
    assert gone(pid)


@pytest.mark.parametrize("allow", [False, True], ids=["refused", "allow_external"])
def test_a_server_listening_beyond_loopback_fails_unless_allowed(tmp_path, allow):
    config = st.StagingConfig(command=f"{sys.executable} -m http.server {{port}} --bind 0.0.0.0", health="/",
                              allow_external=allow)
    if allow:
        with st.serve(config, tmp_path / "m", tmp_path) as server:
            assert server.healthy() and server.external_listeners() == [f"0.0.0.0:{server.port}"]
        return
    with pytest.raises(MlgateError, match=r"listens on 0\.0\.0\.0:\d+, not only on loopback \(bind 127\.0\.0\.1, "
                                          r"or set \[tool\.mlgate\.staging\] allow_external = true\)"):
        with st.serve(config, tmp_path / "m", tmp_path):
            pass


def test_missing_executable_is_one_line(tmp_path):
    config = st.StagingConfig(command="no-such-server-binary-xyz --port {port}")
    with pytest.raises(MlgateError, match="staging: cannot start 'no-such-server-binary-xyz'"):
        st.StagingServer(config, tmp_path / "m", tmp_path)


@pytest.mark.parametrize(("section", "message"), [
    ({"commmand": "x {port}"}, "unknown key 'commmand'"),
    ({"command": "serve --model {model}"}, "key 'command' must contain the {port} placeholder"),
    ({"command": ""}, "key 'command' must be a command string"),
    ({"requests": 0}, "key 'requests' must be a positive integer"),
    ({"concurrency": 2.5}, "key 'concurrency' must be a positive integer"),
    ({"startup_timeout": "soon"}, "key 'startup_timeout' must be a positive number"),
    ({"health": "health"}, "key 'health' must be a URL path"),
])
def test_config_errors_name_the_key(section, message):
    with pytest.raises(ConfigError, match=r"\[tool\.mlgate\.staging\] " + message.replace("{", r"\{")
                       .replace("}", r"\}")):
        st.staging_config(section)


def test_config_values_are_parsed():
    config = st.staging_config({"command": ["serve", "{port}"], "requests": 50, "rate": 20, "duration": 3})
    assert (config.requests, config.rate, config.duration, config.concurrency) == (50, 20.0, 3.0, 8)
    assert st._argv("{python} srv.py --m {model} --p {port}", Path("/a b/m.skops"), 81) == \
        [sys.executable, "srv.py", "--m", "/a b/m.skops", "--p", "81"]


# ---------------------------------------------------------------- the load generator


class _Echo(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        body = self.rfile.read(int(self.headers["content-length"]))
        status = 500 if b"fail" in body else 200
        self.send_response(status)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def echo_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_load_is_bounded_by_request_count_and_counts_errors(echo_url):
    result = ld.run_load(echo_url, "/p", [b"{}", b"{}", b"{}", b'"fail"'], requests=40, concurrency=4, duration=30)
    assert result.sent == 40 and result.ok == 30
    assert result.statuses == {"200": 30, "500": 10}
    assert result.error_rate == pytest.approx(0.25)
    assert len(result.latencies_ms) == 40 and result.throughput > 0


def test_load_is_bounded_by_time_and_target_rate(echo_url):
    result = ld.run_load(echo_url, "/p", [b"{}"], requests=10_000, concurrency=4, duration=0.5, rate=20)
    # 20 requests/s for half a second: at most 10 requests (fewer if the machine is slow), not 10,000
    assert 5 <= result.sent <= 10
    assert result.elapsed_s < 1.5


def test_load_only_targets_localhost():
    with pytest.raises(MlgateError, match="127.0.0.1 only, not 'example.org'"):
        ld.run_load("http://example.org", "/p", [b"{}"], requests=1, concurrency=1, duration=1)


def test_transport_errors_count_as_errors():
    port = st.free_port()  # nothing listens there
    result = ld.run_load(f"http://127.0.0.1:{port}", "/p", [b"{}"], requests=5, concurrency=2, duration=5)
    assert result.sent == 5 and result.ok == 0 and result.error_rate == 1.0
    assert sum(result.transport_errors.values()) == 5


# ---------------------------------------------------------------- judging the measurements


def _result(latencies: list[float], statuses: dict[str, int]) -> ld.LoadResult:
    return ld.LoadResult(latencies, statuses, {}, elapsed_s=2.0, concurrency=4,
                         resources={"server_peak_rss_mb": 120.0, "server_cpu_percent": 80.0})


def test_load_checks_judge_each_limit_with_numbers():
    result = _result([10.0] * 90 + [300.0] * 10, {"200": 98, "503": 2})
    checks = {c.name: c for c in load_checks(result, max_p50_ms=20, max_p95_ms=100, min_throughput=40,
                                             max_error_rate=0.05, max_rss_mb=100, max_cpu_percent=90)}
    assert checks["load p50 latency"].outcome == "passed"
    assert checks["load p95 latency"].outcome == "failed"
    assert checks["load p95 latency"].message == "load p95 latency 300 ms > 100 ms"
    assert checks["load throughput"].outcome == "passed" and checks["load throughput"].candidate == 49
    assert checks["load error rate"].outcome == "passed"
    assert "2 of 100 requests; statuses {'200': 98, '503': 2}" in checks["load error rate"].message
    assert checks["server peak RSS"].message == "server peak RSS 120 MiB > 100 MiB"
    assert checks["server CPU"].outcome == "passed" and checks["server CPU"].threshold == "<= 90 %"
    assert "load p99 latency" not in checks  # no limit given, no check
    assert checks["load error rate"].details["table"] == [{"le_ms": "10", "requests": 90},
                                                          {"le_ms": "500", "requests": 10}]
    json.dumps(checks["load error rate"].to_dict())


def test_probe_check_names_failed_and_skipped_probes():
    table = [
        {"probe": "valid", "request": "ok row", "expect": "2xx", "status": 200, "server_up": True,
         "outcome": "passed", "detail": ""},
        {"probe": "nan", "request": "'x' NaN", "expect": "4xx", "status": 500, "server_up": True,
         "outcome": "failed", "detail": "Internal Server Error"},
        {"probe": "infinity", "request": "'x' Infinity", "expect": "4xx", "status": None, "server_up": False,
         "outcome": "failed", "detail": "server exited with code 1"},
        {"probe": "empty_batch", "request": "no rows", "expect": "4xx", "status": None, "server_up": False,
         "outcome": "not_run", "detail": "server down"},
    ]
    check = probe_check(table)
    assert check.outcome == "failed" and check.candidate == 3
    assert check.message == ("probe 'nan' ('x' NaN) got HTTP 500, expected 4xx; probe 'infinity' ('x' Infinity) "
                             "got no answer, expected 4xx; server exited with code 1; 1 probe(s) not run: empty_batch")
    assert probe_check(table[:1]).outcome == "passed"


def test_probe_battery_builds_each_malformed_request():
    row = {"income": 1.5, "region": "north"}
    probes = {p.name: p for p in ld.probe_battery(row, ["region"], oversize_bytes=4096)}
    assert json.loads(probes["missing_field"].body) == {"rows": [{"region": "north"}]}
    assert probes["nan"].body == b'{"rows": [{"income": NaN, "region": "north"}]}'
    assert probes["infinity"].body == b'{"rows": [{"income": Infinity, "region": "north"}]}'
    assert json.loads(probes["unseen_category"].body)["rows"][0]["region"] == ld.UNSEEN
    assert len(probes["oversized_body"].body) > 4096
    assert probes["valid"].accept == ("2",) and probes["nan"].accept == ("4",)
    with pytest.raises(json.JSONDecodeError):
        json.loads(probes["invalid_json"].body)
    assert ld.probe_battery({"income": 1.0}, [])[7].body is None  # no categorical column


def test_requests_use_complete_rows_of_the_model_features():
    import numpy as np
    import pandas as pd

    from pytest_mlgate.evaluate.models import Dataset

    class Model:
        feature_names_in_ = np.array(["a", "b"])

    frame = pd.DataFrame({"a": [np.nan, 2.0, 3.0], "b": ["x", "y", None], "target": [0, 1, 0]})
    assert ld.feature_rows(Model(), Dataset("d", frame, "target")) == [{"a": 2.0, "b": "y"}]
    assert ld.bodies([{"a": 1}, {"a": 2}, {"a": 3}], batch=2) == [b'{"rows": [{"a": 1}, {"a": 2}]}',
                                                                 b'{"rows": [{"a": 3}, {"a": 1}]}']
    with pytest.raises(MlgateError, match="dataset 'd' has no row without missing values"):
        ld.feature_rows(Model(), Dataset("d", frame.iloc[[0, 2]], "target"))


def test_probe_that_kills_the_server_stops_the_battery(tmp_path):
    config = st.StagingConfig(command=f"{sys.executable} -m http.server {{port}} --bind 127.0.0.1", health="/")
    with st.serve(config, tmp_path / "m", tmp_path) as server:
        probes = [ld.Probe("valid", "control", b"{}", ("2", "4", "5")), ld.Probe("kill", "kill", b"{}"),
                  ld.Probe("after", "after", b"{}")]
        server.process.kill()
        server.process.wait()
        table = ld.run_probes(server, probes)
    assert [r["outcome"] for r in table] == ["failed", "not_run", "not_run"]
    assert "server exited with code -9" in table[0]["detail"]


def test_behaviour_check_fails_only_on_silent_non_finite_output():
    rows = [{"feature": "a", "case": "nan", "result": "rejected", "detail": "ValueError"},
            {"feature": "b", "case": "nan", "result": "silent_nan", "detail": "returned non-finite"}]
    assert behaviour_check(rows[:1], "holdout").outcome == "passed"
    failed = behaviour_check(rows, "holdout")
    assert failed.outcome == "failed" and failed.message == "model returns non-finite predictions for b nan"
