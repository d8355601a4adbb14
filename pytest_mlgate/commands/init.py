"""``mlgate init --model PATH --data PATH``: scaffold gates for an existing project.

Writes ``[tool.mlgate]`` into pyproject.toml, the recommended gate suite (``gates/test_gates.py``,
from :mod:`pytest_mlgate.commands.templates.recommended`), a pandera schema inferred from the data
and, with ``--ci``, the CI template. Existing files are never overwritten without ``--force``.
"""

from __future__ import annotations

import argparse
import math
import re
from pathlib import Path
from typing import Any

from pytest_mlgate.commands.templates import ci_template
from pytest_mlgate.errors import MlgateError

CI_PATHS = {"github": ".github/workflows/model-gate.yml", "gitlab": ".gitlab-ci.yml", "jenkins": "Jenkinsfile"}
MARGIN = 0.05
TABLE = re.compile(r"^\s*\[\s*tool\.mlgate(\.[^\]]*)?\s*\]\s*$")
HEADER = re.compile(r"^\s*\[")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("init", help="scaffold gates for a project from a model file and a dataset",
                                   description="Write [tool.mlgate] in pyproject.toml, the recommended gate suite, "
                                               "an inferred schema and (with --ci) a CI template. Refuses to "
                                               "overwrite existing files without --force.")
    parser.add_argument("--model", type=Path, required=True, help="the candidate model file (.skops, .joblib, .pkl)")
    parser.add_argument("--data", type=Path, required=True, help="a labelled holdout dataset (.csv or .parquet)")
    parser.add_argument("--target", default=None, help="the target column (default: the one column the model "
                                                       "was not fitted on)")
    parser.add_argument("--name", default=None, help="the model's name (default: the model file's stem)")
    parser.add_argument("--owner", default=None, help="team or person who owns the model")
    parser.add_argument("--ci", choices=sorted(CI_PATHS), default=None, help="also write this CI system's template")
    parser.add_argument("--dir", type=Path, default=Path("."), help="the project directory (default: .)")
    parser.add_argument("--force", action="store_true", help="overwrite files and the [tool.mlgate] table")
    parser.add_argument("--trusted", action="append", default=[], help="a skops type to trust (repeatable)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    root = args.dir.resolve()
    model, data = (root / args.model).resolve(), (root / args.data).resolve()
    for flag, path in (("--model", model), ("--data", data)):
        if not path.is_file():
            raise MlgateError(f"init: {flag} {path}: file not found")
    name = args.name or model.stem
    files = {root / "gates" / "test_gates.py": None, root / "schemas" / f"{name}.yaml": None}
    if args.ci:
        files[root / CI_PATHS[args.ci]] = None
    pyproject = root / "pyproject.toml"
    existing = [p for p in files if p.exists()]
    if pyproject.exists() and any(TABLE.match(line) for line in pyproject.read_text().splitlines()):
        existing.append(pyproject)
    if existing and not args.force:
        shown = ", ".join(str(p.relative_to(root)) for p in existing)
        raise MlgateError(f"init: {shown} already exist(s); pass --force to overwrite")
    found = _measure(model, data, args.target, tuple(args.trusted))
    settings = {"model": name, "owner": args.owner, "candidate": _rel(model, root), "target": found["target"],
                "positive_label": found.get("positive_label"), "skops_trusted": list(args.trusted) or None,
                "junit": "reports/gates.xml", "markdown": "reports/summary.md", "html": "reports/gates.html",
                "docs": "reports/gate-catalog.html"}
    schema = f"schemas/{name}.yaml"
    files[root / "schemas" / f"{name}.yaml"] = found["schema"]
    from pytest_mlgate.commands.templates.recommended import gate_suite

    files[root / "gates" / "test_gates.py"] = gate_suite(model=name, schema=schema, margin=MARGIN, **found["metric"])
    if args.ci:
        files[root / CI_PATHS[args.ci]] = ci_template(args.ci)
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path.relative_to(root)}")
    _write_table(pyproject, settings, {"holdout": _rel(data, root)})
    print(f"wrote [tool.mlgate] in {pyproject.relative_to(root)}; run the gate with: pytest gates")
    return 0


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _measure(model_path: Path, data_path: Path, target: str | None, trusted: tuple[str, ...]) -> dict[str, Any]:
    """The target, the positive label, the inferred schema and the headline metric of the model on the data."""
    from pytest_mlgate.checks.schemas import infer, to_text
    from pytest_mlgate.evaluate import loaders
    from pytest_mlgate.evaluate.metrics import resolve
    from pytest_mlgate.evaluate.models import Dataset, ModelUnderTest

    try:
        model = loaders.load_model(model_path, trusted)
        frame = loaders.load_dataset(data_path)
    except MlgateError:
        raise
    except Exception as exc:  # a corrupt file raises anything
        raise loaders.describe_error("init", model_path, exc) from None
    if frame is None:
        raise MlgateError(f"init: {data_path}: not a tabular file (use .csv or .parquet)")
    target = target or _guess_target(model, list(frame.columns), data_path)
    if target not in frame.columns:
        raise MlgateError(f"init: --target {target!r} is not a column of {data_path}")
    found: dict[str, Any] = {"target": target, "schema": to_text(infer(frame))}
    classes = list(getattr(model, "classes_", []))
    if classes and len(classes) == 2 and 1 not in classes:
        found["positive_label"] = classes[-1]
    metric = "roc_auc" if len(classes) == 2 and hasattr(model, "predict_proba") else (
        "accuracy" if classes else "r2")
    positive = found.get("positive_label", 1)
    value = ModelUnderTest("candidate", model, positive_label=positive).metric(
        metric, Dataset("holdout", frame, target), observe=False)
    spec = resolve(metric)
    if not math.isfinite(value):
        raise MlgateError(f"init: {metric} of {model_path} on {data_path} is not a number ({value})")
    floor = math.floor((value - MARGIN) * 100) / 100 if spec.greater_is_better else math.ceil((value + MARGIN) * 100) / 100
    found["metric"] = {"metric": metric, "measured": float(value), "floor": floor,
                       "higher_is_better": spec.greater_is_better}
    return found


def _guess_target(model: Any, columns: list[str], data_path: Path) -> str:
    features = [str(f) for f in getattr(model, "feature_names_in_", [])]
    rest = [c for c in columns if c not in features]
    if features and len(rest) == 1:
        return rest[0]
    raise MlgateError(f"init: cannot tell the target column of {data_path}; pass --target")


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _write_table(pyproject: Path, settings: dict[str, Any], datasets: dict[str, str]) -> None:
    """Append ``[tool.mlgate]`` (replacing any earlier one and its sub-tables) to pyproject.toml."""
    kept, inside = [], False
    for line in (pyproject.read_text().splitlines() if pyproject.exists() else []):
        if HEADER.match(line):
            inside = bool(TABLE.match(line))
        if not inside:
            kept.append(line)
    table = ["[tool.mlgate]", *(f"{k} = {_toml(v)}" for k, v in settings.items() if v is not None), "",
             "[tool.mlgate.datasets]", *(f"{k} = {_toml(v)}" for k, v in datasets.items())]
    text = "\n".join(kept).rstrip()
    pyproject.write_text((text + "\n\n" if text else "") + "\n".join(table) + "\n")
