"""Fairness group metrics of a streamed dataset, from the statistics folded per group.

The cells (group x truth x each model's predicted label) are exact counts, so the rates, the
MetricFrame values and the multinomial bootstrap of the cells are those of the in-memory gate.
ROC AUC, average precision, log loss and Brier come from each group's score bins or loss moments,
with the Poisson bootstrap replicates of :mod:`pytest_mlgate.checks.fairness_scores`. Any other
metric needs rows: the caller judges it on the dataset's seeded uniform sample (:func:`needs_rows`).
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from pytest_mlgate.checks.fairness_groups import Evaluation, Groups, cell_draws
from pytest_mlgate.checks.fairness_scores import LOSSES, replicated, streamed_draws
from pytest_mlgate.errors import MlgateError
from pytest_mlgate.evaluate.fold import Group
from pytest_mlgate.evaluate.metrics import resolve


def needs_rows(others: list[str], models: Sequence[Any]) -> bool:
    """Whether a non-rate metric has no mergeable statistic (a custom metric, multi-class ROC AUC...)."""
    return bool(others) and not replicated(resolve(others[0]), models)


def measure(data: Any, models: Sequence[Any], sensitive: str | Sequence[str], counted: list[str],
            others: list[str], *, n_boot: int, seed: int) -> Evaluation:
    """Per-group rate metrics ``counted`` and the score or loss metric ``others`` (at most one) of
    ``models`` on a streamed dataset."""
    columns = [sensitive] if isinstance(sensitive, str) else list(sensitive)
    if not columns:
        raise MlgateError("fairness: no sensitive column given and [tool.mlgate] sensitive is empty")
    for model in models:
        if not model.is_classifier:
            raise MlgateError(f"fairness: model '{model.role}' is not a classifier; group rates need predicted labels")
    spec = resolve(others[0]) if others else None
    if needs_rows(others, models):
        raise MlgateError(f"fairness: metric '{others[0]}' needs rows; judge it on the sample of dataset '{data.name}'")
    roles = tuple(m.role for m in models)
    bootstrap = (n_boot, seed) if spec is not None else (0, 0)
    losses = (spec.name,) if spec is not None and spec.name in LOSSES else ()
    grouping, stats = data.groups(tuple(columns), roles=roles, models={m.role: m for m in models},
                                  bootstrap=bootstrap, losses=losses)
    missing = stats.nulls.get(grouping, 0)
    if missing:
        raise MlgateError(f"dataset '{data.name}': sensitive column(s) {', '.join(columns)} have "
                          f"{missing} missing values")
    merged = _by_text(stats.groups.get(grouping, {}))
    grp, counts = _cells(merged, columns, [stats.labels.index(r) for r in roles], models[0].pos_label)
    ev = Evaluation(grp, [{} for _ in models])
    if counted:
        rng = np.random.default_rng(seed)
        for mine, got in zip(ev.metrics, cell_draws(counts, grp, len(models), counted, n_boot, rng)):
            mine.update(got)
    if spec is not None:
        for mine, got in zip(ev.metrics, streamed_draws(spec, list(merged.values()), stats, models, data)):
            mine[spec.name] = got
    return ev


def _by_text(found: dict[Any, Group]) -> dict[tuple[str, ...], Group]:
    """Groups keyed by their values as text (as the in-memory gate keys them), in sorted order; keys
    that read the same are merged on copies (the folded statistics stay as they are)."""
    by_text: dict[tuple[str, ...], list[Group]] = {}
    for key, group in found.items():
        by_text.setdefault(tuple(str(v) for v in key), []).append(group)
    merged = {}
    for text in sorted(by_text):
        first, *rest = by_text[text]
        if rest:
            first = copy.deepcopy(first)
            for group in rest:
                first.merge(copy.deepcopy(group))
        merged[text] = first
    return merged


def _cells(merged: dict[tuple[str, ...], Group], columns: list[str], positions: list[int], pos_label: Any
           ) -> tuple[Groups, np.ndarray]:
    """The groups and their flat cells (group x truth x each model's label is the positive one)."""
    ordered = list(merged)
    shape = (len(ordered), 2) + (2,) * len(positions)
    counts = np.zeros(shape, dtype=np.int64)
    for g, text in enumerate(ordered):
        cells: Counter = Counter()
        for cell, count in merged[text].cells.table.items():
            cells[(int(cell[0] == pos_label), *(int(cell[1 + p] == pos_label) for p in positions))] += count
        for bits, count in cells.items():
            counts[(g, *bits)] += count
    keys = ordered if len(columns) > 1 else [t[0] for t in ordered]
    labels = [", ".join(f"{c}={v}" for c, v in zip(columns, key)) for key in ordered]
    sizes = counts.reshape(len(ordered), -1).sum(axis=1)
    return Groups(columns, np.zeros(0, dtype=np.int64), keys, labels, None, counts=sizes), counts.ravel()
