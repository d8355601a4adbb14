"""Per-group score and loss metrics of fairness gates (ROC AUC, average precision, log loss, Brier).

Their bootstrap draws are the Poisson bootstrap of :mod:`pytest_mlgate.evaluate.poisson` folded per
group: a row's weight in a replicate is a function of the seed, the row's position in the dataset
and the replicate alone, so in memory (each group's rows at their positions ``0..n-1``), streamed
and on Dask the same replicates are folded and the intervals agree: identical integer counts for
the scores (ROC AUC and average precision per replicate read off 1,024 score bins), float sums up
to rounding for the losses. In memory the point values are fairlearn's MetricFrame on the rows;
streamed they are read off each group's folded statistics: the loss moments (exact up to rounding)
and the 16,384-bin score histogram, whose ROC AUC is within the group's ``auc_bound``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pytest_mlgate.checks.fairness_groups import UNDEFINED, GroupMetric, Groups, frame_values
from pytest_mlgate.evaluate.fold import Group
from pytest_mlgate.evaluate.metrics import BUILTIN, Metric
from pytest_mlgate.evaluate.poisson import fold_replicates, fold_row_replicates, replicate_auc

SCORES = ("roc_auc", "average_precision")
LOSSES = ("log_loss", "brier")


def replicated(spec: Metric | None, models: Sequence[Any]) -> bool:
    """Whether ``spec`` is a built-in metric whose per-group draws come from Poisson replicates
    (ROC AUC, average precision and Brier of binary classifiers; log loss of any classifier)."""
    if spec is None or spec.name not in SCORES + LOSSES or BUILTIN.get(spec.name) is not spec:
        return False
    return spec.name == "log_loss" or all(m.classes is not None and len(m.classes) == 2 for m in models)


def replicate_values(name: str, found: dict[tuple[str, ...], Any], role: str) -> np.ndarray:
    """Each replicate's ``name`` of model ``role`` from one group's replicate counters (NaN where undefined)."""
    if name == "roc_auc":
        return replicate_auc(found[("scores", role)])
    if name == "average_precision":
        return found[("scores", role)].average_precision()
    moments = found[("loss", name, role)]
    return np.where(moments.weight > 0, moments.mean, np.nan)


def memory_draws(spec: Metric, y: np.ndarray, outputs: Sequence[np.ndarray], grp: Groups, first: Any,
                 n_boot: int, seed: int) -> list[GroupMetric]:
    """Rows in memory: MetricFrame point values, Poisson replicates folded over each group's rows."""
    y = np.asarray(y)
    roles = [str(i) for i in range(len(outputs))]
    draws = [np.full((n_boot, len(grp.labels)), np.nan) for _ in outputs]
    order = np.argsort(grp.codes, kind="stable")
    bounds = np.searchsorted(grp.codes[order], np.arange(len(grp.labels) + 1))
    for g in range(len(grp.labels)):
        rows = order[bounds[g]:bounds[g + 1]]  # dataset positions, increasing
        if not len(rows):
            continue
        taken = {role: np.asarray(out)[rows] for role, out in zip(roles, outputs)}
        if spec.name in SCORES:
            found = fold_replicates(rows, y[rows], taken, "score", first.pos_label, n_boot, seed)
        else:
            losses = {("loss", spec.name, role): spec.row_loss(y[rows], out, first.pos_label, first.classes)
                      for role, out in taken.items()}
            found = fold_row_replicates(rows, losses, n_boot, seed)
        for boot, role in zip(draws, roles):
            boot[:, g] = replicate_values(spec.name, found, role)
    return [GroupMetric(spec.name, frame_values(spec, y, out, grp, first.pos_label, first.classes), boot, UNDEFINED)
            for out, boot in zip(outputs, draws)]


def streamed_draws(spec: Metric, groups: Sequence[Group], stats: Any, models: Sequence[Any], data: Any
                   ) -> list[GroupMetric]:
    """Folded statistics: point values off each group's bins or moments, draws off its replicates,
    and for ROC AUC each group's error bound."""
    from pytest_mlgate.evaluate.readouts import auc_bound, metric_value

    found = []
    for model in models:
        values = np.array([metric_value(spec, g, stats, model, data) if _defined(spec.name, g, model.role)
                           else np.nan for g in groups], dtype=float)
        draws = np.column_stack([replicate_values(spec.name, g.replicates, model.role) for g in groups])
        bounds = np.array([auc_bound(g, model.role) or 0.0 for g in groups]) if spec.name == "roc_auc" else None
        found.append(GroupMetric(spec.name, values, draws, UNDEFINED, bounds))
    return found


def _defined(name: str, group: Group, role: str) -> bool:
    """Whether the group has what ``name`` needs: both classes (ROC AUC), positives (average precision), rows."""
    if name in SCORES:
        neg, pos = group.scores[role].counts.sum(axis=1)
        return bool(pos) and (bool(neg) or name == "average_precision")
    moments = group.losses.get((name, role))
    return moments is not None and moments.n > 0


def disparity_bound(gm: GroupMetric, judged: np.ndarray, measure: str) -> float | None:
    """Largest error of a ratio or difference of binned per-group values: every value is within its
    group's bound ``b`` (here the largest), so the lowest and the highest are; the difference is
    within ``2b`` and the ratio ``low / high`` within ``b (high + low) / (high (high - b))``."""
    if gm.bounds is None or measure not in ("ratio", "difference"):
        return None
    keep = judged & ~np.isnan(gm.values)
    if keep.sum() < 2:
        return None
    b, low, high = float(gm.bounds[keep].max()), float(gm.values[keep].min()), float(gm.values[keep].max())
    if measure == "difference":
        return 2 * b
    return b * (high + low) / (high * (high - b)) if high > b else float("inf")
