"""Validation of everything a gate run is configured with, before any gate runs.

Every problem is a :class:`ConfigError` of one line naming the key (or the gate marker) at fault,
so a typo can never silently narrow, skip or mis-record a gate run.
"""

from __future__ import annotations

import functools
import importlib
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_mlgate.decision import SEVERITIES
from pytest_mlgate.errors import ConfigError

if TYPE_CHECKING:
    from pytest_mlgate.config import Settings

MODEL_ROLES = ("candidate", "baseline")
SHA256 = re.compile(r"[0-9a-fA-F]{64}")
OUTPUT_FILES = ("decision", "junit", "markdown", "html", "audit")
OUTPUT_DIRS = ("registry",)
RESERVED_EXIT = {0: "approved", 1: "rejected", 2: "interrupted", 3: "internal error", 4: "usage error",
                 5: "no tests collected"}
STAGES = ("push", "monitor", "both")
MARKER_KEYS = ("severity", "stage", "category", "owner")


def check_settings(settings: Settings) -> None:
    """Raise a one-line ConfigError for the first bad pin, output path, exit code or sub-table."""
    _check_pins(settings)
    _check_exit_code(settings.review_exit_code)
    for key in OUTPUT_FILES:
        value = getattr(settings, key)
        if value is not None:
            _check_output(key, value, settings.path(value), directory=False)
    for key in OUTPUT_DIRS:
        _check_output(key, getattr(settings, key), settings.path(getattr(settings, key)), directory=True)
    for name, validate in section_validators().items():
        if name in settings.sections:
            validate(settings)


def _check_pins(settings: Settings) -> None:
    known = (*MODEL_ROLES, *settings.datasets)
    for name, value in settings.sha256.items():
        if name not in known:
            raise ConfigError(f"mlgate config: 'sha256' pins '{name}', which is no model role or dataset "
                              f"(known: {', '.join(known)})")
        if not isinstance(value, str) or not SHA256.fullmatch(value.strip()):
            raise ConfigError(f"mlgate config: 'sha256' pin for '{name}' must be 64 hex digits, got {value!r}")
    for name in settings.schemas:
        if name not in settings.datasets:
            raise ConfigError(f"mlgate config: 'schemas' names '{name}', which is no configured dataset "
                              f"(known: {', '.join(settings.datasets) or 'none'})")


def _check_exit_code(code: int) -> None:
    if code in RESERVED_EXIT:
        raise ConfigError(f"mlgate config: 'review_exit_code' must not be {code} (that status means "
                          f"{RESERVED_EXIT[code]}); use 6-255")


def _check_output(key: str, value: str, path: Path, *, directory: bool) -> None:
    """An output must be creatable: not the wrong kind of file, and its nearest existing parent writable."""
    where = f"mlgate config: '{key}' = {value!r}"
    if not directory and (value.endswith(("/", os.sep)) or path.is_dir()):
        raise ConfigError(f"{where} is a directory; give a file path")
    if directory and path.exists() and not path.is_dir():
        raise ConfigError(f"{where} is a file; give a directory")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"{where}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"{where}: {parent} is not writable")


#: Each ``[tool.mlgate.NAME]`` sub-table's validator ("module:function", called with the settings),
#: imported only when the sub-table is present (staging needs its extra).
SECTION_VALIDATORS = {
    "training": "pytest_mlgate.lifecycle.training:options",
    "monitor": "pytest_mlgate.monitoring.monitor:options",
    "staging": "pytest_mlgate.serving.staging:validate",
    "alerts": "pytest_mlgate.monitoring.alerts:options",
    "model_card": "pytest_mlgate.checks.compliance:card_config",
    "explain": "pytest_mlgate.checks.explainability:explain_config",
    "compliance": "pytest_mlgate.checks.compliance:compliance_config",
    "drift": "pytest_mlgate.checks.drift_stats:DriftOptions.from_settings",
    "shadow": "pytest_mlgate.monitoring.shadow:shadow_options",
}


def section_validators() -> dict[str, Callable[[Settings], Any]]:
    """Each configured-or-not sub-table's validator, whichever stage the run is in."""
    found: dict[str, Callable[[Settings], Any]] = {}
    for name, target in SECTION_VALIDATORS.items():
        found[name] = functools.partial(_call, target)
    return found


def _call(target: str, settings: Settings) -> Any:
    module, _, attribute = target.partition(":")
    value: Any = importlib.import_module(module)
    for part in attribute.split("."):
        value = getattr(value, part)
    return value(settings)


def marker_problem(nodeid: str, markers: Iterable[Any]) -> str | None:
    """Why a gate's ``@pytest.mark.gate(...)`` arguments are invalid, or None."""
    for marker in markers:
        where = f"{nodeid}: @pytest.mark.gate"
        if marker.args:
            return f"{where} takes keyword arguments only ({', '.join(MARKER_KEYS)}), got {marker.args!r}"
        for key, value in marker.kwargs.items():
            problem = _marker_value(key, value)
            if problem:
                return f"{where}({key}=...) {problem}"
    return None


def _marker_value(key: str, value: Any) -> str | None:
    if key not in MARKER_KEYS:
        return f"is unknown (known: {', '.join(MARKER_KEYS)})"
    if key == "severity" and value not in SEVERITIES:
        return f"must be one of {', '.join(SEVERITIES)}, got {value!r}"
    if key == "stage":
        stages = list(value) if isinstance(value, (list, tuple)) else [value]
        if not stages or any(s not in STAGES for s in stages):
            return f"must be one of {', '.join(STAGES)} (or a list of them), got {value!r}"
    if key in ("category", "owner") and (not isinstance(value, str) or not value.strip()):
        return f"must be a non-empty string, got {value!r}"
    return None
