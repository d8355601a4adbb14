"""The per-gate recorder behind the ``mlgate`` fixture: it records checks and fails the gate."""

from __future__ import annotations

import re
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
        self._sample_reads = {d.name: d.sample_reads for d in workspace.streamed()}

    @property
    def settings(self) -> Settings:
        return self.workspace.settings

    def dataset(self, data: str | Dataset) -> Dataset:
        """A configured dataset by name (a Dataset passes through)."""
        return data if isinstance(data, Dataset) else self.workspace.dataset(data)

    def rows(self, data: str | Dataset) -> Dataset:
        """A dataset whose rows a check reads at once: a streamed dataset's seeded sample (the
        check then says so), any other dataset itself."""
        found = self.dataset(data)
        return found.sample_dataset() if getattr(found, "streamed", False) else found

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
        """Keep the checks under unique names saying what was checked on what (``schema[holdout]``).

        A failing check does not stop the test: every check of a gate runs, and the gate fails when
        the test ends, listing every failing check (:meth:`raise_failures`)."""
        __tracebackhide__ = True
        if not checks:  # a check with nothing to judge (no rows, slices or columns) must not pass
            raise AssertionError(f"{self.gate}: the check recorded nothing to judge")
        self._note_samples(checks)
        for check in checks:
            check.name = self._unique(row_name(check))
            self.checks.append(check)
        return list(checks)

    def _note_samples(self, checks: tuple[Check, ...]) -> None:
        """Say so on every check judged on a sample of a streamed dataset's rows."""
        for data in self.workspace.streamed():
            reads, before = data.sample_reads, self._sample_reads.get(data.name, 0)
            self._sample_reads[data.name] = reads
            if reads == before:
                continue
            note = data.sample_note()
            for check in checks:
                if check.dataset in (data.name, None) or check.details.get("reference") == data.name:
                    check.details.setdefault("sampled_rows", data.sampled)
                    if note not in (check.message or ""):  # a check may state its sample itself
                        check.message = f"{check.message} [{note}]" if check.message else note

    def _unique(self, name: str) -> str:
        taken = {c.name for c in self.checks}
        found, n = name, 1
        while found in taken:
            n += 1
            found = f"{name} #{n}"
        return found

    def failures(self) -> list[Check]:
        """The failing checks recorded so far."""
        return [c for c in self.checks if c.failed]

    def failure_message(self) -> str | None:
        """Every failing check with its message, or None when none failed."""
        failed = self.failures()
        if len(failed) == 1:
            return failed[0].message or failed[0].name
        if failed:
            return f"{len(failed)} of {len(self.checks)} checks failed: " + \
                "; ".join(f"[{c.name}] {c.message or 'failed'}" for c in failed)
        return None

    def raise_failures(self) -> None:
        """Raise AssertionError listing every failing check (for use outside pytest)."""
        __tracebackhide__ = True
        message = self.failure_message()
        if message is not None:
            raise AssertionError(message)

    def check(self, name: str, passed: bool, message: str = "", **fields: Any) -> Check:
        """Record a custom check (``fields`` are any of Check's: metric, candidate, threshold...)."""
        __tracebackhide__ = True
        check = Check(name, PASSED if passed else FAILED, message=message or name, kind="custom", **fields)
        return self.record(check)[0]


def row_name(check: Check) -> str:
    """A check's name with the dataset it ran on: ``schema`` -> ``schema[holdout]``,
    ``roc_auc[sex=F]`` -> ``roc_auc[holdout, sex=F]``; names that already say it are kept. A
    dataset name with brackets goes in flat (``current[labelled]`` -> ``current labelled``)."""
    name, data = check.name, check.dataset
    inside = name[name.index("[") + 1:-1] if "[" in name and name.endswith("]") else ""
    if not data or data in re.split(r",\s*|\s*->\s*", inside):
        return name
    data = data.replace("[", " ").replace("]", "")
    head, bracket, rest = name.partition("[")
    return f"{head}[{data}, {rest}" if bracket and name.endswith("]") else f"{name}[{data}]"
