"""The warm cache: predictions and streamed statistics reused across runs, and only when valid."""

from __future__ import annotations

import shutil
from pathlib import Path

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
from pytest_mlgate.evaluate.models import Dataset
from pytest_mlgate.gates import MlGate


@pytest.fixture()
def project(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Path:
    base = _base(tmp_path_factory)
    shutil.copytree(base, tmp_path / "p")
    return tmp_path / "p"


_BASE: list[Path] = []


def _base(factory: pytest.TempPathFactory) -> Path:
    if not _BASE:
        _BASE.append(write_project(factory.mktemp("cache-base"), rows=4000))
    return _BASE[0]


def _outputs(ws) -> dict[str, float]:
    data = ws.dataset("holdout")
    return {role: ws.model(role).metric("log_loss", data) for role in ("candidate", "baseline")}


def test_a_second_run_reads_predictions_from_the_cache(project: Path) -> None:
    cold = workspace(project)
    first = _outputs(cold)
    assert sum(cold.model("candidate").calls.values()) == 1
    warm = workspace(project)
    assert _outputs(warm) == first
    assert warm.model("candidate").calls == {} and warm.model("baseline").calls == {}
    assert warm.cache.hits == 4  # per model: what it is (it need not load) and its metric value
    assert list((project / ".mlgate" / "cache").glob("*/*"))


def test_no_cache_neither_reads_nor_writes(project: Path) -> None:
    _outputs(workspace(project, no_cache=True))
    assert not (project / ".mlgate" / "cache").exists()
    _outputs(workspace(project))
    off = workspace(project, no_cache=True)
    _outputs(off)
    assert sum(off.model("candidate").calls.values()) == 1


def test_damaged_entries_are_ignored_and_rebuilt(project: Path) -> None:
    first = _outputs(workspace(project))
    entries = list((project / ".mlgate" / "cache").glob("*/*"))
    for i, path in enumerate(entries):
        data = bytearray(path.read_bytes())
        if i % 2:
            data[-5] ^= 0xFF  # a flipped byte
        else:
            data = data[: len(data) // 2]  # a truncated write
        path.write_bytes(bytes(data))
    again = workspace(project)
    assert _outputs(again) == first
    assert sum(again.model("candidate").calls.values()) == 1  # recomputed, not read
    third = workspace(project)
    assert _outputs(third) == first and third.model("candidate").calls == {}  # rewritten whole


def test_different_model_bytes_never_share_an_entry(project: Path) -> None:
    _outputs(workspace(project))
    shutil.copy(project / "baseline.skops", project / "candidate.skops")
    swapped = workspace(project)
    values = _outputs(swapped)
    assert values["candidate"] == values["baseline"]
    assert swapped.model("candidate").calls == {}  # the baseline's own entry, by its sha256


def test_the_cache_stays_within_its_size_dropping_the_least_recent(project: Path) -> None:
    ws = workspace(project, cache_size="150KiB")  # room for two of the 64 KB probability tables
    for name in ("holdout", "reference", "current"):
        ws.model("candidate").predict_proba(ws.dataset(name))
    total = sum(p.stat().st_size for p in (project / ".mlgate" / "cache").glob("*/*"))
    assert 0 < total <= 150 * 1024
    later = workspace(project, cache_size="150KiB")
    later.model("candidate").predict_proba(later.dataset("current"))
    assert later.model("candidate").calls == {}
    later.model("candidate").predict_proba(later.dataset("holdout"))
    assert later.model("candidate").calls == {("predict_proba", "holdout"): 1}


def test_an_unwritable_cache_is_skipped(project: Path) -> None:
    (project / "blocked").write_text("a file where the cache directory would be")
    ws = workspace(project, cache="blocked/cache")
    assert _outputs(ws)["candidate"] > 0
    assert (project / "blocked").is_file()


def test_streamed_statistics_are_reused(project: Path) -> None:
    cold = workspace(project, memory_budget=TINY_BUDGET)
    expected = run_gates(cold)
    assert cold.dataset("holdout").passes > 0
    warm = workspace(project, memory_budget=TINY_BUDGET)
    assert_same_checks(expected, run_gates(warm))
    assert all(warm.dataset(n).passes == 0 for n in ("holdout", "reference", "current"))


def test_the_cli_flag_turns_it_off(pytester: pytest.Pytester, project: Path) -> None:
    copy_project(project, pytester.path)
    pytester.makefile(".toml", pyproject=(
        '[tool.mlgate]\ncandidate = "candidate.skops"\ntarget = "defaulted"\n'
        '[tool.mlgate.datasets]\nholdout = "holdout"\n'))
    pytester.makepyfile(test_gates="def test_auc(candidate, holdout):\n"
                                   "    assert candidate.metric('roc_auc', holdout) > 0.7\n")
    pytester.runpytest("-p", "no:cacheprovider", "--mlgate-no-cache").assert_outcomes(passed=1)
    assert not (pytester.path / ".mlgate" / "cache").exists()
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    assert list((pytester.path / ".mlgate" / "cache").glob("*/*"))


def _row_gates(ws) -> list:
    """The scale benchmark's gates: metrics of both models, no_regression, drift on every column, nulls."""
    gate = MlGate("warm", ws)
    holdout = ws.dataset("holdout")
    for role in ("candidate", "baseline"):
        for name in ("accuracy", "precision", "recall", "f1", "roc_auc"):
            ws.model(role).metric(name, holdout)
    for call in (lambda: gate.no_drift("reference", "holdout"), lambda: gate.no_drift("reference", "current"),
                 lambda: gate.no_missing("holdout", max_rate=0.05)):
        try:
            call()
        except AssertionError:
            pass  # a failing check is recorded; the comparison is over all of them
    return gate.checks


def test_a_warm_run_reads_no_rows_and_retests_nothing(project: Path) -> None:
    cold = workspace(project)
    expected = _row_gates(cold)
    assert cold.dataset("holdout").reads > 0 and cold.dataset("reference").reads > 0
    warm = workspace(project)
    assert_same_checks(expected, _row_gates(warm))
    assert [c.message for c in _row_gates(warm)] == [c.message for c in expected]
    assert {n: warm.dataset(n).reads for n in ("holdout", "reference", "current")} == {
        "holdout": 0, "reference": 0, "current": 0}
    assert warm.model("candidate").calls == {} and warm.model("baseline").calls == {}
    assert not warm.model("candidate").loaded and not warm.model("baseline").loaded  # nothing to run


def test_a_known_model_loads_when_first_used_and_only_then(project: Path) -> None:
    _outputs(workspace(project))
    warm = workspace(project)
    model = warm.model("candidate")
    assert not model.loaded and list(model.classes) == [0, 1] and model.is_classifier
    assert _outputs(warm)["candidate"] > 0 and not model.loaded  # outputs from the cache
    assert hasattr(model.model, "predict_proba") and model.loaded
    trusting = workspace(project, skops_trusted=["numpy.dtype"])  # other loading settings: loaded again
    assert trusting.model("candidate").loaded


def test_a_model_that_no_longer_loads_fails_when_used(project: Path) -> None:
    _outputs(workspace(project))
    warm = workspace(project)
    model = warm.model("candidate")
    assert not model.loaded

    def broken() -> None:
        raise MlgateError("model 'candidate': cannot load candidate.skops")

    model._loader = broken  # as if its libraries had changed under the same bytes
    rows = Dataset("unseen", warm.dataset("holdout").frame.head(50), "defaulted")  # outputs not cached
    with pytest.raises(MlgateError, match="cannot load candidate.skops"):
        model.predict_proba(rows)


def test_drift_results_are_never_shared_across_different_bytes(project: Path) -> None:
    _row_gates(workspace(project))
    shifted = workspace(project).dataset("reference").frame.copy()
    shifted["income"] = shifted["income"] * 3 + 1  # one column changed: another fingerprint
    parts = sorted((project / "current").glob("*.parquet"))
    for part in parts[1:]:
        part.unlink()
    shifted.to_parquet(parts[0], index=False)
    changed = workspace(project)
    checks = _row_gates(changed)
    assert changed.dataset("current").reads > 0 and changed.dataset("reference").reads > 0  # tested again
    drift = next(c for c in checks if c.name.startswith("data_drift[reference->current]"))
    assert "income" in drift.details["drifted"] and drift.details["drifted"] == ["income"]


def test_a_project_loader_hook_always_loads_at_once(pytester: pytest.Pytester, project: Path) -> None:
    copy_project(project, pytester.path)
    pytester.makefile(".toml", pyproject=(
        '[tool.mlgate]\ncandidate = "candidate.skops"\ntarget = "defaulted"\n'
        '[tool.mlgate.datasets]\nholdout = "holdout"\n'))
    pytester.makeconftest("import pathlib\n\n"
                          "def pytest_mlgate_load_model(path, settings):\n"
                          "    with pathlib.Path('loads.txt').open('a') as fh:\n"
                          "        fh.write(path.name + '\\n')\n"
                          "    return None  # the built-in loader reads the file\n")
    pytester.makepyfile(test_gates="def test_auc(candidate, holdout):\n"
                                   "    assert candidate.metric('roc_auc', holdout) > 0.7\n")
    for _ in range(2):
        pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    assert (pytester.path / "loads.txt").read_text().split() == ["candidate.skops", "candidate.skops"]


@pytest.mark.parametrize("budget", [None, TINY_BUDGET])
def test_another_target_on_the_same_bytes_is_not_read_from_the_cache(project: Path, budget: str | None) -> None:
    import pandas as pd
    from engine_scenarios import write_parts

    holdout = pd.read_parquet(project / "holdout")
    holdout["flipped"] = 1 - holdout["defaulted"]
    shutil.rmtree(project / "holdout")
    write_parts(holdout, project / "holdout", 4)
    extra = {} if budget is None else {"memory_budget": budget}

    def accuracy(target: str) -> float:
        ws = workspace(project, target=target, **extra)
        return ws.model("candidate").metric("accuracy", ws.dataset("holdout"))

    first = accuracy("defaulted")
    assert accuracy("flipped") == pytest.approx(1 - first)  # not the cached value for 'defaulted'
    assert accuracy("defaulted") == first


def test_a_loading_hooks_frame_is_never_cached_under_the_files_bytes(pytester: pytest.Pytester, project: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The hook's code is in no key: what it makes of the same bytes may change between runs."""
    import pandas as pd

    shutil.copy(project / "candidate.skops", pytester.path / "candidate.skops")
    pd.read_parquet(project / "holdout").to_csv(pytester.path / "holdout.csv", index=False)
    pytester.makefile(".toml", pyproject=(
        '[tool.mlgate]\ncandidate = "candidate.skops"\ntarget = "defaulted"\n'
        '[tool.mlgate.datasets]\nholdout = "holdout.csv"\n'))
    pytester.makeconftest("import os, pandas\n\n"
                          "def pytest_mlgate_load_dataset(path, settings):\n"
                          "    frame = pandas.read_csv(path)\n"
                          "    if os.environ.get('FLIP'):\n"
                          "        frame['defaulted'] = 1 - frame['defaulted']\n"
                          "    return frame\n")
    pytester.makepyfile(test_gates="def test_accuracy(candidate, holdout):\n"
                                   "    assert candidate.metric('accuracy', holdout) > 0.5\n")
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    monkeypatch.setenv("FLIP", "1")
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(failed=1)  # not the first run's value
