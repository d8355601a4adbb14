"""pytest-mlgate: quality gates for ML model pushes, written as pytest tests.

The public API is what this module names in ``__all__``: what a conftest, a gate file, a serving
process or another plugin may import. Everything else in the package is private by convention
and may move between releases. Names are loaded on first use, so ``import pytest_mlgate`` (and
so loading the plugin) costs nothing beyond the standard library.
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from pytest_mlgate.decision import Check, Decision, GateResult
from pytest_mlgate.errors import ConfigError, MlgateError
from pytest_mlgate.evaluate.frameworks import install as _install_frameworks
from pytest_mlgate.sources_builtin import install as _install_sources

try:
    __version__ = version("pytest-mlgate")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

_install_sources()  # registry: and predlog: specs resolve wherever the package is used
_install_frameworks()  # and XGBoost, LightGBM, CatBoost and ONNX files load (each library imported on use)

_LAZY = {
    "Artifact": "pytest_mlgate.evaluate.sources",
    "Dataset": "pytest_mlgate.evaluate.models",
    "Metric": "pytest_mlgate.evaluate.metrics",
    "MlGate": "pytest_mlgate.gates",
    "ModelUnderTest": "pytest_mlgate.evaluate.models",
    "PredictionLogger": "pytest_mlgate.monitoring.predlog",
    "Settings": "pytest_mlgate.config",
    "Source": "pytest_mlgate.evaluate.sources",
    "open_registry": "pytest_mlgate.lifecycle.registry",
    "register_metric": "pytest_mlgate.evaluate.metrics",
    "register_source": "pytest_mlgate.evaluate.sources",
    "sha256_file": "pytest_mlgate.evaluate.hashing",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'pytest_mlgate' has no attribute {name!r}")


__all__ = ["Check", "ConfigError", "Decision", "GateResult", "MlgateError", "__version__", *_LAZY]
