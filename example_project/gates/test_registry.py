"""Lineage gates: the comparison is against the registered production model, owned and intact."""

import pytest


@pytest.mark.gate(category="lineage")
def test_baseline_is_the_registered_production_model(mlgate, baseline):
    from pytest_mlgate.lifecycle.backend import open_backend

    settings = mlgate.settings
    alias = settings.baseline.rpartition("@")[2]  # registry:credit-risk@production or models:/credit-risk@champion
    registry = open_backend(settings, audit=False)
    production = registry.aliases(settings.model).get(alias)
    mlgate.check(f"baseline is registry {alias}", baseline.artifact.version == production,
                 f"baseline {baseline.artifact.spec} is {baseline.artifact.version}, {alias} is {production}",
                 threshold=f"== {production}")
    owner = settings.owner if settings.registry == "mlflow" else registry.owner(settings.model)  # MLflow keeps none
    mlgate.check("production has an owner", bool(owner), f"production {production} has no owner")
