"""Lineage gates: the comparison is against the registered production model, owned and intact."""

import pytest


@pytest.mark.gate(category="lineage")
def test_baseline_is_the_registered_production_model(mlgate, baseline):
    from pytest_mlgate.lifecycle.registry import open_registry

    settings = mlgate.settings
    production = open_registry(settings, audit=False).version(settings.model, "production")
    mlgate.check("baseline is registry production", baseline.artifact.version == production["version"],
                 f"baseline {baseline.artifact.spec} is {baseline.artifact.version}, production is "
                 f"{production['version']}", threshold=f"== {production['version']}")
    mlgate.check("production has an owner", bool(production["owner"]),
                 f"production {production['version']} has no owner")
