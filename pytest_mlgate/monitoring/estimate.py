"""Estimated performance without labels: confidence-based performance estimation (CBPE).

The model's scores are calibrated on labelled reference data (Platt scaling or isotonic
regression, fitted with scikit-learn); on an unlabelled window each row's calibrated probability
is then the chance that its label is positive, and the expected metric is the metric's mean over
labels drawn from those probabilities. This is NannyML's CBPE (Kivimäki et al., "Confidence-based
performance estimation", 2023). The interval redraws, ``n_boot`` times, a bootstrap resample of
the reference to refit the calibrator (calibration error) and then the window's labels from the
refitted probabilities (sampling error); its percentiles bound the metric the window's labels
will show once they arrive.

The premise is that P(label | score) carries over from the reference to the window, which holds
under covariate shift when the score is P(label | features). A model whose own scores are clearly
miscalibrated on the reference does not estimate that, so the gate refuses it
(:func:`calibration_error`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

BINS = 10
#: Metrics computed in closed form on a matrix of drawn labels; others call the metric per draw.
FAST = ("roc_auc", "accuracy", "balanced_accuracy", "precision", "recall", "f1")
Calibrator = Callable[[np.ndarray], np.ndarray]


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = BINS) -> float:
    """Mean absolute gap between the positive rate and the mean score over equal-mass score bins."""
    order = np.argsort(p, kind="stable")
    gaps = [abs(y[part].mean() - p[part].mean()) * len(part) for part in np.array_split(order, bins) if len(part)]
    return float(np.sum(gaps) / len(p))


def calibration_error(y: np.ndarray, p: np.ndarray, *, n_boot: int,
                      rng: np.random.Generator) -> tuple[float, float]:
    """The scores' ECE against ``y`` and its 99th percentile when the labels are drawn from the
    scores themselves: what a perfectly calibrated model shows by chance on this many rows."""
    chance = [expected_calibration_error(rng.random(len(p)) < p, p) for _ in range(n_boot)]
    return expected_calibration_error(y, p), float(np.quantile(chance, 0.99))


def platt(x: np.ndarray, y: np.ndarray, weights: np.ndarray, iterations: int = 25) -> np.ndarray:
    """Platt scaling (Platt, 1999): ``P(y | s) = 1 / (1 + exp(-(a logit(s) + b)))`` fitted by
    Newton's method, for every row of ``weights`` at once (one bootstrap resample per row, as
    counts); scikit-learn fits one model per call, a hundred times slower for the bootstrap.
    Returns the ``(a, b)`` of each row."""
    ab = np.zeros((len(weights), 2))
    ab[:, 0] = 1.0
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-(ab[:, :1] * x + ab[:, 1:])))
        r, h = weights * (y - p), weights * p * (1 - p) + 1e-12
        g = np.stack([(r * x).sum(1), r.sum(1)], 1)
        haa, hab, hbb = (h * x * x).sum(1), (h * x).sum(1), h.sum(1)
        det = haa * hbb - hab ** 2
        step = np.stack([hbb * g[:, 0] - hab * g[:, 1], haa * g[:, 1] - hab * g[:, 0]], 1) / det[:, None]
        ab += np.clip(np.nan_to_num(step), -5, 5)  # bounded steps: a separable resample cannot blow up
        if np.abs(step).max() < 1e-8:
            break
    return ab


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    return np.log(q / (1 - q))


def _sigmoid_map(a: float, b: float) -> Calibrator:
    return lambda values: 1 / (1 + np.exp(-(a * _logit(values) + b)))


def _isotonic(y: np.ndarray, p: np.ndarray) -> Calibrator:
    from sklearn.isotonic import IsotonicRegression

    return IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(p, y).predict


def calibrators(y: np.ndarray, p: np.ndarray, method: str, n_boot: int,
                rng: np.random.Generator) -> tuple[Calibrator, list[Calibrator]]:
    """Maps from score to P(positive) fitted on the whole reference and on ``n_boot`` bootstrap
    resamples: ``"sigmoid"`` (Platt scaling) or ``"isotonic"`` (scikit-learn's IsotonicRegression),
    the two methods of scikit-learn's ``CalibratedClassifierCV``."""
    n, y = len(y), np.asarray(y, dtype=float)
    draws = rng.integers(0, n, (n_boot, n)) + n * np.arange(n_boot)[:, None]
    counts = np.bincount(draws.ravel(), minlength=n * n_boot).reshape(n_boot, n).astype(float)
    if method == "isotonic":
        refits = [_isotonic(np.repeat(y, c.astype(int)), np.repeat(p, c.astype(int))) for c in counts]
        return _isotonic(y, p), refits
    x = _logit(p)[None, :]
    ab = platt(x, y[None, :], np.vstack([np.ones(n), counts]))
    return _sigmoid_map(*ab[0]), [_sigmoid_map(a, b) for a, b in ab[1:]]


def evaluator(name: str, score: np.ndarray, predicted: np.ndarray | None,
              metric: Callable[[np.ndarray], float] | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """A function from a boolean label matrix (one draw per row) to the metric of each draw."""
    if name == "roc_auc":
        return lambda labels: _auc(labels, score)
    if name in FAST and predicted is not None:
        return lambda labels: _confusion(name, labels, predicted.astype(bool))
    if metric is None:
        raise ValueError(f"no way to evaluate {name!r} on drawn labels")
    return lambda labels: np.array([metric(row) for row in labels], dtype=float)


def _auc(labels: np.ndarray, score: np.ndarray) -> np.ndarray:
    """ROC AUC of every row of a label matrix against one score vector (Mann-Whitney U)."""
    from scipy.stats import rankdata

    pos = labels.sum(axis=1).astype(float)
    neg = labels.shape[1] - pos
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (labels @ rankdata(score) - pos * (pos + 1) / 2) / (pos * neg)
    return np.where((pos > 0) & (neg > 0), auc, np.nan)


def _confusion(name: str, labels: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    n = labels.shape[1]
    tp = labels @ predicted.astype(float)
    pos, flagged = labels.sum(axis=1).astype(float), float(predicted.sum())
    fn, fp = pos - tp, flagged - tp
    tn = n - tp - fn - fp
    with np.errstate(invalid="ignore", divide="ignore"):
        return {"accuracy": lambda: (tp + tn) / n,
                "recall": lambda: tp / pos,
                "precision": lambda: tp / flagged if flagged else np.full(len(tp), np.nan),
                "f1": lambda: 2 * tp / (2 * tp + fp + fn),
                "balanced_accuracy": lambda: (tp / pos + tn / (n - pos)) / 2}[name]()


@dataclass(frozen=True)
class Estimate:
    """An estimated metric: value, interval for the realized metric, and its error parts."""

    value: float
    low: float
    high: float
    sampling_se: float       # labels drawn with the full calibrator: independent across windows
    calibration_se: float    # the calibrator's own error, shared by every window
    rows: int


def estimate(full: Calibrator, refits: list[Calibrator], score: np.ndarray,
             evaluate: Callable[[np.ndarray], np.ndarray], *, confidence: float,
             rng: np.random.Generator) -> Estimate:
    """The expected metric on a window's scores, with a ``confidence`` interval from the refits."""
    fixed = _draws(lambda _: full(score), len(refits), len(score), evaluate, rng)
    varied = _draws(lambda i: refits[i](score), len(refits), len(score), evaluate, rng)
    tail = (1 - confidence) / 2 * 100
    low, high = np.nanpercentile(varied, [tail, 100 - tail])
    sampling = float(np.nanstd(fixed, ddof=1))
    shared = float(np.sqrt(max(np.nanvar(varied, ddof=1) - sampling ** 2, 0.0)))
    return Estimate(float(np.nanmean(fixed)), float(low), float(high), sampling, shared, len(score))


def _draws(probabilities: Callable[[int], np.ndarray], n: int, rows: int,
           evaluate: Callable[[np.ndarray], np.ndarray], rng: np.random.Generator) -> np.ndarray:
    chunk, values = max(1, min(n, 2_000_000 // max(rows, 1))), []
    for start in range(0, n, chunk):
        p = np.vstack([probabilities(i) for i in range(start, min(n, start + chunk))])
        values.append(evaluate(rng.random(p.shape) < p))
    return np.concatenate(values)


@dataclass(frozen=True)
class Estimated:
    """An estimate on a window, the reference's realized value and what labels showed so far."""

    estimate: Estimate
    reference: float
    realized: float | None
    realized_rows: int
    estimate_on_labelled: float | None
