"""Compliance gates: no direct personal identifiers among the model's features, and a complete model card.

PII detection looks at column names (``email``, ``phone``, ``ssn``, ``first_name``...) and at a
sample of string values (e-mail addresses, phone numbers, national-ID-like codes, person names).
The model card is read from ``[tool.mlgate.model_card]`` and/or a card file (YAML, JSON, or
Markdown with YAML front matter) named by its ``path`` key; ``owner`` and ``risk`` may come from
``[tool.mlgate]`` itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pytest_mlgate.checks.recorder import Recorder
from pytest_mlgate.config import Settings, read_pyproject
from pytest_mlgate.decision import FAILED, PASSED, Check
from pytest_mlgate.errors import ConfigError, MlgateError
from pytest_mlgate.evaluate.models import Dataset

NAME_PATTERNS: dict[str, str] = {
    "email": r"e_?mail",
    "phone": r"phone|mobile|msisdn|tel(ephone)?$",
    "national_id": r"ssn|social_?security|national_?id|passport|tax_?id|nino|insurance_?number",
    "person_name": r"(first|last|full|given|family|sur)_?name|^name$|surname",
    "address": r"street|address|postcode|zip_?code",
    "ip_address": r"^ip(_?addr(ess)?)?$",
}
# Most specific first: a value matching several kinds counts as the first (an SSN is not a phone number).
VALUE_PATTERNS: dict[str, str] = {
    "email": r"[\w.+-]+@[\w-]+(\.[\w-]+)+",
    "national_id": r"\d{3}-\d{2}-\d{4}|[A-Z]{2}\d{6}[A-D]|\d{2}[01]\d[0-3]\d{5,7}",
    "ip_address": r"(\d{1,3}\.){3}\d{1,3}",
    "person_name": r"[A-Z][a-z]+(-[A-Z][a-z]+)?\s[A-Z][a-z]+(-[A-Z][a-z]+)?",
    # 7 to 15 digits with the usual separators, but not an ISO date
    "phone": r"(?!\d{4}-\d{2}-\d{2}$)(?=(\D*\d){7,15}\D*$)\+?\(?\d[\d\s().-]{5,}\d",
}
DEFAULT_REQUIRED = ("owner", "intended_use", "risk_level", "training_data")
ALIASES = {"risk": "risk_level", "training_data_description": "training_data"}


NAME_RX = {kind: re.compile(pattern) for kind, pattern in NAME_PATTERNS.items()}


def scan_column(name: str, values: Any, *, min_share: float = 0.5, sample: int = 1000, seed: int = 0
                ) -> dict[str, Any]:
    """What about one column looks like a personal identifier: its name, and the share of values matching."""
    lowered = re.sub(r"[^a-z0-9]+", "_", str(name).lower()).strip("_")
    by_name = [kind for kind, rx in NAME_RX.items() if rx.search(lowered)]
    row: dict[str, Any] = {"column": str(name), "name_match": ", ".join(by_name) or None,
                           "value_match": None, "share": 0.0}
    import pandas as pd

    series = pd.Series(values).dropna()
    if series.dtype.kind not in "OSU" and str(series.dtype) not in ("string", "str"):
        row["flagged"] = bool(by_name)
        return row
    if len(series) > sample:
        series = series.sample(sample, random_state=seed)
    text = series.astype(str).str.strip()
    if len(text):
        shares = {kind: float(text.str.fullmatch(pattern).mean()) for kind, pattern in VALUE_PATTERNS.items()}
        kind, share = max(shares.items(), key=lambda item: item[1])
        if share >= min_share:
            row["value_match"], row["share"] = kind, share
    row["flagged"] = bool(by_name) or row["value_match"] is not None
    return row


def compliance_config(settings: Settings) -> tuple[list[str], float]:
    """``[tool.mlgate.compliance]``: columns allowed after review, and the value share that flags."""
    table = settings.section("compliance")
    unknown = sorted(set(table) - {"allow", "min_share"})
    if unknown:
        raise ConfigError(f"mlgate config: [tool.mlgate.compliance] unknown key '{unknown[0]}' "
                          "(known: allow, min_share)")
    allow, share = table.get("allow", []), table.get("min_share", 0.5)
    if not isinstance(allow, list) or not all(isinstance(a, str) for a in allow):
        raise ConfigError(f"mlgate config: [tool.mlgate.compliance] key 'allow' must be a list of column "
                          f"names, got {allow!r}")
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share <= 1:
        raise ConfigError(f"mlgate config: [tool.mlgate.compliance] key 'min_share' must be a number in "
                          f"(0, 1], got {share!r}")
    return allow, float(share)


def pii_check(data: Dataset, columns: Sequence[str], *, allow: Sequence[str] = (), min_share: float = 0.5,
              role: str = "candidate") -> Check:
    """Fails when any of ``columns`` (the model's features) looks like a direct personal identifier."""
    table = []
    for column in columns:
        row = scan_column(column, data.column(column), min_share=min_share)
        if row["flagged"] and column in allow:
            row["flagged"], row["allowed"] = False, True
        table.append(row)
    flagged = [r for r in table if r["flagged"]]
    name = f"personal identifiers in features[{role}]"
    reasons = [f"'{r['column']}' ({_why(r)})" for r in flagged]
    message = (f"{name}: {len(flagged)} of {len(columns)} feature(s) look like personal identifiers: "
               f"{', '.join(reasons)}" if flagged else
               f"{name}: none of {len(columns)} feature(s) look like personal identifiers")
    return Check(name, FAILED if flagged else PASSED, metric="pii_columns", dataset=data.name,
                 candidate=float(len(flagged)), threshold="== 0", message=message, kind="compliance",
                 details={"table": table, "flagged": [r["column"] for r in flagged], "min_share": min_share})


def _why(row: Mapping[str, Any]) -> str:
    parts = []
    if row["name_match"]:
        parts.append(f"name looks like {row['name_match']}")
    if row["value_match"]:
        parts.append(f"{row['share']:.0%} of values look like {row['value_match']}")
    return "; ".join(parts)


# ---------------------------------------------------------------- model card


def read_card(path: Path) -> dict[str, Any]:
    """Fields of a model card file: YAML, JSON, or Markdown with YAML front matter."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MlgateError(f"model card {path}: cannot read: {exc.strerror}") from None
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        elif path.suffix.lower() in (".md", ".markdown"):
            match = re.match(r"\A---\s*\n(.*?)\n---\s*(\n|\Z)", text, re.DOTALL)
            if match is None:
                raise MlgateError(f"model card {path}: no YAML front matter (a block between '---' lines at the top)")
            data = yaml.safe_load(match.group(1))
        else:
            data = yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise MlgateError(f"model card {path}: not valid {path.suffix.lstrip('.') or 'YAML'}: "
                          f"{str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise MlgateError(f"model card {path}: expected a mapping of fields, got {type(data).__name__}")
    return {ALIASES.get(str(k), str(k)): v for k, v in data.items()}


def card_config(settings: Settings) -> tuple[list[str], Path | None, dict[str, Any]]:
    """``[tool.mlgate.model_card]``: the required fields, the card file, and fields given inline."""
    table = dict(settings.section("model_card"))
    required = table.pop("required", list(DEFAULT_REQUIRED))
    if not isinstance(required, list) or not required or not all(isinstance(r, str) for r in required):
        raise ConfigError(f"mlgate config: [tool.mlgate.model_card] key 'required' must be a non-empty "
                          f"list of field names, got {required!r}")
    path = table.pop("path", None)
    if path is not None and not isinstance(path, str):
        raise ConfigError(f"mlgate config: [tool.mlgate.model_card] key 'path' must be a file path, got {path!r}")
    return ([ALIASES.get(r, r) for r in required], settings.path(path) if path else None,
            {ALIASES.get(k, k): v for k, v in table.items()})


def _declared_risk(settings: Settings) -> str | None:
    """``[tool.mlgate] risk`` when the user declared it (its built-in default does not count)."""
    if settings.source and "risk" in read_pyproject(Path(settings.source)):
        return settings.risk
    return None


def _present(value: Any) -> bool:
    if value is None or isinstance(value, bool):
        return value is not None
    if isinstance(value, str):
        return bool(value.strip()) and value.strip().upper() not in ("TODO", "TBD", "N/A")
    return bool(value) if isinstance(value, (list, dict)) else True


def card_check(required: Sequence[str], sources: Sequence[tuple[str, Mapping[str, Any]]]) -> Check:
    """Every required field is present and non-empty in the first source (by priority) that has it."""
    table = []
    for field in required:
        found = next(((label, fields[field]) for label, fields in sources if _present(fields.get(field))), None)
        table.append({"field": field, "present": found is not None, "source": found[0] if found else None,
                      "value": str(found[1])[:120] if found else None})
    missing = [r["field"] for r in table if not r["present"]]
    looked = ", ".join(label for label, _ in sources)
    message = (f"model card: missing or empty mandatory field(s) {', '.join(missing)} "
               f"(looked in {looked})" if missing else
               f"model card: all {len(required)} mandatory fields present")
    return Check("model card", FAILED if missing else PASSED, metric="model_card_fields",
                 candidate=float(len(required) - len(missing)), threshold=f"== {len(required)}",
                 message=message, kind="compliance", details={"table": table, "missing": missing})


# ---------------------------------------------------------------- the mixin


class ComplianceGates(Recorder):
    """``mlgate.no_pii`` / ``mlgate.model_card``."""

    def no_pii(self, dataset: str | Dataset = "holdout", *, model: str = "candidate",
               columns: Sequence[str] | None = None, allow: Sequence[str] | None = None,
               min_share: float | None = None) -> list[Check]:
        """No model feature (or given ``columns``) may look like a direct personal identifier."""
        __tracebackhide__ = True
        configured_allow, configured_share = compliance_config(self.settings)
        allow = list(allow if allow is not None else configured_allow)
        share = min_share if min_share is not None else configured_share
        data = self.rows(dataset)
        if columns is None:
            subject = self.model(model)
            if subject is None:
                raise MlgateError(f"model '{model}' is not configured")
            columns = [str(c) for c in data.features_for(subject.model, model).columns]
        return self.record(pii_check(data, list(columns), allow=allow, min_share=share, role=model))

    def model_card(self, required: Sequence[str] | None = None) -> list[Check]:
        """The model card holds every mandatory field ([tool.mlgate.model_card] required / path)."""
        __tracebackhide__ = True
        s = self.settings
        fields, path, inline = card_config(s)
        sources: list[tuple[str, Mapping[str, Any]]] = [("[tool.mlgate.model_card]", inline)]
        if path is not None:
            sources.append((str(path.relative_to(s.root) if path.is_relative_to(s.root) else path), read_card(path)))
        sources.append(("[tool.mlgate]", {"owner": s.owner, "risk_level": _declared_risk(s), "model": s.model}))
        wanted = [ALIASES.get(r, r) for r in required] if required is not None else fields
        return self.record(card_check(wanted, sources))

