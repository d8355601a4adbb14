"""Cost of the registry and audit trail around a gate run.

Run: ``python benchmarks/bench_registry.py``. Measures, in a temporary directory: audit appends
per second (one process, and 8 processes at once, each append fsynced under the lock), verifying
a 4,000-entry log, a promotion (lock + index rewrite + audit entry), and resolving
``registry:NAME@production`` (sha256 check of a 5 MB artifact) against opening the plain path,
as a ratio.

With mlflow installed (``pip install -e '.[mlflow]'``) it also starts a real ``mlflow server`` on
127.0.0.1 and times, interleaved, median of 15: resolving ``models:/m@champion`` (alias lookup,
download, tree digest) against the MLflow client's own lookup + download; a compare-and-set
promotion (read, set, read back, audited) against ``set_registered_model_alias``; and logging a
decision (run, metrics, three report artifacts, version tags) against the same client calls made
directly. ``--mlflow-only`` skips the file-registry part.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pytest_mlgate.config import build
from pytest_mlgate.evaluate.hashing import _HASHES
from pytest_mlgate.lifecycle.audit import AuditLog
from pytest_mlgate.lifecycle.registry import Registry, resolve_reference

WRITER = """
import sys
from pathlib import Path
from pytest_mlgate.lifecycle.audit import AuditLog
log = AuditLog(Path(sys.argv[1]))
for n in range(500):
    log.append("decision", {"n": n, "checks": [{"metric": "roc_auc", "candidate": 0.8}] * 5}, model="m")
"""


def appends(root: Path) -> None:
    log = AuditLog(root / "one.jsonl")
    start = time.perf_counter()
    for n in range(500):
        log.append("decision", {"n": n}, model="m")
    single = time.perf_counter() - start
    script = root / "writer.py"
    script.write_text(WRITER)
    start = time.perf_counter()
    writers = [subprocess.Popen([sys.executable, str(script), str(root / "many.jsonl")]) for _ in range(8)]
    assert all(w.wait() == 0 for w in writers)
    many = time.perf_counter() - start
    print(f"audit append, 1 process:  {500 / single:7.0f} entries/s ({single / 500 * 1000:.2f} ms each, fsynced)")
    print(f"audit append, 8 processes: {4000 / many:6.0f} entries/s total (4000 entries in {many:.1f} s, "
          "including interpreter start-up)")
    start = time.perf_counter()
    result = AuditLog(root / "many.jsonl").verify()
    print(f"audit verify: {result.entries} entries in {(time.perf_counter() - start) * 1000:.0f} ms, ok={result.ok}")


def registry(root: Path) -> None:
    model = root / "model.skops"
    model.write_bytes(os.urandom(5 * 1024 * 1024))
    reg = Registry(root / "reg", AuditLog(root / "audit.jsonl"))
    reg.register("m", model, owner="o")
    model.write_bytes(os.urandom(5 * 1024 * 1024))
    reg.register("m", model, owner="o")
    start = time.perf_counter()
    for i in range(100):
        reg.set_alias("m", "production", "v1" if i % 2 else "v2", by="bench", reason="bench")
    print(f"promotion (lock, index rewrite, audit entry): {(time.perf_counter() - start) * 10:.2f} ms")
    settings = build(root, {"registry": "reg"})
    path = reg.artifact("m", "production")[0]

    def timed(fn) -> float:
        best = float("inf")
        for _ in range(5):
            _HASHES.clear()  # a fresh process hashes once; measure that first hash
            start = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - start)
        return best

    plain = timed(lambda: path.read_bytes())
    ref = timed(lambda: resolve_reference("registry:m@production", settings)[0].read_bytes())
    print(f"load 5 MB artifact: plain path {plain * 1000:.1f} ms, registry:m@production {ref * 1000:.1f} ms "
          f"(ratio {ref / plain:.1f}x: index read + sha256 check)")


def interleaved(ours, theirs, rounds: int = 15) -> tuple[float, float]:
    """Median seconds of ``ours`` and ``theirs``, alternated so that load on the machine hits both."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(rounds):
        for fn, out in ((ours, times[0]), (theirs, times[1])):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def report(what: str, ours: float, theirs: float, baseline: str) -> None:
    print(f"{what}: mlgate {ours * 1000:.1f} ms, {baseline} {theirs * 1000:.1f} ms (ratio {ours / theirs:.2f}x)")


def mlflow_backend(root: Path) -> None:
    """Resolve, promote and decision logging through the MLflow backend against the client's own calls."""
    import warnings

    warnings.simplefilter("ignore")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from mlflow_server import QUIET, MlflowServer

    os.environ.update(QUIET)
    import mlflow
    import mlflow.sklearn
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier

    from pytest_mlgate.evaluate.frameworks import mlflow_source
    from pytest_mlgate.lifecycle.mlflow_decisions import log_decision
    from pytest_mlgate.lifecycle.registry_mlflow import MlflowBackend
    from pytest_mlgate.reports import html, markdown

    server = MlflowServer(root / "mlflow").start()
    try:
        mlflow.set_tracking_uri(server.uri)
        X, y = load_breast_cancer(return_X_y=True, as_frame=True)
        client = mlflow.MlflowClient(server.uri, server.uri)
        client.create_registered_model("m")
        for seed in (0, 1):  # two random forests of 50 trees
            with mlflow.start_run():
                info = mlflow.sklearn.log_model(RandomForestClassifier(50, random_state=seed).fit(X, y), name="model",
                                                pip_requirements=["scikit-learn"], skops_trusted_types=["sklearn.tree._tree.Tree"])
            client.create_model_version("m", info.model_uri, model_id=info.model_id)
        client.set_registered_model_alias("m", "champion", "1")
        settings = build(root, {"registry": "mlflow", "mlflow_tracking_uri": server.uri})
        mlflow_source.locate("candidate", "models:/m@champion", settings)  # pins the digest once, as a first run does

        def bare_resolve() -> None:
            version = client.get_model_version_by_alias("m", "champion")
            mlflow.artifacts.download_artifacts(client.get_model_version_download_uri("m", version.version),
                                                dst_path=tempfile.mkdtemp(dir=root), tracking_uri=server.uri)

        config = {"registry": "mlflow", "mlflow_tracking_uri": server.uri}  # a new session each time: no cache
        ours, theirs = interleaved(lambda: mlflow_source.locate("candidate", "models:/m@champion", build(root, config)),
                                   bare_resolve)
        size = sum(p.stat().st_size for p in mlflow_source.locate("candidate", "models:/m@champion", settings)
                   .path.rglob("*") if p.is_file())
        report(f"resolve models:/m@champion ({size / 1e6:.1f} MB model folder)", ours, theirs,
               "get_model_version_by_alias + download")
        backend = MlflowBackend(server.uri, AuditLog(root / "mlflow-audit.jsonl"), settings)
        state = {"from": "1", "to": "2"}

        def promote() -> None:
            backend._move("m", "champion", state["to"], expected=state["from"], by="bench", reason="bench",
                          action="promote")
            state["from"], state["to"] = state["to"], state["from"]

        def check_and_set() -> None:  # the same compare and set written with the client by hand
            if client.get_registered_model("m").aliases.get("challenger") in ("1", "2", None):
                client.set_registered_model_alias("m", "challenger", "2")

        ours, theirs = interleaved(promote, lambda: client.set_registered_model_alias("m", "challenger", "2"))
        report("promote (compare and set, audited)", ours, theirs, "set_registered_model_alias")
        ours, theirs = interleaved(promote, check_and_set)
        report("promote (compare and set, audited)", ours, theirs, "get_registered_model + set_registered_model_alias")
        record = decision_record()
        entry = backend.audit.append("decision", record, model="m")

        def bare_log() -> None:
            run = client.create_run(experiment_of(client))
            client.log_batch(run.info.run_id, metrics=[mlflow.entities.Metric(k, v, 0, 0) for k, v in
                                                       METRICS.items()])
            for name in ("d.json", "d.md", "d.html"):
                client.log_text(run.info.run_id, "x" * 2000, name)
            client.set_terminated(run.info.run_id)
            for key in ("mlgate.run_id", "mlgate.decision_sha256", "mlgate.decision", "mlgate.audit_entry"):
                client.set_model_version_tag("m", "2", key, "x")

        def render(r: dict) -> dict:
            return {"mlgate-decision.md": markdown.render(r), "mlgate-decision.html": html.render(r)}

        ours, theirs = interleaved(lambda: log_decision(backend, record, entry, render), bare_log)
        report(f"log a decision ({len(METRICS)} metrics, JSON/Markdown/HTML, 4 version tags)", ours, theirs,
               "the same client calls")
    finally:
        server.stop()


METRICS = {f"gate_{g}/check_{c}/candidate": 0.8 + g / 100 for g in range(10) for c in range(2)}


def decision_record() -> dict:
    gates = [{"gate": f"test_gates.py::gate_{g}", "outcome": "passed", "severity": "block", "category": None,
              "owner": None, "stage": "push", "message": "", "duration": 0.1,
              "checks": [{"name": f"check_{c}", "outcome": "passed", "metric": "roc_auc", "dataset": "holdout",
                          "candidate": 0.8 + g / 100, "baseline": None, "delta": None, "threshold": ">= 0.7",
                          "ci": None, "message": "", "kind": "check", "details": {}} for c in range(2)]}
              for g in range(10)]
    lineage = {"registry": "mlflow", "name": "m", "version": "2"}
    return {"model": "m", "decision": "approved", "stage": "push", "reasons": [], "gates": gates,
            "counts": {"passed": 10}, "exit_status": 0, "owner": "o", "started": "", "finished": "",
            "artifacts": {"candidate": {"spec": "models:/m@challenger", "sha256": "0" * 64, "lineage": lineage}},
            "datasets": {}, "approvals_used": [], "approvals_ignored": []}


def experiment_of(client) -> str:
    found = client.get_experiment_by_name("bare")
    return found.experiment_id if found else client.create_experiment("bare")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        if "--mlflow-only" not in sys.argv:
            appends(Path(tmp))
            registry(Path(tmp))
        try:
            import mlflow  # noqa: F401
        except ImportError:
            print("mlflow not installed: MLflow backend timings skipped (pip install -e '.[mlflow]')")
            return
        mlflow_backend(Path(tmp))


if __name__ == "__main__":
    main()
