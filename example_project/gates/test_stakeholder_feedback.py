"""Stakeholder feedback in production: decisions that applicants dispute or case workers flag.

``mlgate feedback add disputes.csv --kind dispute`` records them by request id; these monitor-stage
gates bound their share of the window (see simulate_monitoring.py).
"""

import pytest


@pytest.mark.gate(stage="monitor", category="feedback", owner="credit-ops")
def test_dispute_rate(mlgate):
    """At most 2% of the window's decisions may be disputed by the applicants."""
    mlgate.feedback_rate(0.02, kind="dispute")


@pytest.mark.gate(stage="monitor", severity="warn", category="feedback", owner="credit-ops")
def test_flag_rate(mlgate):
    """Decisions flagged by case workers for a second look: reported above 1%."""
    mlgate.feedback_rate(0.01, kind="flag")
