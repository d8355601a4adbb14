"""The session's models and datasets, loaded lazily once and shared by every gate."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from pytest_mlgate.config import Settings
from pytest_mlgate.errors import MlgateError
from pytest_mlgate.evaluate import dtypes, loaders, parts, remote, sources
from pytest_mlgate.evaluate.cache import open_cache
from pytest_mlgate.evaluate.models import Dataset, ModelUnderTest, facts_of

Loader = Callable[[Path, Settings], Any]


class Workspace:
    """Loads configured artifacts on first use; a failed load is remembered and raised again."""

    MODEL_ROLES = ("candidate", "baseline")

    def __init__(self, settings: Settings, load_model: Loader | None = None,
                 load_dataset: Loader | None = None, lazy_models: bool | None = None):
        self.settings = settings
        # built-in loaders only: a warm run may then leave a known .skops model unloaded (see _load)
        self.lazy_models = load_model is None if lazy_models is None else lazy_models
        self._load_model = load_model or (lambda path, s: loaders.load_model(path, s.skops_trusted))
        self._load_dataset = load_dataset or (lambda path, s: None)  # a hook; None: the built-in loaders
        self._models: dict[str, ModelUnderTest | None | MlgateError] = {}
        self._datasets: dict[str, Dataset | MlgateError] = {}
        self._types: dict[str, dict[str, dtypes.Column] | MlgateError] = {}
        self.cache = open_cache(settings)

    def model_spec(self, role: str) -> str | None:
        if role == "candidate" and self.settings.stage == "monitor" and self.settings.baseline:
            role = "baseline"  # the monitor stage watches the model in production
        return getattr(self.settings, role, None)

    def model(self, role: str) -> ModelUnderTest | None:
        """The model in ``role``; ``None`` when that role is not configured (e.g. no baseline)."""
        if role not in self._models:
            self._models[role] = self._remember(self._open_model, role)
        return self._raise_or_return(self._models[role])

    def model_at(self, spec: str, role: str) -> ModelUnderTest:
        """A model from any spec (e.g. ``registry:NAME@v3``) in ``role``, loaded once per session."""
        key = f"{role}={spec}"
        if key not in self._models:
            self._models[key] = self._remember(lambda _: self._load(role, spec), key)
        return self._raise_or_return(self._models[key])

    def dataset(self, name: str) -> Dataset:
        """The named dataset from ``[tool.mlgate.datasets]``."""
        if name not in self._datasets:
            self._datasets[name] = self._remember(self._open_dataset, name)
        return self._raise_or_return(self._datasets[name])

    def column_types(self, name: str) -> dict[str, dtypes.Column] | None:
        """The column types dataset ``name`` is read with: its configured schema's (``schemas``), else the
        reference's (``dtypes_from``); ``None`` for the reference itself, or when none is configured."""
        settings = self.settings
        if name in settings.schemas:
            key = f"schema={name}"
            if key not in self._types:
                self._types[key] = self._remember(
                    lambda _: dtypes.read_schema(settings.path(settings.schemas[name])), key)
        else:
            key = settings.dtypes_from
            if key in ("none", name) or key not in settings.datasets:
                return None
            if key not in self._types:
                self._types[key] = self._remember(self._reference_types, key)
        found = self._types[key]
        if isinstance(found, MlgateError):
            raise MlgateError(f"dataset '{name}': the column types to read it with are unknown: {found}")
        return found

    def _reference_types(self, reference: str) -> dict[str, dtypes.Column]:
        """A Parquet reference's types from its files' metadata (no rows read but categorical
        columns); any other reference's from its loaded frame."""
        spec = self.settings.datasets[reference]
        if sources.source_for(spec) is None and (parts.is_parts(spec, self.settings) or spec.lower().endswith(
                parts.PARQUET)):
            return dtypes.of_parquet(parts.open_arrow(reference, parts.part_files(reference, spec, self.settings)))
        return dtypes.of_frame(self.dataset(reference).frame)

    def artifacts(self) -> dict[str, Any]:
        """Hashes of every configured artifact, for the decision record; errors are listed, not raised."""
        found: dict[str, Any] = {}
        entries = [(r, self.model_spec(r)) for r in self.MODEL_ROLES]
        entries += list(self.settings.datasets.items())
        for name, spec in entries:
            if spec is None or name in found:
                continue
            try:
                found[name] = sources.locate(name, spec, self.settings).to_dict()
            except MlgateError as exc:
                found[name] = {"name": name, "spec": spec, "error": str(exc)}
        return found

    def configured_models(self) -> dict[str, ModelUnderTest]:
        """Every configured model by role (what a streamed dataset's first pass predicts)."""
        found = {role: self.model(role) for role in self.MODEL_ROLES}
        return {role: model for role, model in found.items() if model is not None}

    def streamed(self) -> list[Dataset]:
        """The loaded datasets that are evaluated chunk by chunk."""
        return [d for d in self._datasets.values() if getattr(d, "streamed", False)]

    def columns_named(self, column: str) -> list[Any]:
        """``column`` of every configured dataset that loads and has it (a dataset that does not load
        fails the gates that use it)."""
        found = []
        for name in self.settings.datasets:
            try:
                frame = self.dataset(name).frame
            except MlgateError:
                continue
            if column in frame.columns:
                found.append(frame[column])
        return found

    def fingerprints(self) -> dict[str, Any]:
        """Fingerprints of the datasets this process loaded."""
        return {n: d.fingerprint() for n, d in self._datasets.items() if isinstance(d, Dataset)}

    @staticmethod
    def _remember(open_: Callable[[str], Any], name: str) -> Any:
        try:
            return open_(name)
        except MlgateError as exc:
            return exc

    @staticmethod
    def _raise_or_return(value: Any) -> Any:
        if isinstance(value, MlgateError):
            raise MlgateError(str(value))
        return value

    def _open_model(self, role: str) -> ModelUnderTest | None:
        spec = self.model_spec(role)
        if spec is None:
            if role == "candidate":
                raise MlgateError("candidate: no model configured ([tool.mlgate] candidate or --mlgate-candidate)")
            return None
        return self._load(role, spec)

    def _load(self, role: str, spec: str) -> ModelUnderTest:
        artifact = sources.locate(role, spec, self.settings)
        source = sources.source_for(spec)
        key = self._facts_key(artifact) if source is None else None
        facts = self.cache.get_object(key) if key else None
        if isinstance(facts, dict):  # loaded before, from these bytes with these libraries: on first use
            return self._under_test(role, None, artifact, loader=lambda: self._loaded(role, artifact, source),
                                    facts=facts)
        model = self._loaded(role, artifact, source)
        if key:
            self.cache.put_object(key, facts_of(model))
        return self._under_test(role, model, artifact)

    def _under_test(self, role: str, model: Any, artifact: sources.Artifact, **lazy: Any) -> ModelUnderTest:
        return ModelUnderTest(role, model, artifact, positive_label=self.settings.positive_label,
                              threshold=self.settings.decision_threshold, timeout=self.settings.predict_timeout,
                              cache=self.cache, **lazy)

    def _loaded(self, role: str, artifact: sources.Artifact, source: Any) -> Any:
        try:
            if source is not None and source.load_model is not None:
                model = source.load_model(artifact, self)
            else:
                model = self._load_model(artifact.path, self.settings)
        except MlgateError:
            raise
        except Exception as exc:  # a corrupt file raises anything; fail closed with one line
            raise loaders.describe_error(f"model '{role}'", artifact.path, exc) from None
        if model is None:
            raise MlgateError(f"model '{role}': no loader for {artifact.path.name} (built in: "
                              f"{', '.join(loaders.model_suffixes())}; add a pytest_mlgate_load_model hook)")
        if not hasattr(model, "predict"):
            raise MlgateError(f"model '{role}': {artifact.path} holds a {type(model).__name__}, not a model with predict()")
        return model

    def _facts_key(self, artifact: sources.Artifact) -> str | None:
        """The warm cache's key of a ``.skops`` model's facts: its sha256, the trusted types and the
        versions of the libraries that load it. ``None`` (load at once) for other formats, for a
        project with its own model loader hook, and without a cache."""
        if not self.lazy_models or self.cache is None or artifact.path.suffix.lower() != ".skops":
            return None
        from importlib.metadata import PackageNotFoundError, version

        versions = []
        for package in ("skops", "scikit-learn", "numpy", "scipy"):
            try:
                versions.append(f"{package}=={version(package)}")
            except PackageNotFoundError:
                versions.append(f"{package} absent")
        return self.cache.key("model", artifact.sha256, sorted(self.settings.skops_trusted), *versions)

    def _open_dataset(self, name: str) -> Dataset:
        spec = self.settings.datasets.get(name)
        if spec is None:
            known = ", ".join(self.settings.datasets) or "none"
            raise MlgateError(f"dataset '{name}' is not configured ([tool.mlgate.datasets]; configured: {known})")
        artifact = sources.locate(name, spec, self.settings)
        source = sources.source_for(spec)
        expected = self.column_types(name)
        if source is None and _parquet(spec, artifact):
            from pytest_mlgate.engines.select import open_dataset

            opened = open_dataset(name, spec, artifact, self.settings, self.configured_models, self.cache, expected)
            if opened is not None:
                return opened
        by_hook = False
        try:
            if source is not None and source.load is not None:
                frame = source.load(spec, self.settings)
            else:
                frame = self._load_dataset(artifact.path, self.settings)
                by_hook = frame is not None  # a loading hook's frame is used as it comes
                if frame is None:
                    frame = loaders.load_dataset(artifact.path, dtypes.text_columns(expected))
        except MlgateError:
            raise
        except Exception as exc:
            raise loaders.describe_error(f"dataset '{name}'", artifact.path, exc) from None
        if frame is None:
            raise MlgateError(f"dataset '{name}': no loader for {artifact.path.name} (built in: "
                              f"{', '.join(loaders.DATASET_SUFFIXES)}; add a pytest_mlgate_load_dataset hook)")
        if len(frame) == 0:
            raise MlgateError(f"dataset '{name}' has no rows ({artifact.path})")
        frame, mismatches = _typed(name, frame, artifact.path, expected, by_hook)
        return Dataset(name, frame, self.settings.target, artifact, dtype_mismatches=mismatches,
                       cache=None if source or by_hook else self.cache)  # a hook's frame is not the bytes' function


def _typed(name: str, frame: Any, path: Path, expected: dict[str, dtypes.Column] | None,
           by_hook: bool) -> tuple[Any, list[dtypes.Mismatch]]:
    """``frame`` cast to the ``expected`` column types (a Parquet file without them: to the types it was
    written from), and the columns whose type differs; a hook's frame is only compared."""
    parquet = not by_hook and path.suffix.lower() in parts.PARQUET
    if parquet:
        import pyarrow.parquet as pq

        found = dtypes.stored(pq.read_schema(path))
    else:
        found = dict(frame.dtypes)
    if expected is None and not parquet:
        return frame, []
    targets, mismatches = dtypes.resolve(found, expected or {c: dtypes.Column(t) for c, t in found.items()},
                                         lambda column: bool(frame[column].isna().any()))
    if by_hook:
        return frame, [replace(m, read_as=f"{m.found}, unchanged (a pytest_mlgate_load_dataset hook loaded it)")
                       for m in mismatches]
    typer = dtypes.Typer(targets, name, {c: str(t.dtype) for c, t in (expected or {}).items()})
    try:
        return typer(frame), mismatches if expected else []
    except dtypes.Lossy as exc:
        raise typer.failure(exc, path) from None


def _parquet(spec: str, artifact: sources.Artifact) -> bool:
    """Whether the dataset is Parquet: a file, or a directory or glob of parts."""
    if remote.is_url(spec):
        return True
    return artifact.path.is_dir() or any(ch in spec for ch in "*?[") or artifact.path.suffix.lower() in (
        ".parquet", ".pq")
