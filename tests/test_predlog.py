"""The prediction log: logging, windows, labels, concurrent readers and a killed writer."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from contextlib import closing
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import fit, make_frame

from pytest_mlgate.errors import MlgateError
from pytest_mlgate.monitoring import predlog, window

FEATURES = ["income", "debt", "age", "tenure"]
NOW = 1_790_000_000.0  # a fixed "now" (2026-09) so windows do not depend on the clock


@pytest.fixture(scope="module")
def model():
    return fit(make_frame(800, seed=3), FEATURES)


@pytest.fixture
def rows():
    return make_frame(120, seed=4)


def _log(model, path, frame, *, start=NOW - 3600, step=10.0, version="v1", ids=None):
    with predlog.PredictionLogger(model, path, version=version, sha256="ab" * 32) as logger:
        for i in range(len(frame)):
            logger.predict(frame.iloc[[i]][FEATURES], request_id=ids[i] if ids else f"r{i}",
                           timestamp=start + i * step)


def test_logged_rows_read_back_with_features_outputs_and_metadata(tmp_path, model, rows):
    path = tmp_path / "log.sqlite"
    _log(model, path, rows)
    frame = window.read_window(path, end=NOW, target="defaulted")
    assert len(frame) == len(rows)
    assert frame["request_id"].tolist() == [f"r{i}" for i in range(len(rows))]
    np.testing.assert_allclose(frame[FEATURES].to_numpy(), rows[FEATURES].to_numpy())
    assert frame["prediction"].tolist() == model.predict(rows[FEATURES]).tolist()
    assert set(frame["model_version"]) == {"v1"} and set(frame["model_sha256"]) == {"ab" * 32}
    assert (frame["latency_ms"] > 0).all() and frame["error"].isna().all()
    assert frame["defaulted"].isna().all()  # no labels yet
    assert frame["timestamp"].iloc[1] - frame["timestamp"].iloc[0] == pd.Timedelta(seconds=10)


def test_batch_predict_logs_one_row_per_input_row(tmp_path, model, rows):
    path = tmp_path / "log.sqlite"
    with predlog.PredictionLogger(model, path, method="predict_proba") as logger:
        proba = logger.predict(rows[FEATURES].iloc[:5], request_id=list("abcde"), timestamp=NOW - 1)
        with pytest.raises(MlgateError, match="2 request ids for 5 rows"):
            logger.predict(rows[FEATURES].iloc[:5], request_id=["x", "y"])
    frame = window.read_window(path, end=NOW)
    assert frame["request_id"].tolist() == list("abcde")
    np.testing.assert_allclose(np.array(frame["prediction"].tolist()), proba)


def test_window_start_end_and_model_filters(tmp_path, model, rows):
    path = tmp_path / "log.sqlite"
    _log(model, path, rows.iloc[:60], start=NOW - 3 * 86400, step=60, version="v1")
    _log(model, path, rows.iloc[60:], start=NOW - 3600, step=10, version="v2", ids=[f"n{i}" for i in range(60)])
    assert len(window.read_window(path, window="24h", end=NOW)) == 60
    assert len(window.read_window(path, window="7d", end=NOW)) == 120
    assert len(window.read_window(path, window="30m", end=NOW)) == 0
    old = window.read_window(path, start=NOW - 4 * 86400, end="2026-09-20T00:00:00Z")
    assert set(old["model_version"]) == {"v1"} and len(old) == 60
    assert len(window.read_window(path, window="7d", end=NOW, model_version="v2")) == 60


def test_labels_join_by_request_id(tmp_path, model, rows):
    path = tmp_path / "log.sqlite"
    _log(model, path, rows)
    labels = pd.DataFrame({"request_id": [f"r{i}" for i in range(0, 120, 2)] + ["ghost"],
                           "defaulted": rows["defaulted"].iloc[::2].tolist() + [1]})
    counts = window.add_labels(path, labels, label_column="defaulted")
    assert counts == {"labels": 61, "matched": 60, "unknown": 1}
    frame = window.read_window(path, end=NOW, target="defaulted", labelled=True)
    assert frame["request_id"].tolist() == [f"r{i}" for i in range(0, 120, 2)]
    assert frame["defaulted"].tolist() == rows["defaulted"].iloc[::2].tolist()
    with pytest.raises(MlgateError, match="labels: column 'label' not found"):
        window.add_labels(path, labels)


def test_model_error_is_logged_and_raised(tmp_path, rows):
    class Broken:
        def predict(self, frame):
            raise ValueError("bad input")

    path = tmp_path / "log.sqlite"
    with predlog.PredictionLogger(Broken(), path) as logger, pytest.raises(ValueError, match="bad input"):
        logger.predict(rows[FEATURES].iloc[:1], request_id="boom", timestamp=NOW - 5)
    frame = window.read_window(path, end=NOW)
    assert frame["error"].tolist() == ["ValueError('bad input')"]
    assert frame["prediction"].isna().all()


def test_readers_see_a_consistent_log_while_the_writer_writes(tmp_path, model, rows):
    path = tmp_path / "log.sqlite"
    frame = pd.concat([rows[FEATURES]] * 5, ignore_index=True)
    seen, failures = [], []

    def read() -> None:
        while len(seen) < 200 and (not seen or seen[-1] < len(frame)):
            try:
                seen.append(len(window.read_window(path, end=NOW)))
            except Exception as exc:  # pragma: no cover - reported below
                failures.append(exc)
                return

    with predlog.PredictionLogger(model, path) as logger:
        reader = threading.Thread(target=read)
        reader.start()
        for i in range(len(frame)):
            logger.predict(frame.iloc[[i]], request_id=f"r{i}", timestamp=NOW - 100)
    reader.join(timeout=60)
    assert not failures
    assert seen == sorted(seen)  # counts only grow: readers never see half a batch undone
    assert len(window.read_window(path, end=NOW)) == len(frame)


WRITER = textwrap.dedent("""
    import sys, time
    from pytest_mlgate.monitoring.predlog import PredictionLogger

    class Model:
        def predict(self, rows):
            return [r["x"] * 2 for r in rows]

    logger = PredictionLogger(Model(), sys.argv[1], flush_interval=0.01)
    i = 0
    while True:
        logger.predict([{"x": float(i), "text": "y" * 200}], request_id=f"r{i}", timestamp=1000.0 + i)
        i += 1
        if i == 2000:
            logger.flush()
            print("ready", flush=True)
""")


def test_a_writer_killed_mid_write_leaves_a_readable_log(tmp_path):
    path = tmp_path / "log.sqlite"
    with subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True) as writer:
        try:
            assert writer.stdout.readline().strip() == "ready"
            time.sleep(0.3)  # let it get well into further batches
        finally:
            writer.send_signal(signal.SIGKILL)
            writer.wait(timeout=30)
    assert writer.returncode == -signal.SIGKILL
    frame = window.read_window(path, start=0, end=10**10)
    assert len(frame) >= 2000
    # whole rows only, in order, and values intact
    assert frame["request_id"].tolist() == [f"r{i}" for i in range(len(frame))]
    assert frame["prediction"].tolist() == [2.0 * i for i in range(len(frame))]
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    window.add_labels(path, pd.DataFrame({"request_id": ["r0"], "label": [1]}))  # still writable


def test_specs_durations_and_missing_files(tmp_path):
    assert window.parse_spec("predlog:logs/p.sqlite?window=24h&labelled=1") == (
        "logs/p.sqlite", {"window": "24h", "labelled": "1"})
    assert window.parse_duration("90s") == 90 and window.parse_duration("2d") == 172800
    with pytest.raises(MlgateError, match="unknown \\['windw'\\]"):
        window.parse_spec("predlog:p.sqlite?windw=24h")
    with pytest.raises(MlgateError, match="bad duration '24 hours'"):
        window.parse_duration("24 hours")
    with pytest.raises(MlgateError, match="bad time 'yesterday'"):
        window.parse_time("yesterday")
    with pytest.raises(MlgateError, match="prediction log .*missing.sqlite: file not found"):
        window.read_window(tmp_path / "missing.sqlite", window="1h")


def test_window_is_a_dataset_in_a_gate_run(project, model, rows):
    log = project.path / "predictions.sqlite"
    _log(model, log, rows, start=NOW - 7200, step=60)  # one row a minute for two hours
    window.add_labels(log, pd.DataFrame({"request_id": [f"r{i}" for i in range(50)],
                                          "defaulted": rows["defaulted"][:50]}), label_column="defaulted")
    project.configure(datasets='holdout = "holdout.csv"\n'
                               f'current = "predlog:predictions.sqlite?window=1h&end={NOW}"\n'
                               f'labelled = "predlog:predictions.sqlite?window=1d&end={NOW}&labelled=1"')
    project.gates("""
def test_window(current, labelled):
    assert len(current) == 60
    assert current.frame["request_id"].iloc[0] == "r60"
    assert len(labelled) == 50 and labelled.y.sum() == %d
""" % int(rows["defaulted"][:50].sum()))
    result = project.run()
    result.assert_outcomes(passed=1)
    fingerprint = project.decision["datasets"]["current"]
    assert fingerprint["rows"] == 60 and len(fingerprint["sha256"]) == 64
    assert project.decision["artifacts"]["current"]["spec"].startswith("predlog:")


def test_missing_log_fails_the_gate_closed(project):
    project.configure(datasets='holdout = "holdout.csv"\ncurrent = "predlog:nowhere.sqlite?window=24h"')
    project.gates("""
def test_window(current):
    assert len(current) > 0
""")
    result = project.run()
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*current: prediction log not found: *nowhere.sqlite*"])
    assert project.decision["decision"] == "rejected"


def test_feedback_command_joins_labels_from_a_file(tmp_path, model, rows, monkeypatch, capsys):
    from pytest_mlgate.cli import main

    _log(model, tmp_path / "logs" / "p.sqlite", rows)
    (tmp_path / "pyproject.toml").write_text('[tool.mlgate]\ntarget = "defaulted"\n[tool.mlgate.datasets]\n'
                                             'current = "predlog:logs/p.sqlite?window=24h"\n')
    rows.assign(request_id=[f"r{i}" for i in range(len(rows))]).iloc[:30].to_csv(tmp_path / "labels.csv", index=False)
    monkeypatch.chdir(tmp_path)
    assert main(["feedback", "add", "labels.csv"]) == 0
    assert capsys.readouterr().out.strip() == (
        f"added 30 labels to {tmp_path / 'logs' / 'p.sqlite'}: 30 matched logged predictions, 0 unknown request ids")
    frame = window.read_window(tmp_path / "logs" / "p.sqlite", end=NOW, target="defaulted", labelled=True)
    assert frame["defaulted"].tolist() == rows["defaulted"].iloc[:30].tolist()
    (tmp_path / "pyproject.toml").write_text('[tool.mlgate]\ntarget = "defaulted"\n')
    assert main(["feedback", "add", "labels.csv"]) == 2
    assert "pass --log PATH or set [tool.mlgate.datasets] current" in capsys.readouterr().err
    assert main(["feedback", "add", "labels.csv", "--log", "logs/p.sqlite", "--label-column", "label"]) == 2
    assert "labels: column 'label' not found" in capsys.readouterr().err


def test_writer_samples_process_resources(tmp_path, model, rows):
    import os

    path = tmp_path / "log.sqlite"
    with predlog.PredictionLogger(model, path, resource_interval=0.0) as logger:
        for i in range(3):
            logger.predict(rows[FEATURES].iloc[[i]])
            logger.flush()
    samples = window.read_resources(path, window="1h")
    assert len(samples) == 3 and set(samples["pid"]) == {os.getpid()}
    assert (samples["rss_mb"] > 10).all() and (samples["cpu_percent"] >= 0).all() and (samples["queue"] >= 0).all()
    assert len(window.read_resources(path, window="1h", end=time.time() - 3600)) == 0


def test_example_server_logs_every_prediction_with_its_request_id(tmp_path, model, rows):
    import skops.io as sio

    from pytest_mlgate.serving import staging

    serve = Path(__file__).resolve().parents[1] / "example_project" / "serve.py"
    sio.dump(model, tmp_path / "model.skops")
    config = staging.staging_config({"command": f"{{python}} {serve} --model {{model}} --port {{port}} "
                                                f"--log {tmp_path / 'log.sqlite'} --version v7"})
    body = {"rows": rows[FEATURES].iloc[:3].to_dict("records"), "request_ids": ["a", "b", "c"], "sent_at": NOW}
    with staging.serve(config, tmp_path / "model.skops", tmp_path) as server:
        answer = server.post("/predict", json=body).json()
        assert server.post("/predict", json={**body, "request_ids": ["x"]}).status_code == 422
    assert answer["request_ids"] == ["a", "b", "c"]
    logged = window.read_window(tmp_path / "log.sqlite", start=NOW - 1, end=NOW + 1)  # written at shutdown
    assert list(logged["request_id"]) == ["a", "b", "c"]
    assert set(logged["model_version"]) == {"v7"}
    assert list(logged["prediction"]) == answer["predictions"]
    assert list(logged["income"]) == pytest.approx(list(rows["income"].iloc[:3]))


COUNTING_WRITER = str(Path(__file__).with_name("predlog_producer.py"))


def run_counting_writer(tmp_path, sig: int, max_queue: int = 1000) -> tuple[int, int]:
    """(predictions returned, rows logged) of a fast producer stopped by ``sig``."""
    path, done = tmp_path / "log.sqlite", tmp_path / "done"
    with subprocess.Popen([sys.executable, COUNTING_WRITER, str(path), str(done), str(max_queue)],
                          stdout=subprocess.PIPE, text=True) as writer:
        try:
            assert writer.stdout.readline().strip() == "ready"
            time.sleep(0.5)
        finally:
            writer.send_signal(sig)
            try:
                writer.wait(timeout=60)
            finally:
                writer.kill()
    assert writer.returncode == (128 + sig if sig == signal.SIGTERM else -sig)
    with closing(sqlite3.connect(path)) as conn:
        logged = conn.execute("SELECT count(*) FROM predictions").fetchone()[0]
    return int(done.read_bytes()), logged


@pytest.mark.parametrize("trial", range(5))
def test_sigterm_writes_every_returned_prediction(tmp_path, trial):
    returned, logged = run_counting_writer(tmp_path, signal.SIGTERM)
    assert returned > 2000 and logged >= returned


def test_sigkill_loses_at_most_the_bounded_queue_and_one_batch(tmp_path):
    returned, logged = run_counting_writer(tmp_path, signal.SIGKILL, max_queue=500)
    assert returned > 2000 and 0 <= returned - logged <= 2 * 500 + 1


def test_when_full_drop_counts_and_persists_dropped_rows(tmp_path):
    path = tmp_path / "log.sqlite"
    model = type("M", (), {"predict": lambda self, rows: [0] * len(rows)})()
    with predlog.PredictionLogger(model, path, max_queue=5, flush_interval=30, when_full="drop") as logger:
        for i in range(50):
            logger.predict({"x": i}, request_id=f"r{i}")
        dropped = logger.dropped
    with closing(sqlite3.connect(path)) as conn:
        logged = conn.execute("SELECT count(*) FROM predictions").fetchone()[0]
        persisted = conn.execute("SELECT sum(rows) FROM dropped").fetchone()[0]
    assert dropped >= 40 and persisted == dropped and logged + dropped == 50


def test_when_full_block_loses_nothing(tmp_path):
    path = tmp_path / "log.sqlite"
    model = type("M", (), {"predict": lambda self, rows: [0] * len(rows)})()
    with predlog.PredictionLogger(model, path, max_queue=5, flush_interval=0.001) as logger:
        for i in range(300):
            logger.predict({"x": i}, request_id=f"r{i}")
        assert logger.dropped == 0
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT count(*) FROM predictions").fetchone()[0] == 300
    with pytest.raises(MlgateError, match="when_full must be one of block, drop, got 'spill'"):
        predlog.PredictionLogger(model, path, when_full="spill")
