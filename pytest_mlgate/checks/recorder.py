"""The per-gate recorder behind the ``mlgate`` fixture: it records checks and fails the gate."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_mlgate.decision import FAILED, PASSED, Check
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
        self._sample_reads = {d.name: d.sample_reads for d in workspace.streamed()}

    @property
    def settings(self) -> Settings:
        return self.workspace.settings

    def dataset(self, data: str | Dataset) -> Dataset:
        """A configured dataset by name (a Dataset passes through)."""
        return data if isinstance(data, Dataset) else self.workspace.dataset(data)

    def model(self, model: str | ModelUnderTest) -> ModelUnderTest | None:
        """A model by role (``candidate``, ``baseline``); ``None`` when the role is not configured."""
        return model if isinstance(model, ModelUnderTest) else self.workspace.model(model)

    def record(self, *checks: Check) -> list[Check]:
        """Keep the checks and fail the gate with every failing check's message."""
        __tracebackhide__ = True
        if not checks:  # a check with nothing to judge (no rows, slices or columns) must not pass
            raise AssertionError(f"{self.gate}: the check recorded nothing to judge")
        self._note_samples(checks)
        self.checks.extend(checks)
        failed = [c.message or c.name for c in checks if c.failed]
        if failed:
            raise AssertionError("; ".join(failed))
        return list(checks)

    def _note_samples(self, checks: tuple[Check, ...]) -> None:
        """Say so on every check judged on a sample of a streamed dataset's rows."""
        for data in self.workspace.streamed():
            reads, before = data.sample_reads, self._sample_reads.get(data.name, 0)
            self._sample_reads[data.name] = reads
            if reads == before:
                continue
            note = f"on a uniform sample of {data.sampled} of {len(data)} rows (streamed dataset '{data.name}')"
            for check in checks:
                if check.dataset in (data.name, None):
                    check.details["sampled_rows"] = data.sampled
                    check.message = f"{check.message} [{note}]" if check.message else note

    def check(self, name: str, passed: bool, message: str = "", **fields: Any) -> Check:
        """Record a custom check (``fields`` are any of Check's: metric, candidate, threshold...)."""
        __tracebackhide__ = True
        check = Check(name, PASSED if passed else FAILED, message=message or name, kind="custom", **fields)
        return self.record(check)[0]
