"""The per-gate recorder behind the ``mlgate`` fixture: it records checks and fails the gate."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_mlgate.decision import FAILED, NOT_APPLICABLE, PASSED, Check
from pytest_mlgate.errors import MlgateError, NotApplicable
from pytest_mlgate.evaluate.models import Dataset, ModelUnderTest

if TYPE_CHECKING:
    from pytest_mlgate.config import Settings
    from pytest_mlgate.evaluate.workspace import Workspace


class Recorder:
    """Core of the ``mlgate`` fixture; the check families add their methods as mixins."""

    def __init__(self, gate: str, workspace: Workspace):
        self.gate = gate
        self.workspace = workspace
        self.checks: list[Check] = []

    @property
    def settings(self) -> Settings:
        return self.workspace.settings

    def dataset(self, data: str | Dataset) -> Dataset:
        """A configured dataset by name (a Dataset passes through)."""
        return data if isinstance(data, Dataset) else self.workspace.dataset(data)

    def model(self, model: str | ModelUnderTest) -> ModelUnderTest | None:
        """A model by role (``candidate``, ``baseline``); ``None`` when the role is not configured."""
        return model if isinstance(model, ModelUnderTest) else self.workspace.model(model)

    def live_model(self, role: str, purpose: str) -> ModelUnderTest:
        """The model in ``role``, which ``purpose`` must run; a predictions table is recorded as a
        not-applicable check and ends the gate as not applicable."""
        subject = self.model(role)
        if subject is None:
            raise MlgateError(f"{purpose}: model '{role}' is not configured")
        if not subject.live:
            message = f"{purpose}: not applicable, model '{role}' is {subject.model!r} (scored elsewhere)"
            self.checks.append(Check(purpose, NOT_APPLICABLE, message=message, kind="not_applicable"))
            raise NotApplicable(message)
        return subject

    def record(self, *checks: Check) -> list[Check]:
        """Keep the checks and fail the gate with every failing check's message."""
        __tracebackhide__ = True
        if not checks:  # a check with nothing to judge (no rows, slices or columns) must not pass
            raise AssertionError(f"{self.gate}: the check recorded nothing to judge")
        self.checks.extend(checks)
        failed = [c.message or c.name for c in checks if c.failed]
        if failed:
            raise AssertionError("; ".join(failed))
        return list(checks)

    def check(self, name: str, passed: bool, message: str = "", **fields: Any) -> Check:
        """Record a custom check (``fields`` are any of Check's: metric, candidate, threshold...)."""
        __tracebackhide__ = True
        check = Check(name, PASSED if passed else FAILED, message=message or name, kind="custom", **fields)
        return self.record(check)[0]
