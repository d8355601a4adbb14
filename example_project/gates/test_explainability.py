"""Explainability gates: what drives the candidate's decisions, and in which direction."""

import pytest


def test_no_sensitive_drivers(mlgate):
    # Neither sex, age band nor the declared proxies among the top drivers ([tool.mlgate.explain]).
    mlgate.no_forbidden_drivers()


@pytest.mark.gate(severity="review", category="explainability")
def test_drivers_agree_with_production(mlgate):
    # A push that changes what drives decisions needs a human look, not a silent release.
    mlgate.importance_agrees()


def test_declared_monotonic_relationships(mlgate):
    # Risk must not fall as late payments or debt rise, nor rise with income; tree models wiggle a
    # little between grid points, so allow one point of probability.
    mlgate.monotonic(tolerance=0.01)


def test_complexity_of_a_high_risk_model(mlgate):
    mlgate.complexity()
