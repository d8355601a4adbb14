"""Shadow gates: the candidate against production on replayed production requests.

``mlgate.shadow_agreement`` (flip rate of the predicted label, mean absolute score difference),
``mlgate.shadow_latency`` (ratio of median per-request latency) and ``mlgate.shadow_errors``
(share of requests the candidate fails), each with an interval; the rows where the two models
disagree most are listed in the check's table. The replay is :mod:`pytest_mlgate.monitoring.shadow`.
"""

from __future__ import annotations

import numpy as np

from pytest_mlgate.checks.recorder import Recorder
from pytest_mlgate.decision import FAILED, PASSED, TOO_SMALL, Check
from pytest_mlgate.monitoring.shadow import ShadowRun

KIND = "shadow"


def _wilson(k: int, n: int, confidence: float) -> tuple[float, float]:
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def histogram(diff: np.ndarray, bins: int = 20) -> list[dict[str, float]]:
    """Counts of the signed score difference (candidate - production) in equal-width bins."""
    if not len(diff):
        return []
    span = max(float(np.abs(diff).max()), 1e-6)
    counts, edges = np.histogram(diff, bins=bins, range=(-span, span))
    return [{"low": float(a), "high": float(b), "count": int(c)} for a, b, c in zip(edges[:-1], edges[1:], counts)]


def agreement(run: ShadowRun, *, max_flip_rate: float | None, max_score_diff: float | None, top: int,
              confidence: float, min_size: int) -> list[Check]:
    """Flip rate and mean |score difference| over the requests both models answered."""
    both = ~(run.candidate.failed | run.production.failed)
    n = int(both.sum())
    if n < min_size:
        return [Check("shadow_agreement", TOO_SMALL, dataset="shadow", kind=KIND, details={"rows": n},
                      message=f"shadow_agreement: {n} replayed requests answered by both models < {min_size}")]
    cand, prod = run.candidate.score[both], run.production.score[both]
    flips = run.candidate.label[both] != run.production.label[both]
    diff = cand - prod
    order = np.argsort(-np.abs(diff), kind="stable")[:top]
    table = [{"request_id": str(run.request_ids[both][i]), "candidate": float(cand[i]), "production": float(prod[i]),
              "difference": float(diff[i]), "flipped": bool(flips[i])} for i in order]
    details = {"rows": n, "logged_rows": run.logged_rows, "source": run.source, "table": table,
               "histogram": histogram(diff), "max_abs_difference": float(np.abs(diff).max())}
    checks = []
    if max_flip_rate is not None:
        k = int(flips.sum())
        rate, ci = k / n, _wilson(k, n, confidence)
        passed = rate <= max_flip_rate
        checks.append(Check("shadow_flip_rate", PASSED if passed else FAILED, metric="flip_rate", dataset="shadow",
                            candidate=rate, threshold=f"<= {max_flip_rate:g}", ci=ci, kind=KIND, details=details,
                            message=(f"shadow: candidate's label differs from production's on {k} of {n} replayed "
                                     f"requests ({rate:.2%}, {confidence:.0%} CI [{ci[0]:.2%}, {ci[1]:.2%}]) "
                                     f"{'<=' if passed else '>'} {max_flip_rate:.2%}")))
    if max_score_diff is not None:
        absolute = np.abs(diff)
        mean = float(absolute.mean())
        half = float(_z(confidence) * absolute.std(ddof=1) / np.sqrt(n)) if n > 1 else float("inf")
        passed = mean <= max_score_diff
        checks.append(Check("shadow_score_difference", PASSED if passed else FAILED, metric="mean_abs_score_diff",
                            dataset="shadow", candidate=mean, threshold=f"<= {max_score_diff:g}",
                            ci=(mean - half, mean + half), kind=KIND, details=details,
                            message=(f"shadow: mean |candidate - production score| {mean:.4g} "
                                     f"({confidence:.0%} CI [{mean - half:.4g}, {mean + half:.4g}], largest "
                                     f"{details['max_abs_difference']:.4g}) over {n} requests "
                                     f"{'<=' if passed else '>'} {max_score_diff:g}")))
    return checks


def _z(confidence: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(0.5 + confidence / 2))


def latency(run: ShadowRun, *, max_ratio: float, confidence: float, n_boot: int, seed: int,
            min_size: int) -> Check:
    """Median per-request latency of the candidate over production's, with a bootstrap interval."""
    cand, prod = run.candidate.latency_ms, run.production.latency_ms
    if min(len(cand), len(prod)) < min_size:
        return Check("shadow_latency", TOO_SMALL, dataset="shadow", kind=KIND,
                     details={"timed": [len(cand), len(prod)]},
                     message=f"shadow_latency: {min(len(cand), len(prod))} timed requests < {min_size}")
    ratio = float(np.median(cand) / np.median(prod))
    rng = np.random.default_rng(seed)
    draws = [np.median(rng.choice(cand, len(cand))) / np.median(rng.choice(prod, len(prod))) for _ in range(n_boot)]
    tail = (1 - confidence) / 2 * 100
    low, high = (float(v) for v in np.percentile(draws, [tail, 100 - tail]))
    passed = ratio <= max_ratio
    table = [{"model": r.role, "p50_ms": float(np.median(r.latency_ms)), "p95_ms": float(np.percentile(r.latency_ms, 95)),
              "timed": len(r.latency_ms)} for r in (run.candidate, run.production)]
    return Check("shadow_latency", PASSED if passed else FAILED, metric="latency_ratio_p50", dataset="shadow",
                 candidate=ratio, threshold=f"<= {max_ratio:g}x", ci=(low, high), kind=KIND,
                 details={"table": table},
                 message=(f"shadow: candidate's median latency {table[0]['p50_ms']:.3g} ms is {ratio:.2f}x "
                          f"production's {table[1]['p50_ms']:.3g} ms ({confidence:.0%} CI [{low:.2f}, {high:.2f}]) "
                          f"over {len(cand)} single-row requests; allowed <= {max_ratio:g}x"))


def errors(run: ShadowRun, *, max_rate: float, confidence: float) -> Check:
    """The share of replayed requests the candidate fails on (production's share alongside)."""
    n = len(run.request_ids)
    k, k_prod = int(run.candidate.failed.sum()), int(run.production.failed.sum())
    rate, ci = k / n, _wilson(k, n, confidence)
    passed = rate <= max_rate
    kinds: dict[str, int] = {}
    for e in run.candidate.errors:
        if e is not None:
            kinds[e] = kinds.get(e, 0) + 1
    table = [{"error": e, "count": c} for e, c in sorted(kinds.items(), key=lambda kv: -kv[1])[:10]]
    return Check("shadow_error_rate", PASSED if passed else FAILED, metric="error_rate", dataset="shadow",
                 candidate=rate, baseline=k_prod / n, threshold=f"<= {max_rate:g}", ci=ci, kind=KIND,
                 details={"rows": n, "errors": k, "production_errors": k_prod, "table": table},
                 message=(f"shadow: candidate failed {k} of {n} replayed requests ({rate:.2%}, {confidence:.0%} CI "
                          f"[{ci[0]:.2%}, {ci[1]:.2%}]; production failed {k_prod}) {'<=' if passed else '>'} "
                          f"{max_rate:.2%}"))


class ShadowGates(Recorder):
    """``mlgate.shadow_agreement`` / ``shadow_latency`` / ``shadow_errors`` on the ``shadow`` fixture."""

    def shadow_agreement(self, run: ShadowRun, *, max_flip_rate: float | None = 0.02,
                         max_score_diff: float | None = None, top: int = 10) -> list[Check]:
        """The candidate must agree with production on replayed requests: label flip rate and mean
        absolute score difference at most the limits given; the ``top`` most-disagreeing rows are listed."""
        __tracebackhide__ = True
        s = self.settings
        return self.record(*agreement(run, max_flip_rate=max_flip_rate, max_score_diff=max_score_diff, top=top,
                                      confidence=s.confidence, min_size=s.min_slice_size))

    def shadow_latency(self, run: ShadowRun, *, max_ratio: float = 1.5) -> list[Check]:
        """The candidate's median per-request latency may be at most ``max_ratio`` times production's."""
        __tracebackhide__ = True
        s = self.settings
        return self.record(latency(run, max_ratio=max_ratio, confidence=s.confidence, n_boot=min(s.bootstrap, 2000),
                                   seed=s.seed, min_size=s.min_slice_size))

    def shadow_errors(self, run: ShadowRun, *, max_rate: float = 0.0) -> list[Check]:
        """The candidate may fail on at most ``max_rate`` of the replayed requests."""
        __tracebackhide__ = True
        s = self.settings
        return self.record(errors(run, max_rate=max_rate, confidence=s.confidence))
