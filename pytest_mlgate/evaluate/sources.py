"""Resolve a configured artifact spec to an :class:`Artifact`: a plain path, or a registered source.

Sources with a prefix (``registry:``, ``predlog:`` and any a plugin adds) register themselves with
:func:`register_source`; this module imports none of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_mlgate.errors import MlgateError
from pytest_mlgate.evaluate.hashing import sha256_file, sha256_tree

if TYPE_CHECKING:
    import pandas as pd

    from pytest_mlgate.config import Settings


@dataclass(frozen=True)
class Artifact:
    """A file the gate depends on: its role, how it was configured, where it is and its hash."""

    name: str
    spec: str
    path: Path
    sha256: str
    version: str | None = None
    lineage: dict[str, Any] | None = None  # where a registry says it came from (run, source, digest)

    def to_dict(self) -> dict[str, Any]:
        data = {"name": self.name, "spec": self.spec, "path": str(self.path),
                "sha256": self.sha256, "version": self.version}
        if self.lineage is not None:
            data["lineage"] = self.lineage
        return data


@dataclass(frozen=True)
class Source:
    """How specs with one prefix resolve: ``locate`` finds the artifact; ``load`` reads a dataset
    that is not a plain file (``None``: the artifact's file is loaded like any dataset file);
    ``load_model`` makes the model itself from the artifact and the workspace (``None``: the
    artifact's file goes through the model loaders)."""

    locate: Callable[[str, str, Settings], Artifact]
    load: Callable[[str, Settings], pd.DataFrame] | None = None
    load_model: Callable[[Artifact, Any], Any] | None = None


_SOURCES: dict[str, Source] = {}


def register_source(prefix: str, source: Source) -> None:
    """Resolve specs starting with ``prefix`` (e.g. ``"registry:"``) through ``source``."""
    _SOURCES[prefix] = source


def source_for(spec: str) -> Source | None:
    """The registered source whose prefix starts ``spec``; ``None`` for a plain path."""
    return next((s for prefix, s in _SOURCES.items() if spec.startswith(prefix)), None)


def locate(name: str, spec: str, settings: Settings) -> Artifact:
    """Resolve a configured artifact to a file, hash it and check its pin."""
    source = source_for(spec)
    if source is not None:
        return source.locate(name, spec, settings)
    from pytest_mlgate.evaluate import parts

    if parts.is_parts(spec, settings):  # a directory or glob of Parquet files, hashed together
        return pinned(name, spec, *parts.parts_digest(name, spec, settings), settings)
    return file_artifact(name, spec, settings.path(spec), settings)


def file_artifact(name: str, spec: str, path: Path, settings: Settings, version: str | None = None) -> Artifact:
    """The artifact for a file (or MLflow model directory) that must exist, hashed and checked against its pin."""
    if path.is_dir() and (path / "MLmodel").is_file():
        digest = sha256_tree(path)
    elif not path.is_file():
        raise MlgateError(f"{name}: file not found: {path}")
    else:
        digest = sha256_file(path)
    return pinned(name, spec, path, digest, settings, version)


def pinned(name: str, spec: str, path: Path, digest: str, settings: Settings, version: str | None = None) -> Artifact:
    """The artifact, after checking ``digest`` against its configured sha256 pin."""
    pin = settings.sha256.get(name)
    if pin and pin.lower() != digest:
        raise MlgateError(f"{name}: sha256 mismatch for {path}: expected {pin.lower()}, got {digest}")
    return Artifact(name, spec, path, digest, version)
