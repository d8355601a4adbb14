"""Rank statistics of many features at once against a two-valued target, from one sort per column.

:func:`pytest_mlgate.checks.leakage.power` and :func:`~pytest_mlgate.checks.leakage.copy_of` give, for
one feature of a two-valued target, its Gini coefficient from average ranks (Hanley and McNeil 1982)
and the share of rows on which the target is a monotone function of it. Both depend only on the
feature's sorted order: the average ranks are the mean positions of each run of tied values in it,
and a two-valued target's longest non-decreasing run, with the targets of tied values ordered against
it, is the best split of that order at a change of value (see :func:`binary_columns`). So the columns of
a sample matrix are sorted once, together, and both statistics are read off the sorted order, with the
same arithmetic and the same results.
"""

from __future__ import annotations

import functools

import numpy as np


def gini(rank_sum: float | np.ndarray, m: int | np.ndarray, n: int | np.ndarray) -> tuple:
    """Gini coefficient 2A - 1 and its standard error (Hanley and McNeil 1982, their q1 and q2), where
    A = max(AUC, 1 - AUC) (either direction) and the AUC is U / (m n), U the sum of the m positives'
    average ranks less m (m + 1) / 2; scalars or arrays alike, with the same arithmetic."""
    auc = (rank_sum - m * (m + 1) / 2) / (m * n)
    a = np.maximum(auc, 1 - auc)
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    var = (a * (1 - a) + (m - 1) * (q1 - a * a) + (n - 1) * (q2 - a * a)) / (m * n)
    return 2 * a - 1, 2 * np.sqrt(np.maximum(var, 0.0))


def runs(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each column of ``matrix`` sorted, NaN last: the order, the sorted values, where each run of tied
    values starts, and each sorted row's average rank (1-based, the mean position of its run; the
    positions of NaN are their own runs)."""
    rows = len(matrix)
    order = np.argsort(matrix, axis=0)
    values = np.take_along_axis(matrix, order, axis=0)
    starts = np.ones(matrix.shape, dtype=bool)
    starts[1:] = values[1:] != values[:-1]
    at = np.arange(rows)[:, None]
    first = np.maximum.accumulate(np.where(starts, at, 0), axis=0)
    last = np.minimum.accumulate(np.where(np.vstack([starts[1:], starts[:1]]), at, rows)[::-1], axis=0)[::-1]
    return order, values, starts, (first + last) / 2 + 1


def average_ranks(matrix: np.ndarray) -> np.ndarray:
    """Average ranks of each column's values, NaN kept (what ``DataFrame.rank()`` gives: the same
    half-integers)."""
    order, _, _, ranks = runs(matrix)
    out = np.empty(matrix.shape)
    np.put_along_axis(out, order, ranks, axis=0)
    out[np.isnan(matrix)] = np.nan
    return out


def binary_columns(matrix: np.ndarray, hit: np.ndarray, min_rows: int = 4) -> tuple[np.ndarray, ...]:
    """Per column of ``matrix`` (rows x features, NaN where missing) against the two-valued target
    ``hit`` (booleans): the Gini coefficient and its standard error over the rows with a value (NaN
    without both classes there), and the share of all rows on which the target is a monotone function
    of the column (0 with fewer than ``min_rows`` values, one value, or one class).

    The monotone share is the longest non-decreasing subsequence of the targets in feature order (ties
    ordered against it), either direction. For two values that is the best split b of the order: the
    low targets before b plus the high ones after it. With the targets of tied values ordered high
    before low, a split inside a run of ties is never better than one at its start (for splits among
    its highs) or its end (among its lows), so only the run boundaries are tried."""
    rows, width = matrix.shape
    order, values, starts, ranks = runs(matrix)
    valid = (~np.isnan(matrix)).sum(axis=0)
    high = hit[order] & (np.arange(rows)[:, None] < valid)
    m = high.sum(axis=0)
    n = valid - m
    with np.errstate(all="ignore"):
        power, error = gini(np.where(high, ranks, 0.0).sum(axis=0), m, n)  # half-integers: exact in any order
    both = (m > 0) & (n > 0)
    highs = np.vstack([np.zeros((1, width), dtype=np.int64), np.cumsum(high, axis=0)])  # among the first b rows
    lows = np.arange(rows + 1)[:, None] - highs  # (b <= valid)
    # the run starts, the first NaN (a run of its own) and the end
    split = np.vstack([starts, np.ones((1, width), dtype=bool)]) & (np.arange(rows + 1)[:, None] <= valid)
    longest = np.where(split, np.maximum(lows + m - highs, highs + n - lows), 0).max(axis=0)  # up or down
    one_value = values[np.maximum(valid - 1, 0), np.arange(width)] == values[0]
    copy = np.where((valid < min_rows) | one_value | ~both, 0.0, longest / rows)
    return np.where(both, power, np.nan), np.where(both, error, np.nan), copy


@functools.cache
def blas_threads():
    """The process's BLAS thread pools (threadpoolctl), looked up once: products of a few thousand rows
    and 50 columns take less CPU on one thread than on a pool whose waiting threads spin."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()
