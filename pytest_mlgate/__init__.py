"""pytest-mlgate: quality gates for ML model pushes, written as pytest tests."""

from importlib.metadata import PackageNotFoundError, version

from pytest_mlgate.decision import Check, Decision, GateResult
from pytest_mlgate.errors import ConfigError, MlgateError
from pytest_mlgate.sources_builtin import install as _install_sources

try:
    __version__ = version("pytest-mlgate")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

_install_sources()  # registry: and predlog: specs resolve wherever the package is used

__all__ = ["Check", "ConfigError", "Decision", "GateResult", "MlgateError", "__version__"]
