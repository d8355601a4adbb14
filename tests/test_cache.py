"""The warm cache: predictions and streamed statistics reused across runs, and only when valid."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from engine_scenarios import (
    TINY_BUDGET,
    assert_same_checks,
    run_gates,
    workspace,
    write_project,
)


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
    assert warm.cache.hits == 2
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
        ws.model("candidate").metric("accuracy", ws.dataset(name))
    total = sum(p.stat().st_size for p in (project / ".mlgate" / "cache").glob("*/*"))
    assert 0 < total <= 150 * 1024
    later = workspace(project, cache_size="150KiB")
    later.model("candidate").metric("accuracy", later.dataset("current"))
    assert later.model("candidate").calls == {}
    later.model("candidate").metric("accuracy", later.dataset("holdout"))
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
    for item in project.iterdir():
        (shutil.copytree if item.is_dir() else shutil.copy)(item, pytester.path / item.name)
    pytester.makefile(".toml", pyproject=(
        '[tool.mlgate]\ncandidate = "candidate.skops"\ntarget = "defaulted"\n'
        '[tool.mlgate.datasets]\nholdout = "holdout"\n'))
    pytester.makepyfile(test_gates="def test_auc(candidate, holdout):\n"
                                   "    assert candidate.metric('roc_auc', holdout) > 0.7\n")
    pytester.runpytest("-p", "no:cacheprovider", "--mlgate-no-cache").assert_outcomes(passed=1)
    assert not (pytester.path / ".mlgate" / "cache").exists()
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    assert list((pytester.path / ".mlgate" / "cache").glob("*/*"))
