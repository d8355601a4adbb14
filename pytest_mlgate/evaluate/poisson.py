"""The Poisson bootstrap: replicate counters folded in one pass, over rows, chunks or shards.

Each row gets, for each replicate ``b``, an independent Poisson(1) weight: how many times the row
appears in that resample. It replaces the multinomial draw of ``n`` rows with replacement (Hanley
and MacGibbon 2006, "Creating non-parametric bootstrap samples using Poisson frequencies",
*Computer Methods and Programs in Biomedicine* 83; Oza and Russell 2001, "Online bagging and
boosting"; Chamandy et al. 2012, "Estimating uncertainty for massive data streams", Google), and
unlike it needs no knowledge of ``n``: every chunk weighs its own rows and the weighted sums merge.

The weight of row ``i`` in replicate ``b`` is a pure function of ``(seed, i, b)``: a counter-based
hash (SplitMix64's finaliser; Steele, Lea and Flood 2014, "Fast splittable pseudorandom number
generators") gives a 32-bit uniform, turned into a Poisson(1) count by its inverse CDF. ``i`` is
the row's position in the dataset (file order, then row order), so in-memory evaluation, streaming
in chunks of any size and Dask in any partitioning weigh every row the same way and fold the same
replicates: integer counts are identical, float sums equal up to rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

REPLICATE_BINS = 1 << 10   # score bins of each replicate's histogram (average precision)
MIN_CLASS_REPLICATE_BINS = 64  # fewest bins per class of a multi-class model's replicate histograms
_BLOCK = 1 << 22           # weights generated at once (rows x replicates)


def _poisson_thresholds() -> np.ndarray:
    """``ceil(F(k) * 2**32)`` of the Poisson(1) CDF ``F``, while below 2**32: a 32-bit uniform ``u``
    has weight ``k`` when ``k`` thresholds are at most ``u``."""
    out, total, k, term = [], 0.0, 0, math.exp(-1.0)
    while True:
        total += term
        edge = math.ceil(total * 2 ** 32)
        if edge > 2 ** 32 - 1:
            return np.array(out, dtype=np.uint32)
        out.append(edge)
        k += 1
        term /= k


_THRESHOLDS = _poisson_thresholds()


def _mix(z: np.ndarray) -> np.ndarray:
    """SplitMix64's output function on an array of uint64 (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def weights(rows: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """Poisson(1) weights of the rows at positions ``rows``: an array of shape (rows, n_boot)."""
    half = (n_boot + 1) // 2
    with np.errstate(over="ignore"):
        key = _mix(np.array([seed], dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(1))[0]
        counter = np.asarray(rows, dtype=np.uint64)[:, None] * np.uint64(half) + np.arange(half, dtype=np.uint64)
        bits = _mix(counter * np.uint64(0x9E3779B97F4A7C15) + key)
    # two 32-bit uniforms from each 64-bit hash, split in one byte order on every machine
    uniform = np.asarray(bits, dtype="<u8").view("<u4")[:, :n_boot]
    counts = np.zeros(uniform.shape, dtype=np.uint8)
    for edge in _THRESHOLDS:  # inverse CDF: ~13 comparisons, cheaper than a binary search
        counts += uniform >= edge
    return counts.astype(np.float64)


def blocks(rows: np.ndarray, n_boot: int) -> list[slice]:
    """Slices of ``rows`` small enough that their weights stay a few tens of megabytes."""
    step = max(1, _BLOCK // max(n_boot, 1))
    return [slice(start, start + step) for start in range(0, len(rows), step)]


@dataclass
class ReplicateMoments:
    """Per replicate: total weight, weighted mean and weighted sum of squared deviations of a series.

    Merged with Chan, Golub and LeVeque's pairwise update, with weights in place of counts.
    """

    weight: np.ndarray
    mean: np.ndarray
    m2: np.ndarray

    @classmethod
    def empty(cls, n_boot: int) -> ReplicateMoments:
        return cls(np.zeros(n_boot), np.zeros(n_boot), np.zeros(n_boot))

    @classmethod
    def of(cls, values: np.ndarray, w: np.ndarray) -> ReplicateMoments:
        """From the values of some rows and their weights (rows x replicates)."""
        if not len(values):
            return cls.empty(w.shape[1])
        centre = float(np.mean(values))
        d = np.asarray(values, dtype=float) - centre
        total, s1, s2 = w.sum(axis=0), d @ w, (d * d) @ w
        safe = np.where(total > 0, total, 1.0)
        return cls(total, np.where(total > 0, centre + s1 / safe, 0.0), np.where(total > 0, s2 - s1 * s1 / safe, 0.0))

    def merge(self, other: ReplicateMoments) -> ReplicateMoments:
        n = self.weight + other.weight
        safe = np.where(n > 0, n, 1.0)
        delta = other.mean - self.mean
        self.m2 = self.m2 + other.m2 + delta * delta * self.weight * other.weight / safe
        self.mean = np.where(n > 0, self.mean + delta * other.weight / safe, 0.0)
        self.weight = n
        return self


@dataclass
class ReplicateHistogram:
    """Per replicate: weighted counts of negatives (0) and positives (1) per score bin."""

    counts: np.ndarray = field(default_factory=lambda: np.zeros((0, 2, REPLICATE_BINS), dtype=np.int64))

    @classmethod
    def of(cls, positive: np.ndarray, score: np.ndarray, w: np.ndarray) -> ReplicateHistogram:
        from pytest_mlgate.evaluate.statistics import ScoreHistogram

        n_boot, cells = w.shape[1], 2 * REPLICATE_BINS
        cell = np.asarray(positive, dtype=np.int64) * REPLICATE_BINS + ScoreHistogram.bin_of(score, REPLICATE_BINS)
        index = (cell[:, None] * n_boot + np.arange(n_boot, dtype=np.int64)[None, :]).ravel()  # a row's replicates adjacent
        counts = np.bincount(index, weights=w.ravel(), minlength=cells * n_boot).reshape(cells, n_boot)
        return cls(np.rint(counts.T).astype(np.int64).reshape(n_boot, 2, REPLICATE_BINS))

    def merge(self, other: ReplicateHistogram) -> ReplicateHistogram:
        self.counts = other.counts.copy() if not self.counts.size else self.counts + other.counts
        return self

    def average_precision(self) -> np.ndarray:
        """Each replicate's average precision on the binned scores (scikit-learn's definition:
        thresholds from the highest bin down, precision at each weighted by the recall it adds);
        NaN for a replicate without positives."""
        neg, pos = self.counts[:, 0, ::-1].astype(float), self.counts[:, 1, ::-1].astype(float)
        tp, fp = np.cumsum(pos, axis=1), np.cumsum(neg, axis=1)
        precision = np.divide(tp, tp + fp, out=np.zeros_like(tp), where=(tp + fp) > 0)
        total = tp[:, -1]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, (pos * precision).sum(axis=1) / total, np.nan)


def percentiles(draws: np.ndarray, confidence: float) -> tuple[float, float]:
    """The percentile interval of the replicates' values (NaN replicates left out)."""
    draws = draws[np.isfinite(draws)]
    if not len(draws):
        return float("nan"), float("nan")
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return float(low), float(high)


def fold_replicates(rows: np.ndarray, y: np.ndarray, outputs: dict[str, np.ndarray], needs: str, pos_label: object,
         n_boot: int, seed: int) -> dict[tuple[str, ...], ReplicateMoments | ReplicateHistogram]:
    """The replicate statistics of some rows (at dataset positions ``rows``) for each model's
    ``outputs``: squared errors and the target's moments for values, score histograms for scores."""
    from pytest_mlgate.evaluate.statistics import merge_maps

    rows, found = np.asarray(rows), {}
    for part in blocks(rows, n_boot):
        w = weights(rows[part], n_boot, seed)
        piece: dict[tuple[str, ...], ReplicateMoments | ReplicateHistogram] = {}
        if needs == "value":
            truth = np.asarray(y[part], dtype=float)
            piece[("target",)] = ReplicateMoments.of(truth, w)
            for role, value in outputs.items():
                piece[("squared_error", role)] = ReplicateMoments.of((truth - value[part]) ** 2, w)
        else:
            positive = np.asarray(y[part]) == pos_label
            for role, score in outputs.items():
                piece[("scores", role)] = ReplicateHistogram.of(positive, score[part], w)
        merge_maps(found, piece)
    return found


def fold_class_replicates(rows: np.ndarray, y: np.ndarray, probas: dict[str, np.ndarray],
                          classes: dict[str, np.ndarray], n_boot: int, seed: int) -> dict[tuple[str, ...], ReplicateHistogram]:
    """One-vs-rest replicate histograms of multi-class probabilities (rows at dataset positions
    ``rows``): for each role and class ``k``, a ReplicateHistogram of probability column ``k`` with
    class ``k``'s rows positive, on ``class_bins(classes, REPLICATE_BINS)`` bins, under the key
    ``("class scores", role, k)``.

    Each block's weights are summed into every (role, class, truth, bin) cell at once, as the
    product of a sparse rows x cells indicator matrix with the weights (exact: integer sums)."""
    from scipy import sparse

    from pytest_mlgate.evaluate.statistics import ScoreHistogram, class_bins

    rows, y = np.asarray(rows), np.asarray(y)
    layout, start = {}, 0   # role -> (first cell, classes, bins)
    for role, proba in probas.items():
        k = proba.shape[1]
        bins = class_bins(k, REPLICATE_BINS, MIN_CLASS_REPLICATE_BINS)
        layout[role], start = (start, k, bins), start + k * 2 * bins
    total = np.zeros((start, n_boot))
    for part in blocks(rows, n_boot):
        cells = []
        for role, (first, k, bins) in layout.items():
            positive = y[part][:, None] == np.asarray(classes[role])[None, :]
            cells.append(first + (np.arange(k)[None, :] * 2 + positive) * bins
                         + ScoreHistogram.bin_of(probas[role][part], bins))
        cell = np.concatenate(cells, axis=1)
        width = cell.shape[1]
        indicator = sparse.csr_matrix((np.ones(cell.size), cell.ravel(), np.arange(0, cell.size + 1, width)),
                                      shape=(len(cell), start))
        total += indicator.T @ weights(rows[part], n_boot, seed)
    found = {}
    for role, (first, k, bins) in layout.items():
        counts = np.rint(total[first:first + k * 2 * bins]).astype(np.int64).reshape(k, 2, bins, n_boot)
        for c in range(k):
            found[("class scores", role, str(c))] = ReplicateHistogram(np.ascontiguousarray(counts[c].transpose(2, 0, 1)))
    return found


def macro_roc_auc(found: dict[tuple[str, ...], object], role: str) -> np.ndarray:
    """Each replicate's multi-class ROC AUC of ``role``: the mean of its one-vs-rest AUCs
    (:func:`replicate_auc` of each class's histogram; the macro average, as scikit-learn's
    ``multi_class="ovr"``); NaN where a class has no rows or all rows."""
    keys = sorted((key for key in found if key[:2] == ("class scores", role)), key=lambda key: int(key[2]))
    return np.mean([replicate_auc(found[key]) for key in keys], axis=0)


def replicate_interval(name: str, found: dict[tuple[str, ...], object], roles: list[str],
             confidence: float) -> tuple[float, float]:
    """The percentile interval of ``name`` (one role) or of the paired difference (two roles)."""
    values = [_metric(name, found, role) for role in roles]
    return percentiles(values[0] - values[1] if len(values) == 2 else values[0], confidence)


def _metric(name: str, found: dict[tuple[str, ...], object], role: str) -> np.ndarray:
    if name == "average_precision":
        return found[("scores", role)].average_precision()
    if name == "roc_auc":
        return macro_roc_auc(found, role)
    errors = found[("squared_error", role)]
    with np.errstate(invalid="ignore", divide="ignore"):
        if name == "rmse":
            return np.where(errors.weight > 0, np.sqrt(errors.mean), np.nan)
        total = found[("target",)].m2
        return np.where(total > 0, 1.0 - errors.mean * errors.weight / np.where(total > 0, total, 1.0), np.nan)


# ---------------------------------------------------------------- per-group fairness replicates


def replicate_auc(histogram: ReplicateHistogram) -> np.ndarray:
    """Each replicate's ROC AUC on the binned scores: the Mann-Whitney statistic over bins, a
    (positive, negative) pair in the same bin counting half; NaN for a replicate that lacks a class.

    Computed in integers (twice the number of correctly ordered pairs plus the tied ones) and
    divided once, so it is scikit-learn's weighted ``roc_auc_score`` on the binned scores.
    """
    neg, pos = histogram.counts[:, 0, :], histogram.counts[:, 1, :]
    below = np.cumsum(neg, axis=1) - neg          # negatives in lower bins
    twice = (pos * (2 * below + neg)).sum(axis=1)  # 2 * (pairs ordered) + (pairs tied)
    pairs = 2 * pos.sum(axis=1) * neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pairs > 0, twice / np.where(pairs > 0, pairs, 1), np.nan)


def fold_row_replicates(rows: np.ndarray, values: dict[tuple[str, ...], np.ndarray], n_boot: int, seed: int
                        ) -> dict[tuple[str, ...], ReplicateMoments]:
    """Per-replicate moments of per-row series (e.g. each model's log loss) of the rows at dataset
    positions ``rows``, on the same weights as :func:`fold_replicates`."""
    from pytest_mlgate.evaluate.statistics import merge_maps

    rows, found = np.asarray(rows), {}
    for part in blocks(rows, n_boot):
        w = weights(rows[part], n_boot, seed)
        merge_maps(found, {key: ReplicateMoments.of(np.asarray(v[part], dtype=float), w) for key, v in values.items()})
    return found
