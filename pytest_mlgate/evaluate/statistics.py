"""Mergeable statistics: what a check needs from the rows, folded chunk by chunk.

Every class here is built from one chunk of rows, merged with ``merge`` (associative and
commutative, so chunks may be folded in any order, on any machine) and keeps nothing
proportional to the number of rows. Error bounds:

- :class:`Moments` and :class:`Counts` are exact (integer counts; float sums up to rounding).
- :class:`ScoreHistogram` bins scores in ``[0, 1]`` into ``BINS`` equal bins. ROC AUC from the
  bins differs from the exact AUC by at most ``auc_bound()`` = half the share of
  (positive, negative) pairs that share a bin (pairs in different bins are ordered correctly).
- :class:`ClassHistograms` holds one such histogram per class of a multi-class model (one vs
  rest), on ``class_bins(classes)`` bins; the macro-averaged ROC AUC is within the mean of the
  classes' ``auc_bound()`` (the mean of errors each within its bound).
- :class:`Sketch` is Apache DataSketches' KLL quantile sketch: a rank (CDF) is within
  ``rank_error`` (the library's normalized rank error at 99% confidence) of the exact one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

BINS = 1 << 14        # score bins for AUC / average precision
JOINT_BINS = 1 << 8   # per-model bins of the paired (candidate x baseline) score histogram
SKETCH_K = 2000       # KLL accuracy parameter: normalized rank error about 0.14%
MAX_VALUES = 1000     # distinct values counted exactly in an integer column
MIN_CLASS_BINS = 256  # fewest score bins per class of a multi-class model


def class_bins(classes: int, bins: int = BINS, floor: int = MIN_CLASS_BINS) -> int:
    """Score bins per class of a multi-class model: ``bins`` over the class count rounded up to a
    power of two (one model's histograms on one group take no more than a binary model's), at
    least ``floor`` (beyond ``bins / floor`` classes they grow with the class count)."""
    return max(floor, bins >> max(0, (classes - 1).bit_length()))


@dataclass
class Moments:
    """Count, mean and sum of squared deviations of a stream of numbers.

    Merged with the pairwise update of Chan, Golub and LeVeque (1979), "Updating formulae and a
    pairwise algorithm for computing sample variances", which stays accurate for large counts.
    """

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0

    @classmethod
    def of(cls, values: np.ndarray) -> Moments:
        values = np.asarray(values, dtype=float)
        if not len(values):
            return cls()
        mean = float(np.mean(values))
        return cls(len(values), mean, float(np.sum((values - mean) ** 2)))

    def merge(self, other: Moments) -> Moments:
        if other.n == 0:
            return self
        if self.n == 0:
            self.n, self.mean, self.m2 = other.n, other.mean, other.m2
            return self
        n = self.n + other.n
        delta = other.mean - self.mean
        self.mean += delta * other.n / n
        self.m2 += other.m2 + delta * delta * self.n * other.n / n
        self.n = n
        return self

    def variance(self, ddof: int = 1) -> float:
        return self.m2 / (self.n - ddof) if self.n > ddof else float("nan")


@dataclass
class Counts:
    """Exact counts of value tuples (confusion cells, categories, groups)."""

    table: Counter = field(default_factory=Counter)

    @classmethod
    def of(cls, *columns: np.ndarray) -> Counts:
        import pandas as pd

        if not len(columns) or not len(columns[0]):
            return cls()
        frame = pd.DataFrame({i: np.asarray(c) for i, c in enumerate(columns)})
        sizes = frame.groupby(list(frame.columns), sort=False, dropna=False).size()
        keys = sizes.index if len(columns) > 1 else ((k,) for k in sizes.index)
        return cls(Counter({tuple(_plain(v) for v in key): int(n) for key, n in zip(keys, sizes.to_numpy())}))

    def merge(self, other: Counts) -> Counts:
        self.table.update(other.table)
        return self

    @property
    def total(self) -> int:
        return sum(self.table.values())

    def arrays(self) -> tuple[list[np.ndarray], np.ndarray]:
        """The distinct tuples as one array per position, and their counts (same order)."""
        keys = list(self.table)
        columns = [np.array([k[i] for k in keys], dtype=object) for i in range(len(keys[0]))] if keys else []
        return columns, np.array([self.table[k] for k in keys], dtype=np.int64)


def _plain(value: Any) -> Any:
    """numpy scalars as Python scalars, so keys from different chunks and machines compare equal."""
    return value.item() if isinstance(value, np.generic) else value


@dataclass
class ScoreHistogram:
    """Counts of negatives (row 0) and positives (row 1) per score bin on ``[0, 1]``."""

    counts: np.ndarray = field(default_factory=lambda: np.zeros((2, BINS), dtype=np.int64))

    @staticmethod
    def bin_of(score: np.ndarray, bins: int = BINS) -> np.ndarray:
        return np.clip((np.asarray(score, dtype=float) * bins).astype(np.int64), 0, bins - 1)

    @classmethod
    def of(cls, positive: np.ndarray, score: np.ndarray) -> ScoreHistogram:
        cell = positive.astype(np.int64) * BINS + cls.bin_of(score)
        return cls(np.bincount(cell, minlength=2 * BINS).reshape(2, BINS))

    def merge(self, other: ScoreHistogram) -> ScoreHistogram:
        self.counts += other.counts
        return self

    def cells(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(is positive, bin, count) of every occupied cell: a weighted sample with binned scores."""
        cls_, bins = np.nonzero(self.counts)
        return cls_.astype(bool), bins.astype(float), self.counts[cls_, bins].astype(float)

    def auc_bound(self) -> float:
        """Largest possible |binned AUC - exact AUC|: half the share of pairs tied in a bin."""
        neg, pos = self.counts.astype(float)
        pairs = neg.sum() * pos.sum()
        return float(0.5 * (neg @ pos) / pairs) if pairs else 0.0


@dataclass
class ClassHistograms:
    """One-vs-rest score histograms of a multi-class model: for each class ``k`` (in the model's
    ``classes`` order), counts of the other classes' rows (0) and class ``k``'s rows (1) per bin of
    probability column ``k``, on ``class_bins(classes)`` bins."""

    counts: np.ndarray  # (classes, 2, bins)
    unknown: int = 0    # rows whose target is none of the classes (scikit-learn refuses them)

    @classmethod
    def of(cls, y: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> ClassHistograms:
        k = proba.shape[1]
        bins = class_bins(k)
        positive = np.asarray(y)[:, None] == np.asarray(classes)[None, :]
        cell = (np.arange(k)[None, :] * 2 + positive) * bins + ScoreHistogram.bin_of(proba, bins)
        return cls(np.bincount(cell.ravel(), minlength=k * 2 * bins).reshape(k, 2, bins),
                   int((~positive.any(axis=1)).sum()))

    def merge(self, other: ClassHistograms) -> ClassHistograms:
        self.counts += other.counts
        self.unknown += other.unknown
        return self

    def histogram(self, k: int) -> ScoreHistogram:
        """Class ``k`` against the rest."""
        return ScoreHistogram(self.counts[k])

    def auc_bound(self) -> float:
        """Largest possible error of the macro-averaged binned ROC AUC: the mean of the classes' bounds."""
        return float(np.mean([self.histogram(k).auc_bound() for k in range(len(self.counts))]))


@dataclass
class JointHistogram:
    """Counts per (class, candidate bin, baseline bin) on ``JOINT_BINS`` bins: the pairing of two
    models' scores that DeLong's covariance needs."""

    counts: np.ndarray = field(
        default_factory=lambda: np.zeros((2, JOINT_BINS, JOINT_BINS), dtype=np.int64))

    @classmethod
    def of(cls, positive: np.ndarray, first: np.ndarray, second: np.ndarray) -> JointHistogram:
        k = JOINT_BINS
        cell = (positive.astype(np.int64) * k + ScoreHistogram.bin_of(first, k)) * k + ScoreHistogram.bin_of(second, k)
        return cls(np.bincount(cell, minlength=2 * k * k).reshape(2, k, k))

    def merge(self, other: JointHistogram) -> JointHistogram:
        self.counts += other.counts
        return self


class Sketch:
    """A numeric column: KLL quantile sketch (Apache DataSketches), moments, min and max."""

    made = 0  # sketches made in this process (the session does not freeze a run that made some)

    def __init__(self, k: int = SKETCH_K):
        import datasketches

        Sketch.made += 1

        self.kll = datasketches.kll_doubles_sketch(k)
        self.moments = Moments()

    @classmethod
    def of(cls, values: np.ndarray) -> Sketch:
        sketch = cls()
        if len(values):
            sketch.kll.update(np.require(values, np.float64, ("C", "W")))  # the binding takes writable arrays only
            sketch.moments = Moments.of(values)
        return sketch

    def merge(self, other: Sketch) -> Sketch:
        self.kll.merge(other.kll)
        self.moments.merge(other.moments)
        return self

    @property
    def n(self) -> int:
        return int(self.kll.n)

    @property
    def rank_error(self) -> float:
        """Bound on |sketch CDF - exact CDF| (DataSketches' normalized rank error, 99% confidence)."""
        return float(self.kll.normalized_rank_error(False)) if self.kll.is_estimation_mode() else 0.0

    def cdf(self, points: np.ndarray) -> np.ndarray:
        """Share of values <= each of the increasing ``points``."""
        if not len(points):
            return np.zeros(0)
        return np.asarray(self.kll.get_cdf(list(map(float, points)), inclusive=True)[:-1])

    def quantiles(self, ranks: Iterable[float]) -> np.ndarray:
        return np.asarray(self.kll.get_quantiles(list(ranks)))

    def support(self) -> tuple[float, float]:
        return float(self.kll.get_min_value()), float(self.kll.get_max_value())

    def __getstate__(self) -> dict[str, Any]:
        return {"kll": self.kll.serialize(), "k": self.kll.k, "moments": self.moments}

    def __setstate__(self, state: dict[str, Any]) -> None:
        import datasketches

        Sketch.made += 1
        self.kll = datasketches.kll_doubles_sketch.deserialize(state["kll"])
        self.moments = state["moments"]


@dataclass
class Column:
    """One column's mergeable profile: rows, nulls, a numeric sketch and/or category counts.

    Integer and boolean columns keep exact value counts too, up to ``MAX_VALUES`` distinct values
    (``overflow`` once there are more), so that a discrete target or code can be compared as
    categories.
    """

    kind: str                     # "numeric", "categorical" or "datetime"
    dtype: str
    rows: int = 0
    nulls: int = 0
    sketch: Sketch | None = None
    categories: Counts | None = None
    overflow: bool = False

    def merge(self, other: Column) -> Column:
        self.rows += other.rows
        self.nulls += other.nulls
        if other.sketch is not None:
            self.sketch = other.sketch if self.sketch is None else self.sketch.merge(other.sketch)
        self.overflow = self.overflow or other.overflow
        if other.categories is not None and not self.overflow:
            self.categories = other.categories if self.categories is None else self.categories.merge(other.categories)
        if self.overflow or (self.kind == "numeric" and self.categories and len(self.categories.table) > MAX_VALUES):
            self.categories, self.overflow = None, True
        return self


def merge_maps(mine: dict[Any, Any], theirs: dict[Any, Any]) -> dict[Any, Any]:
    """Merge two mappings of mergeable statistics key by key (in place; returns ``mine``)."""
    for key, value in theirs.items():
        mine[key] = value if key not in mine else mine[key].merge(value)
    return mine
