"""Monitoring gates: the same suite, run on a schedule against the model in production.

They run only in the monitor stage, where the model under test is production and ``current`` is
a window of the prediction log (see simulate_monitoring.py)::

    pytest gates --mlgate-stage monitor --mlgate-auto-rollback \
        --mlgate-dataset "current=predlog:logs/predictions.sqlite?window=24h"
"""

import pytest

pytestmark = pytest.mark.gate(stage="monitor", category="monitoring", owner="risk-ml@example.org")


def test_service_health(mlgate):
    # from the logged per-request latency and the share of requests whose predict raised
    mlgate.latency(p50=50, p95=250)
    mlgate.error_rate(0.01)
    # sampled by the logger's writer every 10 s: the serving process's memory and the log's backlog
    mlgate.resources(max_rss_mb=2048, max_queue=10_000)


def test_no_drift_in_production(mlgate):
    # the model's inputs and its scores, last 24 hours against the training data
    mlgate.no_production_drift()


def test_live_auc(mlgate):
    # on the requests whose outcome has arrived (mlgate feedback add), against the holdout figure
    mlgate.live_metric("roc_auc", max_drop=0.05)


@pytest.mark.gate(severity="warn", stage="monitor")
def test_live_recall(mlgate):
    mlgate.live_metric("recall", max_relative_drop=0.15)


def test_estimated_auc(mlgate):
    # before any label arrives: the AUC estimated from production's probabilities, calibrated on the
    # holdout (CBPE); each run also joins an anytime-valid sequence, the evidence rollback acts on
    mlgate.estimated_metric("roc_auc", max_drop=0.05)
