"""A dataset too large for memory: evaluated from mergeable statistics folded over its chunks.

A :class:`StreamedDataset` never holds its rows. Checks ask it for statistics (``statistics``);
the first request for model statistics runs one pass that predicts every configured model on every
chunk and folds them for the whole dataset and for each sensitive column, so later gates read them
without another pass; a slice or grouping not in that pass costs one more pass. Column profiles
(nulls, sketches, category counts) come from one pass that reads without predicting. Gates
that need rows (``frame``, ``y``) get a seeded uniform sample of ``sample_rows`` rows, and their
checks say so; so do custom metrics (no mergeable statistic), evaluated and bootstrapped on it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from pytest_mlgate.errors import MlgateError
from pytest_mlgate.evaluate.fold import ALL, Grouping, Plan, Statistics, group_mask
from pytest_mlgate.evaluate.models import Dataset
from pytest_mlgate.evaluate.parts import Parts

if TYPE_CHECKING:
    import pandas as pd

    from pytest_mlgate.evaluate.cache import Cache
    from pytest_mlgate.evaluate.sources import Artifact

Slot = tuple[Grouping, Any]  # a slice: its grouping and its key
Engine = Callable[["StreamedDataset", Plan, dict[str, Any]], Statistics]


class StreamedDataset(Dataset):
    """A partitioned dataset evaluated chunk by chunk by an engine (in process or Dask)."""

    streamed = True

    def __init__(self, name: str, parts: Parts, target: str | None, artifact: Artifact | None, *,
                 engine: Engine, engine_name: str, chunk_rows: int, models: Callable[[], dict[str, Any]],
                 groupings: tuple[Grouping, ...] = (), sample_rows: int = 100_000, seed: int = 0,
                 cache: Cache | None = None):
        self.name, self.parts, self.target, self.artifact = name, parts, target, artifact
        self.engine, self.engine_name, self.chunk_rows = engine, engine_name, chunk_rows
        self.sample_rows, self.seed, self.cache = sample_rows, seed, cache
        self._models, self._groupings = models, groupings
        self.dtype_mismatches = parts.mismatches
        self._stats: dict[Plan, Statistics] = {}
        self._sample: pd.DataFrame | None = None
        self._rows: Dataset | None = None
        self._y = None
        self.passes = 0
        self.sample_reads = 0

    def __len__(self) -> int:
        return self.parts.rows

    def __repr__(self) -> str:
        return (f"<StreamedDataset {self.name}: {len(self.parts.files)} Parquet file(s), {self.parts.rows} rows, "
                f"engine {self.engine_name}>")

    @property
    def frame(self) -> pd.DataFrame:
        """A seeded uniform sample of ``sample_rows`` rows, for gates that need rows at once."""
        if self._sample is None:
            self._sample = self.parts.sample(self.sample_rows, self.seed)
        self.sample_reads += 1  # the recorder notes the sample on the checks made since the last read
        return self._sample

    def sample_dataset(self) -> Dataset:
        """The seeded sample as an in-memory dataset of the same name, for checks that read rows at
        once: its length is the sample's, and nothing computed on it is cached under this dataset's bytes."""
        frame = self.frame
        if self._rows is None:
            self._rows = Dataset(self.name, frame, self.target)
        return self._rows

    @property
    def sampled(self) -> int | None:
        """How many rows gates that needed rows saw (``None``: no gate asked for rows)."""
        return None if self._sample is None else len(self._sample)

    def sample_note(self) -> str:
        """How a check on the sample says so."""
        return f"on a uniform sample of {self.sampled} of {len(self)} rows (streamed dataset '{self.name}')"

    def on_sample(self, spec: Any) -> bool:
        """Whether metric ``spec`` is evaluated on the sample (a custom metric: no folded statistic)."""
        from pytest_mlgate.evaluate import readouts

        return not readouts.folded(spec)

    def _sampled(self, spec: Any, where: Slot | None) -> tuple[Dataset, Any]:
        """The sample as an in-memory dataset, and the mask of the slice ``where`` on it."""
        data = self.sample_dataset()
        if where is None:
            return data, None
        mask = group_mask(data, *where)
        if not mask.any():
            raise MlgateError(f"{spec.name} on dataset '{self.name}': no rows of the slice in its uniform sample of "
                              f"{self.sampled} of {len(self)} rows (raise sample_rows)")
        return data, mask

    def column(self, name: str) -> pd.Series:
        """A column of the sample; a missing column is an error without reading any rows."""
        self.column_known(name)
        return super().column(name)

    def column_known(self, name: str) -> None:
        """A one-line error naming the dataset and the column when the files have no such column
        (without reading any rows)."""
        if name not in self.parts.columns:
            raise MlgateError(f"dataset '{self.name}': column '{name}' not found "
                              f"(columns: {', '.join(map(str, self.parts.columns[:20]))})")

    def statistics(self, roles: tuple[str, ...] = (), grouping: Grouping = Grouping(),
                   models: dict[str, Any] | None = None, bootstrap: tuple[int, int] = (0, 0),
                   losses: tuple[str, ...] = ()) -> Statistics:
        """Statistics covering ``roles`` on ``grouping``, from the standard pass when it has them;
        ``bootstrap`` (replicates, seed) adds Poisson bootstrap counters, in a pass of their own
        (of the per-row ``losses`` when given, else of the scores or squared errors)."""
        configured = self._models()
        models = {**configured, **(models or {})}
        if bootstrap[0]:
            return self._run(Plan(roles=tuple(roles), groupings=(grouping,), columns=False, bootstrap=bootstrap,
                                  losses=tuple(losses)), models)
        standard = self._standard(configured)
        custom = any(models[r] is not configured.get(r) for r in roles)
        if not custom and set(roles) <= set(standard.roles) and grouping in standard.groupings:
            return self._run(standard, configured)
        plan = Plan(roles=tuple(roles) if custom else standard.roles, groupings=(grouping,), columns=False)
        return self._run(plan, models)

    def metric(self, model: Any, spec: Any, where: Slot | None = None) -> float:
        """``spec`` of ``model`` on every row, or on the slice ``where`` (a grouping and a key)."""
        from pytest_mlgate.evaluate import readouts

        if self.on_sample(spec):
            data, mask = self._sampled(spec, where)
            return model.metric(spec, data, mask=mask, observe=False)
        grouping, key = where or (Grouping(), ALL)
        stats = self.statistics((model.role,), grouping, {model.role: model})
        return readouts.metric_value(spec, readouts.group_of(stats, grouping, key), stats, model, self)

    def interval(self, spec: Any, models: list[Any], where: Slot | None, *, confidence: float, n_boot: int,
                 seed: int) -> tuple[float, float, str]:
        """CI of one model's metric or of two models' paired difference on a slice (a custom
        metric's: the row bootstrap on the sample)."""
        from pytest_mlgate.evaluate import readouts, stats

        if self.on_sample(spec):
            data, mask = self._sampled(spec, where)
            sel = slice(None) if mask is None else mask
            return stats.interval(spec, data.y[sel], [m.output(data, spec.needs)[sel] for m in models],
                                  pos_label=models[0].pos_label, classes=models[0].classes, confidence=confidence,
                                  n_boot=n_boot, seed=seed, rows=None if mask is None else np.flatnonzero(mask))
        grouping, key = where or (Grouping(), ALL)
        multiclass = spec.name == "roc_auc" and all(m.classes is not None and len(m.classes) > 2 for m in models)
        bootstrap = (n_boot, seed) if spec.pairing == "poisson" or multiclass else (0, 0)
        found = self.statistics(tuple(m.role for m in models), grouping, {m.role: m for m in models}, bootstrap)
        return readouts.interval(spec, readouts.group_of(found, grouping, key), found, models, self,
                                 confidence=confidence, n_boot=n_boot, seed=seed)

    def error_bound(self, model: Any, spec: Any, where: Slot | None = None) -> float | None:
        """Largest possible error of a binned metric (ROC AUC) on a slice; ``None`` when exact."""
        from pytest_mlgate.evaluate import readouts

        if spec.name != "roc_auc" or self.on_sample(spec):
            return None
        grouping, key = where or (Grouping(), ALL)
        stats = self.statistics((model.role,), grouping, {model.role: model})
        return readouts.auc_bound(readouts.group_of(stats, grouping, key), model.role)

    def groups(self, columns: tuple[str, ...], where: str | None = None, roles: tuple[str, ...] = (),
               models: dict[str, Any] | None = None, bootstrap: tuple[int, int] = (0, 0),
               losses: tuple[str, ...] = ()) -> tuple[Grouping, Statistics]:
        """The statistics grouped by ``columns`` (rows with a null key left out and counted), with
        Poisson bootstrap counters per group when ``bootstrap`` is set (see :meth:`statistics`)."""
        for column in columns:
            if column not in self.parts.columns:
                self.column(column)
        grouping = Grouping(tuple(columns), where)
        return grouping, self.statistics(roles, grouping, models, bootstrap, losses)

    def profile(self) -> Statistics:
        """The column profiles (nulls, sketches, category counts) of the whole dataset."""
        return self._run(Plan(columns=True), {})

    def output_profile(self, model: Any) -> Statistics:
        """A profile of ``model``'s output column over every row (for prediction drift)."""
        return self._run(Plan(roles=(model.role,), groupings=(), columns=False, outputs=True), {model.role: model})

    def _standard(self, models: dict[str, Any]) -> Plan:
        return Plan(roles=tuple(models), groupings=(Grouping(), *self._groupings), columns=False)

    def _run(self, plan: Plan, models: dict[str, Any]) -> Statistics:
        if plan not in self._stats:
            disk = self._disk_key(plan, models)
            stored = self.cache.get_object(disk) if disk else None
            if isinstance(stored, Statistics):
                self._stats[plan] = stored
            else:
                self._stats[plan] = self.engine(self, plan, models)
                self.passes += 1
                if disk:
                    self.cache.put_object(disk, self._stats[plan])
        return self._stats[plan]

    def _disk_key(self, plan: Plan, models: dict[str, Any]) -> str | None:
        """The warm cache's key of ``plan``'s statistics (None: a model or the data has no sha256)."""
        shas = [getattr(models[r], "sha256", None) for r in plan.roles]
        if self.cache is None or self.artifact is None or None in shas:
            return None
        return self.cache.key("statistics", repr(plan), *shas, self.artifact.sha256, len(self), self.parts.typer.key(),
                              str(self.target))

    def fingerprint(self) -> dict[str, Any]:
        import hashlib

        schema = ",".join(f"{f.name}:{f.type}" for f in self.parts.arrow.schema)
        return {
            "name": self.name,
            "path": str(self.artifact.path) if self.artifact else None,
            "sha256": self.artifact.sha256 if self.artifact else None,
            "rows": len(self),
            "columns": len(self.parts.columns),
            "schema_sha256": hashlib.sha256(schema.encode()).hexdigest(),
            "files": len(self.parts.files),
            "engine": self.engine_name,
            "chunk_rows": self.chunk_rows,
            "sampled_rows": self.sampled,
            **({"dtype_mismatches": [m.to_dict() for m in self.dtype_mismatches]} if self.dtype_mismatches else {}),
        }
