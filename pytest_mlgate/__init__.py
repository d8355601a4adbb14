"""pytest-mlgate: quality gates for ML model pushes, written as pytest tests."""

from importlib.metadata import PackageNotFoundError, version

from pytest_mlgate.decision import Check, Decision, GateResult
from pytest_mlgate.errors import ConfigError, MlgateError

try:
    __version__ = version("pytest-mlgate")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = ["Check", "ConfigError", "Decision", "GateResult", "MlgateError", "__version__"]
