"""Fold one chunk of rows into mergeable statistics: the work every engine shares.

A :class:`Plan` says what to measure (which models, which row groupings, whether to profile the
columns); :func:`fold_chunk` turns one DataFrame chunk into :class:`Statistics`, and
``Statistics.merge`` adds two of them. The in-process streaming engine and the Dask engine call the
same two functions, so they produce the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pytest_mlgate.errors import MlgateError
from pytest_mlgate.evaluate.metrics import BUILTIN
from pytest_mlgate.evaluate.poisson import fold_class_replicates, fold_replicates, fold_row_replicates
from pytest_mlgate.evaluate.statistics import (
    MAX_VALUES,
    ClassHistograms,
    Column,
    Counts,
    JointHistogram,
    Moments,
    ScoreHistogram,
    Sketch,
    merge_maps,
)

#: Metrics whose per-row loss is folded as moments (and the paired difference of two models').
LOSSES = tuple(m for m in BUILTIN.values() if m.row_loss is not None)
ALL = "__all__"


@dataclass(frozen=True)
class Grouping:
    """Rows split by the values of ``columns`` (none: one group of all rows), after ``where``."""

    columns: tuple[str, ...] = ()
    where: str | None = None


@dataclass(frozen=True)
class Plan:
    """What one pass measures: model statistics per grouping, and column profiles."""

    roles: tuple[str, ...] = ()
    groupings: tuple[Grouping, ...] = (Grouping(),)
    columns: bool = True
    bootstrap: tuple[int, int] = (0, 0)   # (replicates, seed) of the Poisson bootstrap; 0: none
    outputs: bool = False                  # profile each model's output column (prediction drift)
    losses: tuple[str, ...] = ()           # with ``bootstrap``: fold these per-row losses' replicates instead


@dataclass
class Group:
    """Everything measured on one group of rows, for every model of the plan."""

    rows: int = 0
    cells: Counts = field(default_factory=Counts)         # (y, label of each classifier...)
    scores: dict[str, ScoreHistogram] = field(default_factory=dict)
    joint: JointHistogram | None = None
    losses: dict[tuple[str, str], Moments] = field(default_factory=dict)   # (metric, role)
    diffs: dict[str, Moments] = field(default_factory=dict)               # metric -> first - second
    target: Moments = field(default_factory=Moments)
    replicates: dict[tuple[str, ...], Any] = field(default_factory=dict)   # Poisson bootstrap counters
    class_scores: dict[str, ClassHistograms] = field(default_factory=dict)  # multi-class: one vs rest

    def merge(self, other: Group) -> Group:
        self.rows += other.rows
        merge_maps(self.replicates, other.replicates)
        self.cells.merge(other.cells)
        merge_maps(self.scores, other.scores)
        merge_maps(self.class_scores, other.class_scores)
        merge_maps(self.losses, other.losses)
        merge_maps(self.diffs, other.diffs)
        self.target.merge(other.target)
        if other.joint is not None:
            self.joint = other.joint if self.joint is None else self.joint.merge(other.joint)
        return self


@dataclass
class Statistics:
    """The statistics of a whole dataset (or of the chunks folded so far)."""

    rows: int = 0
    columns: dict[str, Column] = field(default_factory=dict)
    outputs: dict[str, Column] = field(default_factory=dict)   # role -> profile of its output column
    groups: dict[Grouping, dict[Any, Group]] = field(default_factory=dict)
    nulls: dict[Grouping, int] = field(default_factory=dict)   # rows with a null grouping value
    kinds: dict[str, str] = field(default_factory=dict)        # role -> label / score / value
    labels: tuple[str, ...] = ()                               # roles whose labels the cells hold

    def merge(self, other: Statistics) -> Statistics:
        self.rows += other.rows
        merge_maps(self.columns, other.columns)
        merge_maps(self.outputs, other.outputs)
        for grouping, groups in other.groups.items():
            merge_maps(self.groups.setdefault(grouping, {}), groups)
        for grouping, count in other.nulls.items():
            self.nulls[grouping] = self.nulls.get(grouping, 0) + count
        self.kinds.update(other.kinds)
        self.labels = self.labels or other.labels
        return self


@dataclass
class Outputs:
    """One model's outputs on one chunk."""

    label: np.ndarray | None = None
    score: np.ndarray | None = None
    proba: np.ndarray | None = None
    value: np.ndarray | None = None


def model_outputs(model: Any, chunk: Any) -> Outputs:
    """Labels, binary score, probabilities or values of ``model`` (a ModelUnderTest) on a chunk
    Dataset, with the same validation as in memory."""
    if not model.is_classifier:
        return Outputs(value=np.asarray(model.predict(chunk), dtype=float))
    out = Outputs(label=model.predict(chunk))
    if hasattr(model.model, "predict_proba"):
        out.proba = model.predict_proba(chunk)
        if out.proba.shape[1] == 2:
            out.score = model.score(chunk)
    return out


def fold_chunk(frame: Any, name: str, target: str | None, models: dict[str, Any], plan: Plan,
               offset: int = 0) -> Statistics:
    """The statistics of one chunk (a DataFrame) for ``plan``; ``models`` maps role to a
    ModelUnderTest; ``offset`` is the dataset position of the chunk's first row (it keys the
    Poisson bootstrap's weights)."""
    from pytest_mlgate.evaluate.models import Dataset

    stats = Statistics(rows=len(frame))
    if plan.columns:
        stats.columns = {str(c): profile_column(frame[c]) for c in frame.columns}
    if not plan.roles:
        return stats
    chunk = Dataset(name, frame, target)
    y = chunk.y
    outputs = {role: model_outputs(fresh(models[role]), chunk) for role in plan.roles}
    stats.kinds = {role: _kind(out) for role, out in outputs.items()}
    stats.labels = tuple(role for role, out in outputs.items() if out.label is not None)
    if plan.outputs:
        stats.outputs = {role: profile_column(_output_column(out)) for role, out in outputs.items()}
    first = models[plan.roles[0]]
    classes = {role: models[role].classes for role in plan.roles}
    positions = offset + np.arange(len(frame))
    for grouping in plan.groupings:
        keys, selected, nulls = _group_keys(chunk, grouping)
        stats.nulls[grouping] = nulls
        groups = stats.groups[grouping] = {}
        for key, rows in _split(keys, selected):
            taken = {r: _take(o, rows) for r, o in outputs.items()}
            group = groups[key] = _measure(y[rows], taken, first)
            _class_scores(group, y[rows], taken, classes, positions[rows], (0, 0) if plan.losses else plan.bootstrap)
            if plan.bootstrap[0] and group.rows and plan.losses:
                _loss_replicates(group, positions[rows], y[rows], taken, first, plan)
            elif plan.bootstrap[0] and group.rows:
                _replicates(group, positions[rows], y[rows], taken, first, plan.bootstrap)
    return stats


def _output_column(out: Outputs) -> Any:
    """The output prediction drift compares: a binary score, a predicted label or a value."""
    import pandas as pd

    if out.score is not None:
        return pd.Series(out.score, name="score")
    return pd.Series(out.value, name="prediction") if out.value is not None else pd.Series(out.label, name="predicted_label")


def _replicates(group: Group, rows: np.ndarray, y: np.ndarray, outputs: dict[str, Outputs], first: Any,
                bootstrap: tuple[int, int]) -> None:
    """The group's Poisson bootstrap counters: score histograms, or squared errors and the target."""
    for needs in ("score", "value"):
        found = {r: getattr(o, needs) for r, o in outputs.items() if getattr(o, needs) is not None}
        if found:
            group.replicates.update(fold_replicates(rows, y, found, needs, first.pos_label, *bootstrap))


def _loss_replicates(group: Group, rows: np.ndarray, y: np.ndarray, outputs: dict[str, Outputs], first: Any,
                     plan: Plan) -> None:
    """The group's Poisson bootstrap moments of each model's per-row ``plan.losses`` (fairness on
    log loss or Brier score), keyed ``("loss", metric, role)``."""
    values = {}
    for metric in (m for m in LOSSES if m.name in plan.losses):
        for role, out in outputs.items():
            output = getattr(out, metric.needs)
            if output is not None:
                values[("loss", metric.name, role)] = metric.row_loss(y, output, first.pos_label, first.classes)
    group.replicates.update(fold_row_replicates(rows, values, *plan.bootstrap))


def _class_scores(group: Group, y: np.ndarray, outputs: dict[str, Outputs], classes: dict[str, Any],
                  rows: np.ndarray, bootstrap: tuple[int, int]) -> None:
    """Multi-class classifiers' one-vs-rest score histograms (probability column ``k``, class ``k``
    positive), and with a bootstrap their replicate histograms."""
    probas = {r: o.proba for r, o in outputs.items() if o.score is None and o.proba is not None
              and classes[r] is not None}
    if not probas or not group.rows:
        return
    for role, proba in probas.items():
        group.class_scores[role] = ClassHistograms.of(y, proba, classes[role])
    if bootstrap[0]:
        group.replicates.update(fold_class_replicates(rows, y, probas, classes, *bootstrap))


def fresh(model: Any) -> Any:
    """A copy of a ModelUnderTest without cached outputs (a chunk's outputs must not be kept)."""
    return type(model)(model.role, model.model, model.artifact, positive_label=model.positive_label,
                       threshold=model.threshold)


def _kind(out: Outputs) -> str:
    return "value" if out.value is not None else "score" if out.score is not None else "label"


def _take(out: Outputs, rows: np.ndarray | slice) -> Outputs:
    return Outputs(*(None if a is None else a[rows] for a in (out.label, out.score, out.proba, out.value)))


def _group_keys(chunk: Any, grouping: Grouping) -> tuple[np.ndarray | None, np.ndarray, int]:
    """Per-row group keys (None: all rows one group), the rows kept by ``where``, null-key rows."""
    frame = chunk.frame
    selected = np.ones(len(frame), dtype=bool)
    if grouping.where is not None:
        try:
            selected = np.asarray(frame.eval(grouping.where), dtype=bool)
        except Exception as exc:
            raise MlgateError(f"dataset '{chunk.name}': bad slice query {grouping.where!r}: {exc}") from None
    if not grouping.columns:
        return None, selected, 0
    parts = frame[[chunk.column(c).name for c in grouping.columns]]
    missing = parts.isna().any(axis=1).to_numpy()
    keys = np.empty(len(frame), dtype=object)
    keys[:] = list(parts.itertuples(index=False, name=None))
    return keys, selected & ~missing, int((missing & selected).sum())


def group_mask(data: Any, grouping: Grouping, key: Any) -> np.ndarray:
    """The rows of ``data`` (a Dataset) in group ``key`` of ``grouping`` (ALL: every row ``where`` keeps)."""
    keys, selected, _ = _group_keys(data, grouping)
    if keys is None:
        return selected
    return selected & np.fromiter((k == key for k in keys), bool, len(keys))


def _split(keys: np.ndarray | None, selected: np.ndarray) -> list[tuple[Any, np.ndarray | slice]]:
    if keys is None:
        return [(ALL, slice(None) if selected.all() else selected)]
    import pandas as pd

    codes, uniques = pd.factorize(keys[selected])
    where = np.flatnonzero(selected)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    return [(tuple(uniques[g]) if isinstance(uniques[g], tuple) else uniques[g],
             where[order[bounds[g]:bounds[g + 1]]]) for g in range(len(uniques))]


def _measure(y: np.ndarray, outputs: dict[str, Outputs], first: Any) -> Group:
    group = Group(rows=len(y))
    if not len(y):
        return group
    labels = [o.label for o in outputs.values() if o.label is not None]
    if labels:
        group.cells = Counts.of(y, *labels)
    positive = np.asarray(y) == first.pos_label
    scores = {r: o.score for r, o in outputs.items() if o.score is not None}
    for role, score in scores.items():
        group.scores[role] = ScoreHistogram.of(positive, score)
    if len(scores) == 2:
        group.joint = JointHistogram.of(positive, *scores.values())
    values = [o.value for o in outputs.values() if o.value is not None]
    if values:
        group.target = Moments.of(np.asarray(y, dtype=float))
    _losses(group, y, outputs, first)
    return group


def _losses(group: Group, y: np.ndarray, outputs: dict[str, Outputs], first: Any) -> None:
    for metric in LOSSES:
        rows = {}
        for role, out in outputs.items():
            output = getattr(out, metric.needs)
            if output is not None:
                rows[role] = metric.row_loss(y, output, first.pos_label, first.classes)
                group.losses[(metric.name, role)] = Moments.of(rows[role])
        if len(rows) == 2:
            a, b = rows.values()
            group.diffs[metric.name] = Moments.of(a - b)


def profile_column(series: Any) -> Column:
    """Rows, nulls and a sketch (numeric) or category counts of one chunk of one column."""
    import pandas as pd

    dtype = series.dtype
    nulls = int(series.isna().sum())
    column = Column(_column_kind(dtype), str(dtype), len(series), nulls)
    if column.kind == "numeric":
        values = series.to_numpy(dtype=float, na_value=np.nan)
        column.sketch = Sketch.of(values[~np.isnan(values)] if nulls else values)
        if pd.api.types.is_integer_dtype(dtype):
            counts = Counts.of((series.dropna() if nulls else series).to_numpy(dtype=object))
            column.categories, column.overflow = (None, True) if len(counts.table) > MAX_VALUES else (counts, False)
    elif column.kind == "categorical":
        present = series.dropna() if nulls else series
        column.categories = Counts.of(present.to_numpy(dtype=object))
    return column


def _column_kind(dtype: Any) -> str:
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
        return "categorical"
    return "numeric"
