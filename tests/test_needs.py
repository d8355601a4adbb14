"""The declaration of which statistics each check family folds, the code that reads it, and the
README's streaming table agree."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pytest_mlgate.evaluate import needs, readouts
from pytest_mlgate.evaluate.metrics import BUILTIN

README = Path(__file__).resolve().parents[1] / "README.md"


def table_rows() -> list[tuple[str, str]]:
    """(gates, statistic) of every row of the table in "Large datasets: streaming, Dask and the warm cache"."""
    text = README.read_text()
    section = text[text.index("## Large datasets: streaming"):]
    section = section[:section.index("\n## ", 3)]
    table = section[section.index("| gates | statistic | result |"):].split("\n\n")[0]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in table.splitlines()[2:]]
    assert rows and all(len(r) == 3 for r in rows)
    return [(gates, statistic) for gates, statistic, _ in rows]


def names(cell: str) -> set[str]:
    return set(re.findall(r"`([a-z_0-9]+)`", cell))


def test_every_builtin_metric_has_a_declared_statistic_and_interval() -> None:
    assert set(needs.METRICS) == set(BUILTIN)
    assert set(needs.STATISTICS) >= {s for s in needs.METRICS.values()}
    assert {m.name: m.pairing for m in BUILTIN.values() if m.pairing not in needs.INTERVALS} == {}
    assert readouts.STREAMED_METRICS == tuple(needs.METRICS)
    assert set(readouts.FROM_CELLS) == {m for m, s in needs.METRICS.items() if s == "cells"}


@pytest.mark.parametrize("metric", sorted(BUILTIN))
def test_the_readme_table_says_what_each_metric_folds(metric: str) -> None:
    rows = [(gates, statistic) for gates, statistic in table_rows() if metric in names(gates)]
    values = [s for g, s in rows if "interval" not in g]
    intervals = [s for g, s in rows if "interval" in g]
    assert values and intervals, f"README table: no row names `{metric}` and its interval"
    wanted = needs.STATISTICS[needs.METRICS[metric]]
    assert all(wanted in s for s in values), (metric, wanted, values)
    for statistic in needs.INTERVALS[BUILTIN[metric].pairing]:
        assert any(needs.STATISTICS[statistic] in s for s in intervals), (metric, statistic, intervals)


@pytest.mark.parametrize("family", sorted(needs.FAMILIES))
def test_the_readme_table_says_what_each_family_folds(family: str) -> None:
    found = " ".join(s for g, s in table_rows() if family in names(g))
    assert found, f"README table: no row names `{family}`"
    for statistic in needs.FAMILIES[family]:
        assert needs.STATISTICS[statistic] in found, (family, statistic)


@pytest.mark.parametrize("metric", sorted(needs.MULTICLASS))
def test_the_readme_table_says_what_a_multiclass_metric_folds(metric: str) -> None:
    rows = [(gates, statistic) for gates, statistic in table_rows() if metric in names(gates) and "multi-class" in gates]
    values = [s for g, s in rows if "interval" not in g]
    intervals = [s for g, s in rows if "interval" in g]
    assert values and intervals, f"README table: no multi-class row names `{metric}` and its interval"
    assert all(needs.STATISTICS[needs.MULTICLASS[metric]] in s for s in values), (metric, values)
    for statistic in needs.MULTICLASS_INTERVALS[metric]:
        assert any(needs.STATISTICS[statistic] in s for s in intervals), (metric, statistic, intervals)
    assert readouts.FROM_CLASS_BINS == tuple(m for m, s in needs.MULTICLASS.items() if s == "class bins")
