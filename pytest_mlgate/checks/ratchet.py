"""The ratchet: regression against the best of the last N approved versions, not only production.

Compared with production alone, a chain of small accepted drops adds up unnoticed (five pushes
each 1% worse lose 5%). ``no_regression(..., against="best_of_last:5")`` (or ``[tool.mlgate]
ratchet = 5``) measures the metric of the production model and of the last five registry versions
an approved push decision passed, on the same rows, and compares the candidate with the best.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_mlgate.evaluate.metrics import resolve
from pytest_mlgate.lifecycle.history import last_approved

if TYPE_CHECKING:
    from pytest_mlgate.checks.recorder import Recorder
    from pytest_mlgate.decision import Check
    from pytest_mlgate.evaluate.models import Dataset, ModelUnderTest


def best_of_last(recorder: Recorder, metric: Any, data: Dataset,
                 n: int) -> tuple[ModelUnderTest | None, dict[str, Any]]:
    """The best of production and the last ``n`` approved versions on ``data``, and what was compared."""
    spec = resolve(metric)
    settings = recorder.settings
    candidate, baseline = recorder.model("candidate"), recorder.model("baseline")
    contenders: list[tuple[str, ModelUnderTest]] = []
    if baseline is not None:
        contenders.append((_label(baseline), baseline))
    seen = {baseline.sha256} if baseline is not None else set()
    for version in last_approved(settings, settings.model, n, exclude_sha=candidate.sha256 if candidate else None) \
            if settings.model else []:
        if version["sha256"] in seen:
            continue
        spec_text = f"registry:{settings.model}@{version['version']}"
        contenders.append((version["version"], recorder.workspace.model_at(spec_text, version["version"])))
    info: dict[str, Any] = {"against": f"best_of_last:{n}"}
    if not contenders:
        return None, info
    values = [(model.metric(spec, data, observe=False), label, model) for label, model in contenders]
    pick = max if spec.greater_is_better else min
    value, label, model = pick(values, key=lambda item: item[0])
    info.update(against_version=label, compared={lab: val for val, lab, _ in values})
    return model, info


def annotate(checks: list[Check], info: dict[str, Any]) -> list[Check]:
    """Say in each check what the candidate was compared with."""
    n = info["against"].partition(":")[2]
    for check in checks:
        check.details.update(info)
        if info.get("against_version"):
            check.message += f" (against the best of the last {n} approved versions: {info['against_version']})"
    return checks


def _label(model: ModelUnderTest) -> str:
    version = getattr(model.artifact, "version", None) if model.artifact else None
    return f"production ({version})" if version else "production"
