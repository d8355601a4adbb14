"""One frozen settings object, read from CLI > pytest ini > ``[tool.mlgate]`` > defaults.

Every bad value is a :class:`ConfigError` naming the key. Sub-tables such as
``[tool.mlgate.staging]`` are kept as plain mappings and validated by the module that uses them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from pytest_mlgate.errors import ConfigError

SECTIONS = ("training", "staging", "monitor", "alerts", "model_card", "explain", "compliance", "drift", "leakage",
            "shadow")


def _text(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"mlgate config: '{key}' must be a non-empty string, got {value!r}")
    return value.strip()


def _label(key: str, value: Any) -> Any:
    if isinstance(value, (int, bool)) or isinstance(value, str) and value.strip():
        return value
    raise ConfigError(f"mlgate config: '{key}' must be a string, integer or boolean, got {value!r}")


def _names(key: str, value: Any) -> tuple[str, ...]:
    names = [v for v in value.replace(",", " ").split() if v] if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)) or not all(isinstance(v, str) and v.strip() for v in names) or (
            isinstance(value, str) and not names):
        raise ConfigError(f"mlgate config: '{key}' must be a list of names, got {value!r}")
    return tuple(names)


def _number(low: float, high: float, integer: bool = False) -> Callable[[str, Any], Any]:
    def parse(key: str, value: Any) -> Any:
        try:
            number = int(value) if integer else float(value)
        except (TypeError, ValueError):
            number = None
        if number is None or isinstance(value, bool) or not low <= number <= high:
            kind = "an integer" if integer else "a number"
            raise ConfigError(f"mlgate config: '{key}' must be {kind} in [{low}, {high}], got {value!r}")
        return number
    return parse


def flag(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        return value.lower() in ("1", "true", "yes", "on")
    raise ConfigError(f"mlgate config: '{key}' must be true or false, got {value!r}")


def _mapping(key: str, value: Any) -> dict[str, str]:
    """A table, or ``NAME=VALUE`` pairs from the command line or ini."""
    if isinstance(value, (list, tuple)):
        pairs = {}
        for item in value:
            name, sep, text = str(item).partition("=")
            if not sep or not name.strip() or not text.strip():
                raise ConfigError(f"mlgate config: '{key}' entries must look like NAME=VALUE, got {item!r}")
            pairs[name.strip()] = text.strip()
        value = pairs
    if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
        raise ConfigError(f"mlgate config: '{key}' must map names to strings, got {value!r}")
    return dict(value)


_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KIB": 1 << 10, "MIB": 1 << 20, "GIB": 1 << 30, "TIB": 1 << 40}


def _bytes(key: str, value: Any) -> int:
    """A size: bytes, or a number with a unit such as ``512MiB`` or ``4GB``."""
    text = str(value).strip().upper().replace(" ", "")
    number = text.rstrip("KMGTIB")
    unit = text[len(number):]
    try:
        size = float(number) * _UNITS[unit]
    except (KeyError, ValueError):
        size = -1
    if isinstance(value, bool) or size < 1:
        raise ConfigError(f"mlgate config: '{key}' must be a size such as 512MiB or 4GiB, got {value!r}")
    return int(size)


def _choice(*options: str) -> Callable[[str, Any], str]:
    def parse(key: str, value: Any) -> str:
        if value not in options:
            raise ConfigError(f"mlgate config: '{key}' must be one of {', '.join(options)}, got {value!r}")
        return value
    return parse


@dataclass(frozen=True)
class Key:
    name: str
    parse: Callable[[str, Any], Any]
    default: Any
    help: str
    repeatable: bool = False


KEYS: tuple[Key, ...] = (
    Key("model", _text, None, "model name"),
    Key("owner", _text, None, "team or person who owns the model"),
    Key("candidate", _text, None, "candidate model: a file path or registry:NAME@ALIAS"),
    Key("baseline", _text, None, "production model to compare against (optional)"),
    Key("target", _text, None, "target column in the datasets"),
    Key("positive_label", _label, 1, "positive class label for binary metrics"),
    Key("decision_threshold", _number(0.0, 1.0), None,
        "binary labels from score >= threshold instead of the model's predict (one inference per model)"),
    Key("sensitive", _names, (), "sensitive attribute columns"),
    Key("id_column", _text, None, "column joining a predictions: table to the datasets' rows"),
    Key("datasets", _mapping, {}, "named datasets, NAME=PATH", repeatable=True),
    Key("sha256", _mapping, {}, "expected sha256 of an artifact, NAME=HEX", repeatable=True),
    Key("dtypes_from", _text, "reference", 'the dataset whose column types the others are read with ("none": '
        "pandas' defaults)"),
    Key("schemas", _mapping, {}, "pandera schema file whose dtypes a dataset is read with, NAME=PATH", repeatable=True),
    Key("decision", _text, "reports/mlgate-decision.json", "where to write the decision JSON"),
    Key("junit", _text, None, "where to write the gate-centric JUnit XML"),
    Key("markdown", _text, None, "where to write the Markdown summary"),
    Key("html", _text, None, "where to write the HTML report"),
    Key("confidence", _number(0.5, 0.9999), 0.95, "confidence level of intervals"),
    Key("bootstrap", _number(10, 100_000, integer=True), 1000, "bootstrap resamples"),
    Key("min_slice_size", _number(1, 10**9, integer=True), 30, "rows below which a slice is too small to judge"),
    Key("seed", _number(0, 2**32 - 1, integer=True), 0, "random seed for resampling"),
    Key("gates", _names, (), "paths of the gate suite, relative to the project (default: testpaths, else the "
        "project); a run that executes fewer of its gates is incomplete"),
    Key("predict_timeout", _number(0.001, 86400.0), 300.0, "seconds one inference call may take"),
    Key("underpowered", _choice("review", "fail", "pass"), "review",
        "outcome of a regression check that passes with an allowance below its detectable change"),
    Key("schema_margin", _number(0.0, 1e6), 3.0,
        "inferred schemas widen each numeric range by this many times its observed range on each side"),
    Key("schema_null_tolerance", _number(0.0, 1.0), 0.01,
        "inferred schemas fail a column whose missing share exceeds the reference's by more than this "
        "(and by more than chance)"),
    Key("review_exit_code", _number(0, 255, integer=True), 6, "exit status of a needs-review decision"),
    Key("stage", _choice("push", "monitor"), "push", "which gates to run: push or monitor"),
    Key("registry", _text, ".mlgate/registry", 'model registry: a directory, or "mlflow" for the MLflow Model Registry'),
    Key("mlflow_tracking_uri", _text, None, "MLflow tracking server for models:/ and runs:/ URIs and registry = "
        '"mlflow" (default: $MLFLOW_TRACKING_URI)'),
    Key("audit", _text, ".mlgate/audit.jsonl", "audit log file"),
    Key("approvers", _names, (), "people allowed to approve review gates"),
    Key("promote", _text, None, "alias to move to the candidate when the decision allows it"),
    Key("auto_rollback", flag, False, "roll production back when a monitoring run rejects"),
    Key("risk", _choice("low", "medium", "high"), "medium", "declared risk level of the model"),
    Key("skops_trusted", _names, (), "extra types trusted when loading .skops files"),
    Key("business_unit", _text, None, "unit of expected_cost / expected_value gates, e.g. EUR"),
    Key("ratchet", _number(0, 1000, integer=True), 0,
        "no_regression compares with the best of the last N approved versions (0: production only)"),
    Key("docs", _text, None, "where to write the gate catalog (.md or .html)"),
    Key("memory_budget", _bytes, 4 << 30,
        "memory a Parquet dataset may use in memory; larger ones are streamed in chunks"),
    Key("engine", _choice("local", "dask"), "local", "where streamed datasets are folded: local or dask"),
    Key("dask_scheduler", _text, None, "Dask scheduler address (engine dask; default: a local cluster)"),
    Key("sample_rows", _number(1, 10**9, integer=True), 100_000,
        "rows sampled from a streamed dataset for gates that need all rows at once"),
    Key("cache", _text, ".mlgate/cache", "warm cache of predictions and statistics"),
    Key("cache_size", _bytes, 2 << 30, "largest size of the warm cache; least recently used entries go first"),
    Key("no_cache", flag, False, "neither read nor write the warm cache"),
)
KEY_BY_NAME = {key.name: key for key in KEYS}


@dataclass(frozen=True)
class Settings:
    """Resolved gate settings; paths are relative to ``root`` (the user's project directory)."""

    root: Path
    source: str | None = None
    model: str | None = None
    owner: str | None = None
    candidate: str | None = None
    baseline: str | None = None
    target: str | None = None
    positive_label: Any = 1
    decision_threshold: float | None = None
    sensitive: tuple[str, ...] = ()
    id_column: str | None = None
    datasets: dict[str, str] = field(default_factory=dict)
    sha256: dict[str, str] = field(default_factory=dict)
    dtypes_from: str = "reference"
    schemas: dict[str, str] = field(default_factory=dict)
    decision: str = "reports/mlgate-decision.json"
    junit: str | None = None
    markdown: str | None = None
    html: str | None = None
    confidence: float = 0.95
    bootstrap: int = 1000
    min_slice_size: int = 30
    seed: int = 0
    gates: tuple[str, ...] = ()
    predict_timeout: float = 300.0
    schema_margin: float = 3.0
    schema_null_tolerance: float = 0.01
    underpowered: str = "review"
    review_exit_code: int = 6
    stage: str = "push"
    registry: str = ".mlgate/registry"
    mlflow_tracking_uri: str | None = None
    audit: str = ".mlgate/audit.jsonl"
    approvers: tuple[str, ...] = ()
    promote: str | None = None
    auto_rollback: bool = False
    risk: str = "medium"
    skops_trusted: tuple[str, ...] = ()
    business_unit: str | None = None
    ratchet: int = 0
    docs: str | None = None
    memory_budget: int = 4 << 30
    engine: str = "local"
    dask_scheduler: str | None = None
    sample_rows: int = 100_000
    cache: str = ".mlgate/cache"
    cache_size: int = 2 << 30
    no_cache: bool = False
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)

    def path(self, value: str | Path) -> Path:
        """Resolve a configured path against the project root."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.root / path

    def section(self, name: str) -> dict[str, Any]:
        """A ``[tool.mlgate.NAME]`` sub-table, empty when absent."""
        return self.sections.get(name, {})

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["root"] = str(self.root)
        return data


def read_pyproject(path: Path) -> dict[str, Any]:
    """The ``[tool.mlgate]`` table of a pyproject.toml, or ``{}`` when it has none."""
    import tomllib  # only when a pyproject.toml is read: pytest itself does not need it with an ini file

    try:
        with path.open("rb") as fh:
            document = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"mlgate config: cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"mlgate config: {path} is not valid TOML: {exc}") from None
    table = document.get("tool", {}).get("mlgate", {})
    if not isinstance(table, dict):
        raise ConfigError(f"mlgate config: [tool.mlgate] in {path} must be a table")
    return table


def build(root: Path, *layers: Mapping[str, Any], source: str | None = None) -> Settings:
    """Merge layers (lowest priority first) into validated Settings.

    Each layer maps key names to raw values; ``None`` means "not set here".
    """
    values: dict[str, Any] = {}
    sections: dict[str, dict[str, Any]] = {}
    for layer in layers:
        for name, raw in layer.items():
            if raw is None:
                continue
            if name in SECTIONS:
                if not isinstance(raw, Mapping):
                    raise ConfigError(f"mlgate config: [tool.mlgate.{name}] must be a table")
                sections[name] = {**sections.get(name, {}), **raw}
                continue
            key = KEY_BY_NAME.get(name)
            if key is None:
                raise ConfigError(f"mlgate config: unknown key '{name}' (known: {', '.join(sorted(KEY_BY_NAME))})")
            value = key.parse(name, raw)
            if isinstance(value, dict) and isinstance(values.get(name), dict):
                value = {**values[name], **value}
            values[name] = value
    return Settings(root=root, source=source, sections=sections, **values)
