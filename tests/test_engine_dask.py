"""The Dask engine on a two-worker LocalCluster on 127.0.0.1: the same checks and decision.

Skipped where dask.distributed is not installed, except under ``MLGATE_REQUIRE_DASK=1`` (set by
the ``dask`` tox environment), where it must be importable.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

if os.environ.get("MLGATE_REQUIRE_DASK") == "1":
    import distributed  # noqa: F401  (must be importable here: fail, do not skip)
else:
    pytest.importorskip("distributed")

from engine_scenarios import (  # noqa: E402
    TINY_BUDGET,
    assert_same_checks,
    copy_project,
    run_gates,
    run_multiclass_gates,
    run_regression_gates,
    workspace,
    write_multiclass_project,
    write_project,
    write_regression_project,
)
from test_streaming import GATES  # noqa: E402

from pytest_mlgate.engines import dask as engine  # noqa: E402
from pytest_mlgate.errors import MlgateError  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address="127.0.0.1:0",
                      processes=True) as local:
        yield local.scheduler_address
        engine.close(local.scheduler_address)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_project(tmp_path_factory.mktemp("dask"))


def test_every_gate_gives_the_same_checks_on_dask(project: Path, cluster: str) -> None:
    expected = run_gates(workspace(project))
    ws = workspace(project, engine="dask", dask_scheduler=cluster, memory_budget=TINY_BUDGET)
    got = run_gates(ws)
    assert_same_checks(expected, got)
    holdout = ws.dataset("holdout")
    assert holdout.engine_name == "dask" and holdout.passes == 12
    assert holdout.sampled is None and ws.dataset("current").sampled is None
    # the models went to the workers once for all the passes that predicted
    models = ws.configured_models().values()
    assert sorted(key for key in engine._SCATTERED if key[0] == cluster) == sorted((cluster, id(m)) for m in models)


def test_every_regression_gate_gives_the_same_checks_on_dask(tmp_path_factory: pytest.TempPathFactory,
                                                            cluster: str) -> None:
    root = write_regression_project(tmp_path_factory.mktemp("dask-regression"))
    expected = run_regression_gates(workspace(root, target="amount"))
    got = run_regression_gates(workspace(root, target="amount", engine="dask", dask_scheduler=cluster,
                                         memory_budget=TINY_BUDGET))
    assert {c.details.get("ci_method") for c in expected} >= {"paired normal", "Poisson bootstrap"}
    assert_same_checks(expected, got)


def test_every_multiclass_gate_gives_the_same_checks_on_dask(tmp_path_factory: pytest.TempPathFactory,
                                                            cluster: str) -> None:
    root = write_multiclass_project(tmp_path_factory.mktemp("dask-multiclass"))
    expected = run_multiclass_gates(workspace(root, target="tier"))
    ws = workspace(root, target="tier", engine="dask", dask_scheduler=cluster, memory_budget=TINY_BUDGET)
    got = run_multiclass_gates(ws)
    assert {c.details.get("ci_method") for c in got if c.metric == "roc_auc" and c.ci} == {"Poisson bootstrap"}
    assert_same_checks(expected, got)  # macro AUC within its bound, identical intervals, the same outcomes
    assert ws.dataset("holdout").engine_name == "dask"


def test_workers_send_statistics_that_do_not_grow_with_rows(project: Path, cluster: str) -> None:
    import pickle

    from distributed import Client

    from pytest_mlgate.evaluate.fold import Plan, Statistics

    ws = workspace(project, engine="dask", dask_scheduler=cluster, memory_budget=TINY_BUDGET)
    data, models = ws.dataset("holdout"), ws.configured_models()
    plan = Plan(roles=tuple(models))
    files = [str(p) for p in data.parts.files]
    with Client(cluster) as client:
        one, two = client.gather([client.submit(engine.fold_files, chosen, data.name, data.target, models, plan,
                                                data.chunk_rows) for chosen in (files[:1], files[:2])])
    assert isinstance(one, Statistics) and (one.rows, two.rows) == (3000, 6000)
    assert len(pickle.dumps(two)) < 1.1 * len(pickle.dumps(one))  # twice the rows, the same size
    assert data.sampled is None  # the driver never read the rows


def test_an_unreachable_scheduler_fails_closed(project: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ws = workspace(project, engine="dask", dask_scheduler=f"tcp://127.0.0.1:{port}", no_cache=True)
    with pytest.raises(MlgateError, match=f"dask_scheduler 'tcp://127.0.0.1:{port}': cannot connect"):
        ws.model("candidate").metric("accuracy", ws.dataset("holdout"))


def test_the_same_gate_file_decides_the_same_on_dask(pytester: pytest.Pytester, project: Path, cluster: str) -> None:
    copy_project(project, pytester.path)
    pytester.makefile(".toml", pyproject=(
        '[tool.mlgate]\ncandidate = "candidate.skops"\nbaseline = "baseline.skops"\ntarget = "defaulted"\n'
        f'sensitive = ["sex"]\nengine = "dask"\ndask_scheduler = "{cluster}"\n[tool.mlgate.datasets]\n'
        'holdout = "holdout"\nreference = "reference"\ncurrent = "current/*.parquet"\n'))
    pytester.makepyfile(test_gates=GATES)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=6, failed=1)
    record = json.loads((pytester.path / "reports" / "mlgate-decision.json").read_text())
    assert record["decision"] == "rejected"
    assert record["datasets"]["holdout"]["engine"] == "dask"
