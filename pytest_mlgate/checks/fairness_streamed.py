"""Fairness group rates of a streamed dataset, from the confusion cells folded per group.

The cells (group x truth x each model's predicted label) are exact counts, so the rates, the
MetricFrame values and the multinomial bootstrap of the cells are those of the in-memory gate.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from pytest_mlgate.checks.fairness_groups import Evaluation, Groups, cell_draws
from pytest_mlgate.errors import MlgateError


def measure(data: Any, models: Sequence[Any], sensitive: str | Sequence[str], counted: list[str],
            others: list[str], *, n_boot: int, seed: int) -> Evaluation:
    """Per-group rate metrics ``counted`` of ``models`` on a streamed dataset."""
    columns = [sensitive] if isinstance(sensitive, str) else list(sensitive)
    if not columns:
        raise MlgateError("fairness: no sensitive column given and [tool.mlgate] sensitive is empty")
    if others:
        raise MlgateError(f"fairness: metric '{others[0]}' needs rows; on streamed dataset '{data.name}' "
                          "fairness gates use rate metrics (selection_rate, true_positive_rate, ...)")
    for model in models:
        if not model.is_classifier:
            raise MlgateError(f"fairness: model '{model.role}' is not a classifier; group rates need predicted labels")
    roles = tuple(m.role for m in models)
    grouping, stats = data.groups(tuple(columns), roles=roles, models={m.role: m for m in models})
    missing = stats.nulls.get(grouping, 0)
    if missing:
        raise MlgateError(f"dataset '{data.name}': sensitive column(s) {', '.join(columns)} have "
                          f"{missing} missing values")
    grp, counts = _cells(stats, grouping, columns, [stats.labels.index(r) for r in roles], models[0].pos_label)
    ev = Evaluation(grp, [{} for _ in models])
    if counted:
        rng = np.random.default_rng(seed)
        for mine, got in zip(ev.metrics, cell_draws(counts, grp, len(models), counted, n_boot, rng)):
            mine.update(got)
    return ev


def _cells(stats: Any, grouping: Any, columns: list[str], positions: list[int], pos_label: Any
           ) -> tuple[Groups, np.ndarray]:
    """Groups keyed by their values as text (as the in-memory gate keys them) and the flat cells."""
    by_text: dict[tuple[str, ...], Counter] = {}
    for key, group in stats.groups.get(grouping, {}).items():
        text = tuple(str(v) for v in key)
        cells = by_text.setdefault(text, Counter())
        for cell, count in group.cells.table.items():
            bits = (int(cell[0] == pos_label), *(int(cell[1 + p] == pos_label) for p in positions))
            cells[bits] += count
    ordered = sorted(by_text)
    shape = (len(ordered), 2) + (2,) * len(positions)
    counts = np.zeros(shape, dtype=np.int64)
    for g, text in enumerate(ordered):
        for bits, count in by_text[text].items():
            counts[(g, *bits)] += count
    keys = ordered if len(columns) > 1 else [t[0] for t in ordered]
    labels = [", ".join(f"{c}={v}" for c, v in zip(columns, key)) for key in ordered]
    sizes = counts.reshape(len(ordered), -1).sum(axis=1)
    return Groups(columns, np.zeros(0, dtype=np.int64), keys, labels, None, counts=sizes), counts.ravel()
