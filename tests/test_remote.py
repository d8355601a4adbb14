"""Datasets at fsspec URLs: ``memory://`` in process, ``file://`` end to end, and the Dask engine opening URLs.

Skipped where fsspec is not installed, except under ``MLGATE_REQUIRE_FSSPEC=1`` (set by the ``dask``
tox environment, which installs the ``remote`` extra), where it must be importable. The test of a
URL without fsspec runs everywhere.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from engine_scenarios import (
    TINY_BUDGET,
    assert_same_checks,
    copy_project,
    run_gates,
    workspace,
    write_project,
)

from pytest_mlgate.errors import MlgateError
from pytest_mlgate.evaluate.streamed import StreamedDataset


@pytest.fixture(scope="module")
def fsspec():
    if os.environ.get("MLGATE_REQUIRE_FSSPEC") == "1":
        import fsspec  # must be importable here: fail, do not skip
    else:
        fsspec = pytest.importorskip("fsspec")
    return fsspec


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_project(tmp_path_factory.mktemp("remote"), rows=3000)


@pytest.fixture
def bucket(fsspec, project: Path):
    """The project's holdout parts copied to ``memory://bucket/holdout/``; removed afterwards."""
    memory = fsspec.filesystem("memory")
    for part in sorted((project / "holdout").glob("*.parquet")):
        memory.pipe(f"/bucket/holdout/{part.name}", part.read_bytes())
    yield memory
    memory.rm("/bucket", recursive=True)


def urls(project: Path, holdout: str, **settings):
    return workspace(project, datasets={"holdout": holdout, "reference": "reference",
                                        "current": "current/*.parquet"}, **settings)


def test_memory_urls_read_hash_and_stream_like_the_local_parts(project: Path, bucket) -> None:
    local = workspace(project)
    expected = local.dataset("holdout").frame
    sha = local.artifacts()["holdout"]["sha256"]
    for spec in ("memory://bucket/holdout/", "memory://bucket/holdout/*.parquet"):
        ws = urls(project, spec)
        found = ws.artifacts()["holdout"]
        assert found["sha256"] == sha  # the same bytes under the same relative paths
        assert found["path"] == "memory:///bucket/holdout"
        pd.testing.assert_frame_equal(ws.dataset("holdout").frame, expected)
        streamed = urls(project, spec, memory_budget=TINY_BUDGET).dataset("holdout")
        assert isinstance(streamed, StreamedDataset) and len(streamed.parts.files) == 4
        pd.testing.assert_frame_equal(pd.concat(streamed.parts.chunks(streamed.chunk_rows), ignore_index=True),
                                      expected)
    one = urls(project, "memory://bucket/holdout/part-001.parquet").dataset("holdout")
    assert len(one) == 750


def test_gates_on_a_memory_url_give_the_same_checks(project: Path, bucket) -> None:
    expected = run_gates(workspace(project))
    got = run_gates(urls(project, "memory://bucket/holdout/", memory_budget=TINY_BUDGET))
    assert_same_checks(expected, got)


def test_the_sha256_pin_applies_to_a_url(project: Path, bucket) -> None:
    sha = workspace(project).artifacts()["holdout"]["sha256"]
    assert len(urls(project, "memory://bucket/holdout/", sha256={"holdout": sha}).dataset("holdout")) == 3000
    bucket.pipe("/bucket/holdout/part-003.parquet", (project / "holdout" / "part-000.parquet").read_bytes())
    with pytest.raises(MlgateError, match=f"holdout: sha256 mismatch for memory:///bucket/holdout: expected {sha}"):
        urls(project, "memory://bucket/holdout/", sha256={"holdout": sha}).dataset("holdout")


def test_a_corrupt_or_missing_part_is_named(project: Path, bucket) -> None:
    bucket.pipe("/bucket/holdout/part-002.parquet", b"not parquet")
    with pytest.raises(MlgateError, match=r"dataset 'holdout': cannot read part memory:///bucket/holdout/"
                                          r"part-002\.parquet: ArrowInvalid"):
        urls(project, "memory://bucket/holdout/").dataset("holdout")
    with pytest.raises(MlgateError, match=r"^holdout: not found: memory://bucket/elsewhere/part-000\.parquet$"):
        urls(project, "memory://bucket/elsewhere/part-000.parquet").dataset("holdout")
    with pytest.raises(MlgateError, match=r"^holdout: no Parquet files found for 'memory://bucket/none/\*\.parquet'"):
        urls(project, "memory://bucket/none/*.parquet").dataset("holdout")
    with pytest.raises(MlgateError, match=r"^dataset 'holdout': nosuch://x/: ValueError: Protocol not known: nosuch"):
        urls(project, "nosuch://x/").dataset("holdout")


def test_a_part_that_goes_between_listing_and_hashing_is_named(project: Path, bucket, monkeypatch) -> None:
    from pytest_mlgate.evaluate import remote

    listed = remote.part_urls

    def listed_then_removed(name, url):
        found = listed(name, url)
        bucket.rm("/bucket/holdout/part-001.parquet")
        return found

    monkeypatch.setattr(remote, "part_urls", listed_then_removed)
    with pytest.raises(MlgateError, match=r"^dataset 'holdout': cannot read part memory:///bucket/holdout/"
                                          r"part-001\.parquet: FileNotFoundError"):
        urls(project, "memory://bucket/holdout/").dataset("holdout")


def test_parts_are_hashed_streaming_with_relative_paths(project: Path, bucket) -> None:
    lines = "".join(f"{p.name}\0{hashlib.sha256(p.read_bytes()).hexdigest()}\n"
                    for p in sorted((project / "holdout").glob("*.parquet")))
    assert urls(project, "memory://bucket/holdout/").artifacts()["holdout"]["sha256"] == (
        hashlib.sha256(lines.encode()).hexdigest())


def test_a_url_without_fsspec_names_the_dataset_and_the_extra(project: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "fsspec", None)  # as if not installed
    with pytest.raises(MlgateError) as caught:
        urls(project, "s3://bucket/holdout/*.parquet").dataset("holdout")
    assert str(caught.value) == ("dataset 'holdout': s3://bucket/holdout/*.parquet is an fsspec URL, and fsspec is "
                                 "not installed: pip install 'pytest-mlgate[remote]'")


def test_a_cloud_url_without_its_fsspec_package_names_it(fsspec, project: Path) -> None:
    try:
        import s3fs  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("s3fs is installed here: the message for a missing one cannot be seen")
    with pytest.raises(MlgateError, match=r"^dataset 'holdout': s3://bucket/holdout/\*\.parquet: ImportError: .*s3fs"):
        urls(project, "s3://bucket/holdout/*.parquet").dataset("holdout")


GATES = """
def test_auc(candidate, holdout):
    assert candidate.metric("roc_auc", holdout) >= 0.8


def test_drift(mlgate):
    mlgate.no_drift("reference", "holdout", features=["income", "region"])
"""


@pytest.mark.parametrize("budget", [None, TINY_BUDGET])
def test_a_file_url_end_to_end(pytester: pytest.Pytester, fsspec, project: Path, budget: str | None) -> None:
    copy_project(project, pytester.path)
    local_sha = workspace(pytester.path).artifacts()["holdout"]["sha256"]
    extra = f'memory_budget = "{budget}"\n' if budget else ""
    url = f"file://{pytester.path / 'holdout'}/"
    pytester.makefile(".toml", pyproject=(
        f'[tool.mlgate]\ncandidate = "candidate.skops"\ntarget = "defaulted"\n{extra}'
        f'[tool.mlgate.datasets]\nholdout = "{url}"\nreference = "reference"\n'
        f'[tool.mlgate.sha256]\nholdout = "{local_sha}"\n'))
    pytester.makepyfile(test_gates=GATES)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    record = json.loads((pytester.path / "reports" / "mlgate-decision.json").read_text())
    assert record["decision"] == "approved"
    assert record["artifacts"]["holdout"]["path"] == f"file://{pytester.path / 'holdout'}"
    assert record["datasets"]["holdout"]["sha256"] == local_sha and record["datasets"]["holdout"]["rows"] == 3000
    (pytester.path / "holdout" / "part-003.parquet").write_bytes(b"broken")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.stdout.fnmatch_lines([f"*holdout: sha256 mismatch for file://{pytester.path / 'holdout'}: expected*"])
    assert json.loads((pytester.path / "reports" / "mlgate-decision.json").read_text())["decision"] == "rejected"


def test_dask_workers_open_the_url_themselves(fsspec, project: Path) -> None:
    if os.environ.get("MLGATE_REQUIRE_DASK") == "1":
        import distributed  # noqa: F401  (must be importable here)
    else:
        pytest.importorskip("distributed")
    from distributed import LocalCluster

    from pytest_mlgate.engines import dask as engine

    url = f"file://{project / 'holdout'}/"
    expected = run_gates(workspace(project))
    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address="127.0.0.1:0",
                      processes=True) as cluster:
        try:
            ws = urls(project, url, engine="dask", dask_scheduler=cluster.scheduler_address)
            data = ws.dataset("holdout")
            assert data.parts.files[0] == f"file://{project / 'holdout' / 'part-000.parquet'}"
            assert_same_checks(expected, run_gates(ws))
        finally:
            engine.close(cluster.scheduler_address)


def test_a_file_url_of_one_part_with_other_types(fsspec, tmp_path: Path) -> None:
    """Typed loading applies to URL datasets as to paths: the reference's types, differences reported."""
    rng = np.random.default_rng(0)
    train = pd.DataFrame({"n": rng.integers(0, 9, 50), "y": rng.integers(0, 2, 50)})
    train.to_parquet(tmp_path / "train.parquet")
    train.astype({"n": "float64"}).to_parquet(tmp_path / "holdout.parquet")
    from pytest_mlgate.config import build
    from pytest_mlgate.evaluate.workspace import Workspace

    ws = Workspace(build(tmp_path, {"target": "y", "datasets": {
        "reference": "train.parquet", "holdout": f"file://{tmp_path / 'holdout.parquet'}"}}))
    data = ws.dataset("holdout")
    assert data.frame["n"].dtype == "int64" and data.frame["n"].tolist() == train["n"].tolist()
    assert [m.to_dict() for m in data.dtype_mismatches] == [
        {"column": "n", "expected": "int64", "found": "float64", "read_as": "int64"}]
