"""Monitor gate on stakeholder feedback: the share of a window's predictions disputed or flagged."""

from __future__ import annotations

from typing import Any

from pytest_mlgate.checks.recorder import Recorder
from pytest_mlgate.decision import FAILED, PASSED, TOO_SMALL, Check
from pytest_mlgate.errors import MlgateError
from pytest_mlgate.evaluate.models import Dataset

KIND = "monitor"


def feedback_rate(data: Dataset, log: Any, max_rate: float, *, kind: str = "dispute", min_size: int = 30,
                  confidence: float = 0.95) -> Check:
    """The share of the window's logged predictions with ``kind`` feedback must be at most ``max_rate``
    (Wilson interval, as the error rate)."""
    from scipy.stats import binomtest

    from pytest_mlgate.monitoring import feedback

    if "request_id" not in data.frame.columns:
        raise MlgateError(f"dataset '{data.name}' has no 'request_id' column: feedback_rate needs a "
                          "prediction-log window (predlog:PATH?window=24h)")
    ids = data.frame["request_id"].astype(str)
    n = len(ids)
    name = f"{kind}_rate"
    if n < min_size:
        return Check(name, TOO_SMALL, dataset=data.name, kind=KIND, details={"rows": n},
                     message=f"{name}: {n} logged predictions in '{data.name}' < {min_size}, too small to judge")
    k = feedback.count(log, ids, kind)
    rate = k / n
    ci = binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    passed = rate <= max_rate
    return Check(name, PASSED if passed else FAILED, metric=name, dataset=data.name, candidate=rate,
                 threshold=f"<= {max_rate:g}", ci=(float(ci.low), float(ci.high)), kind=KIND,
                 message=f"{kind} rate {rate:.4g} ({k} of {n} predictions) {'<=' if passed else '>'} {max_rate:g}",
                 details={"rows": n, kind: k})


class FeedbackGates(Recorder):
    """``mlgate.feedback_rate``: disputed or flagged predictions (``mlgate feedback add --kind``)."""

    def feedback_rate(self, max_rate: float, kind: str = "dispute", dataset: str | Dataset = "current", *,
                      min_size: int | None = None) -> Check:
        """At most ``max_rate`` of the window's predictions may carry ``kind`` feedback (dispute or flag)."""
        __tracebackhide__ = True
        from pytest_mlgate.monitoring import feedback, window

        feedback.check_kind(kind)
        data = self.dataset(dataset)
        spec = data.artifact.spec if data.artifact else ""
        if not window.is_spec(spec):
            raise MlgateError(f"feedback_rate: dataset '{data.name}' is not a prediction-log window "
                              "(predlog:PATH?window=24h)")
        s = self.settings
        return self.record(feedback_rate(data, data.artifact.path, max_rate, kind=kind,
                                         min_size=min_size or s.min_slice_size, confidence=s.confidence))[0]
