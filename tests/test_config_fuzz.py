"""Seeded configuration fuzzing: every mutation of a valid ``[tool.mlgate]`` is a one-line usage error
naming the key at fault, or a valid configuration; never a traceback, never a silently ignored key."""

from __future__ import annotations

import copy
import random
from pathlib import Path

import pytest

from pytest_mlgate.config import KEYS, build
from pytest_mlgate.errors import ConfigError
from pytest_mlgate.validation import check_settings

SEED, MUTATIONS = 20261201, 300
VALID = {
    "model": "credit-risk", "owner": "risk-ml@example.org", "candidate": "models/candidate.skops",
    "baseline": "models/baseline.skops", "target": "defaulted", "sensitive": ["sex"], "positive_label": 1,
    "decision": "reports/decision.json", "junit": "reports/gates.xml", "markdown": "reports/summary.md",
    "html": "reports/gates.html", "review_exit_code": 6, "confidence": 0.95, "bootstrap": 200,
    "approvers": ["lead@example.org"], "risk": "high", "predict_timeout": 60, "gates": ["gates"],
    "sha256": {"candidate": "ab" * 32},
    "datasets": {"holdout": "data/holdout.csv", "reference": "data/train.parquet"},
    "explain": {"proxies": ["region"], "top_k": 3},
    "model_card": {"path": "MODEL_CARD.md", "required": ["owner"]},
    "staging": {"command": "{python} serve.py --model {model} --port {port}", "health": "/health"},
    "alerts": {"file": "reports/alerts.jsonl", "dedupe_window": "6h"},
    "drift": {"correction": "fdr"},
    "compliance": {"allow": ["zip"]},
}
PATH_KEYS = ("decision", "junit", "markdown", "html", "audit")
TEXT_KEYS = ("model", "owner", "candidate", "baseline", "target", "decision", "audit", "registry", "promote")
SECTIONS = ("explain", "staging", "alerts", "drift", "compliance", "training", "monitor")
ODD_VALUES = ({}, [], [1, 2], 3.5, -1, 0, True, "", "  ", "x", None, {"a": 1}, 10**12)


def mutate(rng: random.Random, table: dict) -> tuple[str, str, bool]:
    """Apply one random mutation; returns (kind, the key it touched, whether it must be refused)."""
    kind = rng.choice(["unknown", "section_unknown", "empty", "odd", "directory", "pin", "section_type",
                       "section_odd"])
    if kind == "unknown":
        key = rng.choice([k.name for k in KEYS]) + rng.choice(["s", "_", "x"])
        table[key] = rng.choice(ODD_VALUES[:10]) or "value"
        return kind, key, True
    if kind == "section_unknown":
        section = rng.choice(SECTIONS)
        key = rng.choice(["comand", "webhok", "topk", "allowed", "window", "retry"])
        table.setdefault(section, {})[key] = "x"
        return kind, key, True
    if kind == "empty":
        key = rng.choice(TEXT_KEYS)
        table[key] = rng.choice(["", "   "])
        return kind, key, True
    if kind == "directory":
        key = rng.choice(PATH_KEYS)
        table[key] = rng.choice([".", "reports/", "data", "/"])
        return kind, key, True
    if kind == "pin":
        name = rng.choice(["candidate", "baseline", "holdout", "holdut", "model", ""])
        value = rng.choice(["ab" * 32, "AB" * 32, "", "xyz", "ab" * 31, "ab" * 33])
        table["sha256"] = {name: value}
        valid = name in ("candidate", "baseline", "holdout") and value in ("ab" * 32, "AB" * 32)
        return kind, "sha256", not valid
    if kind == "section_type":
        section = rng.choice(SECTIONS)
        table[section] = rng.choice(["x", 3, ["a"], True])
        return kind, section, True
    if kind == "section_odd":
        section = rng.choice(("explain", "staging", "alerts", "drift", "compliance"))
        key = rng.choice(sorted(table.get(section) or {"x": 0}))
        table.setdefault(section, {})[key] = rng.choice(ODD_VALUES)
        return kind, key, False
    key = rng.choice([k.name for k in KEYS])
    table[key] = rng.choice(ODD_VALUES)
    return kind, key, False


@pytest.fixture
def root(tmp_path: Path) -> Path:
    for directory in ("reports", "data", "gates"):
        (tmp_path / directory).mkdir()
    return tmp_path


def test_the_unmutated_configuration_is_valid(root: Path):
    check_settings(build(root, VALID))


def test_every_mutation_is_a_one_line_error_naming_the_key_or_valid(root: Path):
    rng = random.Random(SEED)
    refused = accepted = 0
    for number in range(MUTATIONS):
        table = copy.deepcopy(VALID)
        kind, key, must_refuse = mutate(rng, table)
        table = {k: v for k, v in table.items() if v is not None}
        where = f"mutation {number} ({kind} {key!r}): {table}"
        try:
            check_settings(build(root, table))
        except ConfigError as exc:
            message = str(exc)
            assert "\n" not in message and message.startswith("mlgate config:"), where
            assert key in message, f"{where}: {message}"
            refused += 1
        else:
            assert not must_refuse, f"{where}: accepted"
            accepted += 1
    assert refused + accepted == MUTATIONS and refused >= MUTATIONS // 2


@pytest.mark.parametrize("number", range(8))
def test_mutations_end_to_end_are_usage_errors_or_runs(pytester: pytest.Pytester, number: int):
    """A sample of the mutations through pytest itself: a usage error of one line, or a gate run."""
    rng = random.Random(SEED + number)
    table = copy.deepcopy(VALID)
    kind, key, must_refuse = mutate(rng, table)
    lines = []
    for name, value in table.items():
        if not isinstance(value, dict) and value is not None:
            lines.append(f"{name} = {toml(value)}")
    text = "[tool.mlgate]\n" + "\n".join(lines) + "\n"
    for name, value in table.items():
        if isinstance(value, dict):
            text += f"\n[tool.mlgate.{name}]\n" + "".join(f"{k} = {toml(v)}\n" for k, v in value.items()
                                                          if v is not None)
    pytester.makefile(".toml", pyproject=text)
    for directory in ("reports", "data", "gates"):
        (pytester.path / directory).mkdir(exist_ok=True)
    pytester.makepyfile(**{"gates/test_rule": "def test_rule():\n    assert True\n"})
    result = pytester.runpytest("-p", "no:cacheprovider")
    errors = [line for line in result.stderr.lines if line.strip()]
    if result.ret == pytest.ExitCode.USAGE_ERROR:
        assert len(errors) == 1 and key in errors[0], (kind, key, errors)
    else:
        assert not must_refuse, (kind, key, text)
        assert "Traceback" not in result.stdout.str() + result.stderr.str()
        assert (pytester.path / (table.get("decision") or "reports/mlgate-decision.json")).exists()


def toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f'"{k}" = {toml(v)}' for k, v in value.items()) + "}"
    return repr(value)
