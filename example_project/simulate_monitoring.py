"""Simulate a day in production, then run the monitoring stage: it alerts and rolls back.

Run from this directory after ``python train.py``::

    python simulate_monitoring.py

It works in its own copy, ``simulation/`` (configuration, monitoring gates, data, models and a
fresh registry), so it never moves the production alias the example's push gates compare with.

1. deploy: the baseline is production v1; the candidate is registered as v2 and promoted;
2. serve: serve.py runs the production model on a free 127.0.0.1 port and records every
   prediction with the PredictionLogger in logs/predictions.sqlite; a day of requests
   (data/traffic.parquet, one a minute, drifting at noon) is sent to it over HTTP, half an hour of
   simulated time per call, so the day takes seconds;
3. feedback: outcomes arrive for requests older than six hours: ``mlgate feedback add``;
4. monitor: ``pytest gates --mlgate-stage monitor --mlgate-auto-rollback`` on those 24 hours, with
   a webhook receiver on 127.0.0.1 standing in for Slack (``MLGATE_ALERT_WEBHOOK``);
5. close the loop: the alert retrains (``retrain.py`` on the training data plus the labelled
   requests) and the push gates judge the retrained candidate (``on_alert = "retrain"``).

Exits 0 when the run ended as the story says: rejected, alerted, rolled back, retrained and re-gated.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd

from pytest_mlgate.config import Settings, build, read_pyproject
from pytest_mlgate.evaluate.loaders import load_model
from pytest_mlgate.lifecycle.registry import open_registry
from pytest_mlgate.serving import staging

HERE = Path(__file__).parent / "simulation"
LOG = Path("logs/predictions.sqlite")
LABEL_DELAY_MINUTES = 6 * 60
DISPUTED_SHARE = 0.01
RETRAIN = """
[tool.mlgate.training]
command = ["{python}", "{script}"]
inputs = ["data/train.parquet", "logs/labels.csv"]
output = "models/retrained.skops"

[tool.mlgate.monitor]
on_alert = "retrain"
"""
BATCH_MINUTES = 30  # one call carries half an hour of simulated requests


def sandbox() -> Settings:
    """A fresh copy of what monitoring needs: config, the monitoring gates, data and models."""
    source = HERE.parent
    shutil.rmtree(HERE, ignore_errors=True)
    (HERE / "gates").mkdir(parents=True)
    (HERE / "logs").mkdir()
    shutil.copy(source / "pyproject.toml", HERE / "pyproject.toml")
    for gate in ("test_monitoring.py", "test_stakeholder_feedback.py",  # monitor stage
                 "test_performance.py", "test_business.py"):  # the push suite a retrained candidate goes through
        shutil.copy(source / "gates" / gate, HERE / "gates" / gate)
    with (HERE / "pyproject.toml").open("a") as fh:  # an alert retrains (retrain.py) and gates the result
        fh.write(RETRAIN.format(python=sys.executable.replace("\\", "/"), script=(source / "retrain.py").as_posix()))
    for folder in ("data", "models"):
        shutil.copytree(source / folder, HERE / folder)
    return build(HERE, read_pyproject(HERE / "pyproject.toml"), source=str(HERE / "pyproject.toml"))


def deploy(settings: Settings) -> tuple[str, str]:
    """Production was the baseline (v1); the approved candidate (v2) is promoted over it."""
    registry, versions = open_registry(settings), []
    for name in ("baseline", "candidate"):
        entry = registry.register(settings.model, HERE / "models" / f"{name}.skops", owner=settings.owner,
                                  by="simulate_monitoring.py")
        registry.set_alias(settings.model, "production", entry["version"], by="simulate_monitoring.py",
                           reason=f"simulated deployment of the {name}")
        versions.append(entry["version"])
    return versions[0], versions[1]


def serve(settings: Settings, traffic: pd.DataFrame, start: float) -> None:
    """Start serve.py on a free 127.0.0.1 port with the production model and its prediction log,
    and send it every request; each carries its id and the simulated time it was sent."""
    registry = open_registry(settings, audit=False)
    path, entry = registry.artifact(settings.model, "production")
    trusted = " ".join(f"--trusted {t}" for t in settings.skops_trusted)
    command = (f"{{python}} {HERE.parent / 'serve.py'} --model {{model}} --port {{port}} --schema data/train.parquet "
               f"--log {LOG} --version {entry['version']} {trusted}")
    features = list(load_model(path, settings.skops_trusted).feature_names_in_)
    with staging.serve(staging.staging_config({"command": command}), path, HERE) as server:
        # Simulated time runs fast: the requests of BATCH_MINUTES minutes go in one call, stamped with
        # the middle of that span, so a day of traffic takes seconds, not a minute per request.
        for _, batch in traffic.groupby(traffic["minute"] // BATCH_MINUTES, sort=True):
            middle = (batch["minute"].min() + batch["minute"].max() + 1) / 2
            body = {"rows": batch[features].to_dict("records"), "request_ids": batch["request_id"].tolist(),
                    "sent_at": start + middle * 60}
            server.post("/predict", json=body).raise_for_status()
    # stopping the server closes its logger, which writes what is still queued


def feedback(traffic: pd.DataFrame) -> None:
    """Outcomes are known for requests older than LABEL_DELAY_MINUTES; join them by request id."""
    arrived = traffic[traffic["minute"] < len(traffic) - LABEL_DELAY_MINUTES][["request_id", "defaulted"]]
    arrived.to_csv(HERE / "logs" / "labels.csv", index=False)
    subprocess.run([sys.executable, "-m", "pytest_mlgate.cli", "feedback", "add", "logs/labels.csv",
                    "--log", str(LOG)], cwd=HERE, check=True)
    disputed = traffic.sample(frac=DISPUTED_SHARE, random_state=0)[["request_id"]]  # applicants who object
    disputed.to_csv(HERE / "logs" / "disputes.csv", index=False)
    subprocess.run([sys.executable, "-m", "pytest_mlgate.cli", "feedback", "add", "logs/disputes.csv", "--kind",
                    "dispute", "--log", str(LOG)], cwd=HERE, check=True)


class Receiver:
    """A stand-in for a Slack incoming webhook: remembers every JSON body posted to it."""

    def __init__(self) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/slack"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def monitor(start: float, webhook: str) -> int:
    """The scheduled job: the monitor stage of the gate suite on the log since ``start``.

    A real job would use ``window=24h``; here the requests are backdated over the past day while
    the logger's resource samples carry the real time they were taken, so the window runs from
    the first request to now."""
    window = f"current=predlog:{LOG}?start={start:.0f}&end={time.time() + 1:.0f}"
    command = [sys.executable, "-m", "pytest", "gates", "--mlgate-stage", "monitor", "--mlgate-auto-rollback",
               "--mlgate-dataset", window, "--mlgate-decision", "reports/monitor-decision.json",
               "--mlgate-junit", "reports/monitor-gates.xml", "--mlgate-markdown", "reports/monitor-summary.md",
               "--mlgate-html", "reports/monitor.html"]
    print("$", " ".join(command[2:]))
    return subprocess.run(command, cwd=HERE, env={**os.environ, "MLGATE_ALERT_WEBHOOK": webhook}).returncode


def main() -> int:
    settings = sandbox()
    traffic = pd.read_parquet(HERE / "data" / "traffic.parquet")
    previous, deployed = deploy(settings)
    print(f"deployed: {settings.model}@production {previous} -> {deployed}")
    start = time.time() - 24 * 3600
    serve(settings, traffic, start)
    print(f"served {len(traffic)} requests over 24 hours into {LOG} (drifting from noon)")
    feedback(traffic)
    receiver = Receiver()
    try:
        status = monitor(start, receiver.url)
    finally:
        receiver.close()
    production = open_registry(settings, audit=False).index(settings.model)["aliases"]["production"]
    print(f"\nmonitoring exit status {status}; {settings.model}@production is now {production}; "
          f"outputs in {HERE.relative_to(Path.cwd()) if HERE.is_relative_to(Path.cwd()) else HERE}")
    for alert in receiver.received:
        print("webhook received:\n  " + alert["text"].replace("\n", "\n  "))
    retrain = (json.loads((HERE / "reports" / "monitor-decision.json").read_text())["monitor"] or {}).get("retrain")
    print(f"retrained after the alert: {retrain and retrain['training']['version']}, push gates: "
          f"{retrain and retrain['push']['decision']} (reports/retrain-decision.json)")
    done = status == 1 and len(receiver.received) == 1 and production != deployed and bool(retrain and retrain["push"])
    print("story complete: rejected, alerted, rolled back, retrained and re-gated" if done else "story NOT complete (see above)")
    import estimate_story  # part two: the estimated AUC falls before labels arrive, and rolls back

    print("\npart two: performance estimated before labels arrive")
    estimated = estimate_story.main()
    print("part two complete: estimated AUC fell, rolled back" if estimated else "part two NOT complete (see above)")
    return 0 if done and estimated else 1


if __name__ == "__main__":
    sys.exit(main())
