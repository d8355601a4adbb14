"""Put the example's production model in the embedded registry (called from train.py).

The baseline the gates compare against is ``registry:credit-risk@production``: the registered
version that the ``production`` alias points at, loaded only after its sha256 is checked.
Running train.py again does not add versions: a file already registered is reused.
"""

from __future__ import annotations

from pathlib import Path

from pytest_mlgate.config import build, read_pyproject
from pytest_mlgate.evaluate.hashing import sha256_file
from pytest_mlgate.lifecycle.registry import open_registry


def register_production(here: Path) -> str:
    """Register models/baseline.skops (once) and point ``production`` at it; returns the version."""
    pyproject = here / "pyproject.toml"
    settings = build(here, read_pyproject(pyproject), source=str(pyproject))
    registry = open_registry(settings)
    baseline = here / "models" / "baseline.skops"
    entry = registry.find_sha(settings.model, sha256_file(baseline)) or registry.register(
        settings.model, baseline, owner=settings.owner, by="train.py",
        metadata={"trained_by": "example_project/train.py", "algorithm": "LogisticRegression"})
    aliases = registry.index(settings.model)["aliases"]
    if aliases.get("production") != entry["version"]:
        registry.set_alias(settings.model, "production", entry["version"], by="train.py",
                           reason="initial production model of the example", action="assign")
    print(f"registered {settings.model} {entry['version']} as production: registry:{settings.model}@production")
    return entry["version"]
