"""Staging gates: latency, throughput, error rate, resources, malformed-input probes and stability.

The measuring lives in :mod:`pytest_mlgate.serving.staging` (server, load, probes; imported lazily, so the
``mlgate`` fixture works without the staging extra) and :mod:`pytest_mlgate.serving.inprocess` (the loaded
model itself); these functions judge the measurements.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pytest_mlgate.checks.recorder import Recorder
from pytest_mlgate.decision import FAILED, NOT_APPLICABLE, PASSED, Check
from pytest_mlgate.errors import MlgateError
from pytest_mlgate.serving import inprocess

if TYPE_CHECKING:
    from pytest_mlgate.evaluate.models import Dataset, ModelUnderTest
    from pytest_mlgate.serving.load import LoadResult
    from pytest_mlgate.serving.staging import StagingServer

KIND = "staging"
Limit = float | Mapping[int, float] | None


def limit_check(name: str, metric: str, value: float, limit: float, *, upper: bool = True, unit: str = "",
                dataset: str | None = None, details: dict[str, Any] | None = None) -> Check:
    """``value <= limit`` (``upper``) or ``value >= limit``, with the numbers in the message."""
    passed = value <= limit if upper else value >= limit
    sign = ("<=" if passed else ">") if upper else (">=" if passed else "<")
    return Check(name, PASSED if passed else FAILED, metric=metric, dataset=dataset, candidate=value,
                 threshold=f"{'<=' if upper else '>='} {limit:g}{unit}", kind=KIND, details=details or {},
                 message=f"{name} {value:.4g}{unit} {sign} {limit:g}{unit}")


def load_checks(result: LoadResult, *, max_p50_ms: float | None = None, max_p95_ms: float | None = None,
                max_p99_ms: float | None = None, min_throughput: float | None = None,
                max_error_rate: float = 0.0, max_rss_mb: float | None = None,
                max_cpu_percent: float | None = None, dataset: str | None = None) -> list[Check]:
    """The error-rate check (carrying the load summary and latency histogram) and one check per limit."""
    summary = result.summary()
    error = limit_check("load error rate", "error_rate", result.error_rate, max_error_rate, dataset=dataset,
                        details={**summary, "table": result.histogram()})
    error.message += f" ({result.sent - result.ok} of {result.sent} requests; statuses {result.statuses}" + (
        f", transport errors {result.transport_errors})" if result.transport_errors else ")")
    checks = [error]
    limits = [
        ("load p50 latency", "latency_p50_ms", summary["p50_ms"], max_p50_ms, True, " ms"),
        ("load p95 latency", "latency_p95_ms", summary["p95_ms"], max_p95_ms, True, " ms"),
        ("load p99 latency", "latency_p99_ms", summary["p99_ms"], max_p99_ms, True, " ms"),
        ("load throughput", "throughput_rps", summary["throughput_rps"], min_throughput, False, " req/s"),
        ("server peak RSS", "server_peak_rss_mb", summary.get("server_peak_rss_mb"), max_rss_mb, True, " MiB"),
        ("server CPU", "server_cpu_percent", summary.get("server_cpu_percent"), max_cpu_percent, True, " %"),
    ]
    for name, metric, value, limit, upper, unit in limits:
        if limit is not None:
            if value is None:
                raise MlgateError(f"{name}: not measured in this load run")
            checks.append(limit_check(name, metric, value, limit, upper=upper, unit=unit, dataset=dataset,
                                      details={"requests": result.sent, "concurrency": result.concurrency}))
    return checks


def probe_check(table: list[dict[str, Any]]) -> Check:
    """One check over the probe table: failed when any probe got a wrong answer or the server went down."""
    failed = [r for r in table if r["outcome"] == "failed"]
    not_run = [r for r in table if r["outcome"] == "not_run"]
    judged = [r for r in table if r["outcome"] in ("passed", "failed")]
    parts = [f"probe '{r['probe']}' ({r['request']}) got {_status(r['status'])}, expected {r['expect']}"
             + ("" if r["server_up"] else f"; {r['detail']}") for r in failed]
    if not_run:
        parts.append(f"{len(not_run)} probe(s) not run: {', '.join(r['probe'] for r in not_run)}")
    message = "; ".join(parts) if parts else f"all {len(judged)} probes answered as expected, server stayed up"
    skipped = [r["probe"] for r in table if r["outcome"] == "not_applicable"]
    if skipped:
        message += f" (not applicable: {', '.join(skipped)})"
    return Check("malformed-input probes", FAILED if parts else PASSED, metric="failed_probes",
                 candidate=float(len(failed) + len(not_run)), threshold="== 0", kind=KIND, message=message,
                 details={"probes": len(table), "failed": [r["probe"] for r in failed + not_run], "table": table})


def _status(status: int | None) -> str:
    return "no answer" if status is None else f"HTTP {status}"


def latency_checks(rows: list[dict[str, float]], limits: dict[str, Limit], dataset: str) -> list[Check]:
    """In-process predict latency per batch size against ``max_p50_ms`` / ``max_p95_ms`` / ``max_p99_ms``."""
    checks = []
    for row in rows:
        batch = int(row["batch"])
        for key, limit in limits.items():
            bound = _for_batch(limit, batch)
            if bound is not None:
                q = key.split("_")[1]
                checks.append(limit_check(f"predict {q} latency[batch {batch}]", f"predict_{q}_ms",
                                          row[f"{q}_ms"], bound, unit=" ms", dataset=dataset,
                                          details={**row, "table": rows}))
    if not checks:
        checks.append(Check("predict latency", PASSED, metric="predict_p95_ms", dataset=dataset, kind=KIND,
                            candidate=rows[0]["p95_ms"] if rows else None, threshold="reported",
                            message="predict latency reported, no limit set", details={"table": rows}))
    return checks


def _for_batch(limit: Limit, batch: int) -> float | None:
    if limit is None or not isinstance(limit, Mapping):
        return limit
    return limit.get(batch, limit.get("*"))  # type: ignore[call-overload]


def behaviour_check(table: list[dict[str, Any]], dataset: str) -> Check:
    """Fails only when the model silently returns missing or non-finite predictions on bad input."""
    silent = [r for r in table if r["result"] == "silent_nan"]
    if not table:
        return Check("bad-input behaviour", NOT_APPLICABLE, dataset=dataset, kind=KIND,
                     message="bad-input behaviour: no features to perturb")
    summary = ", ".join(f"{r['feature']} {r['case']}: {r['result']}" for r in table)
    message = (f"model returns non-finite predictions for {', '.join(r['feature'] + ' ' + r['case'] for r in silent)}"
               if silent else f"bad-input behaviour: {summary}")
    return Check("bad-input behaviour", FAILED if silent else PASSED, metric="silent_nan_features",
                 dataset=dataset, candidate=float(len(silent)), threshold="== 0", kind=KIND, message=message,
                 details={"table": table})


class StagingGates(Recorder):
    """``mlgate.load_test`` / ``probe_server`` against the ``staging`` server; ``predict_latency``,
    ``memory_growth``, ``artifact_size``, ``flip_rate`` and ``input_behaviour`` in process."""

    def load_test(self, staging: StagingServer, dataset: str | Dataset = "holdout", *, requests: int | None = None,
                  concurrency: int | None = None, duration: float | None = None, rate: float | None = None,
                  batch: int = 1, max_p50_ms: float | None = None, max_p95_ms: float | None = None,
                  max_p99_ms: float | None = None, min_throughput: float | None = None, max_error_rate: float = 0.0,
                  max_rss_mb: float | None = None, max_cpu_percent: float | None = None) -> list[Check]:
        """A bounded load run of ``dataset`` rows (``batch`` per request) with gates on each given limit."""
        __tracebackhide__ = True
        from pytest_mlgate.serving import load as ld

        data = self.rows(dataset)
        payloads = ld.bodies(ld.feature_rows(self._candidate().model, data), batch)
        result = ld.load_test(staging, payloads, requests=requests, concurrency=concurrency, duration=duration,
                              rate=rate)
        return self.record(*load_checks(
            result, max_p50_ms=max_p50_ms, max_p95_ms=max_p95_ms, max_p99_ms=max_p99_ms,
            min_throughput=min_throughput, max_error_rate=max_error_rate, max_rss_mb=max_rss_mb,
            max_cpu_percent=max_cpu_percent, dataset=data.name))

    def probe_server(self, staging: StagingServer, dataset: str | Dataset = "holdout", *,
                     allow_2xx: Sequence[str] = (), oversize_mb: float = 1.0) -> list[Check]:
        """Malformed requests must get a 4xx (or a 2xx for probes in ``allow_2xx``) and leave the server up."""
        __tracebackhide__ = True
        from pytest_mlgate.serving import load as ld

        data = self.rows(dataset)
        row = ld.feature_rows(self._candidate().model, data, limit=1)[0]
        categorical = [k for k, v in row.items() if isinstance(v, str)]
        probes = ld.probe_battery(row, categorical, int(oversize_mb * 2**20))
        unknown = sorted(set(allow_2xx) - {p.name for p in probes})
        if unknown:
            raise MlgateError(f"probe_server: allow_2xx names unknown probe(s) {unknown} "
                              f"(probes: {', '.join(p.name for p in probes)})")
        probes = [ld.Probe(p.name, p.description, p.body, ("2", "4")) if p.name in allow_2xx else p for p in probes]
        return self.record(probe_check(ld.run_probes(staging, probes)))

    def predict_latency(self, dataset: str | Dataset = "holdout", *, batch_sizes: Sequence[int] = (1, 100),
                        repeats: int = 50, max_p50_ms: Limit = None, max_p95_ms: Limit = None,
                        max_p99_ms: Limit = None, threads: int | None = None) -> list[Check]:
        """In-process ``predict`` latency per batch size after warm-up; limits a number or ``{batch: ms}``.

        ``threads`` caps OpenMP/BLAS threads while measuring (as a one-thread serving worker would run).
        """
        __tracebackhide__ = True
        data, model = self.rows(dataset), self._candidate()
        rows = [inprocess.predict_latency(model, data, batch, repeats, threads=threads) for batch in batch_sizes]
        limits = {"max_p50_ms": max_p50_ms, "max_p95_ms": max_p95_ms, "max_p99_ms": max_p99_ms}
        return self.record(*latency_checks(rows, limits, data.name))

    def memory_growth(self, dataset: str | Dataset = "holdout", *, repeats: int = 50,
                      max_growth_mb: float = 5.0, threads: int | None = None) -> list[Check]:
        """Python-heap memory still held after ``repeats`` predictions must stay under ``max_growth_mb``."""
        __tracebackhide__ = True
        data = self.rows(dataset)
        found = inprocess.memory_growth(self._candidate(), data, repeats, threads=threads)
        return self.record(limit_check(f"memory growth over {repeats} predictions", "memory_growth_mb",
                                       found["growth_mb"], max_growth_mb, unit=" MiB", dataset=data.name,
                                       details=found))

    def artifact_size(self, *, max_mb: float) -> list[Check]:
        """The candidate's artifact file must be at most ``max_mb`` MiB."""
        __tracebackhide__ = True
        artifact = self._candidate().artifact
        if artifact is None:
            raise MlgateError("artifact_size: the candidate has no artifact file")
        size = artifact.path.stat().st_size / 2**20
        return self.record(limit_check("artifact size", "artifact_mb", size, max_mb, unit=" MiB",
                                       details={"path": str(artifact.path), "bytes": artifact.path.stat().st_size}))

    def flip_rate(self, dataset: str | Dataset = "holdout", *, noise: float = 0.01, max_rate: float = 0.05,
                  rows: int = 2000) -> list[Check]:
        """At most ``max_rate`` of predictions may flip under Gaussian noise of ``noise`` x each feature's std."""
        __tracebackhide__ = True
        data, model = self.rows(dataset), self._candidate()
        if not model.is_classifier:
            return self.record(Check("prediction flip rate", NOT_APPLICABLE, dataset=data.name, kind=KIND,
                                     message="prediction flip rate: not a classifier, flips not defined"))
        rate, table = inprocess.flip_rate(model, data, noise, rows, self.settings.seed)
        return self.record(limit_check(f"prediction flip rate at {noise:g} std noise", "flip_rate", rate,
                                       max_rate, dataset=data.name, details={"noise": noise, "table": table}))

    def input_behaviour(self, dataset: str | Dataset = "holdout") -> list[Check]:
        """Report what the model does in process with NaN / unseen categories; fail on silent NaN output."""
        __tracebackhide__ = True
        data = self.rows(dataset)
        return self.record(behaviour_check(inprocess.input_behaviour(self._candidate(), data), data.name))

    def _candidate(self) -> ModelUnderTest:
        return self.live_model("candidate", "serving checks")
