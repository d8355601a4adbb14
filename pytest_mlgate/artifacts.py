"""Load models and datasets, fingerprint them, and enforce configured sha256 pins."""

from __future__ import annotations

import hashlib
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_mlgate.errors import MlgateError

if TYPE_CHECKING:
    import pandas as pd

    from pytest_mlgate.config import Settings

MODEL_SUFFIXES = (".skops", ".joblib", ".pkl", ".pickle")
DATASET_SUFFIXES = (".csv", ".parquet", ".pq")
_HASHES: dict[tuple[str, int, int], str] = {}


@dataclass(frozen=True)
class Artifact:
    """A file the gate depends on: its role, how it was configured, where it is and its hash."""

    name: str
    spec: str
    path: Path
    sha256: str
    version: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "spec": self.spec, "path": str(self.path),
                "sha256": self.sha256, "version": self.version}


def sha256_file(path: Path) -> str:
    """The file's sha256, cached by path, size and modification time."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _HASHES:
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        _HASHES[key] = digest.hexdigest()
    return _HASHES[key]


def locate(name: str, spec: str, settings: Settings) -> Artifact:
    """Resolve a configured artifact to a file, hash it and check its pin."""
    version = None
    if spec.startswith("predlog:"):
        from pytest_mlgate.predlog import locate as locate_log

        return locate_log(name, spec, settings)
    if spec.startswith("registry:"):
        from pytest_mlgate.registry import resolve_reference

        path, version = resolve_reference(spec, settings)
    else:
        path = settings.path(spec)
    if not path.is_file():
        raise MlgateError(f"{name}: file not found: {path}")
    digest = sha256_file(path)
    pinned = settings.sha256.get(name)
    if pinned and pinned.lower() != digest:
        raise MlgateError(f"{name}: sha256 mismatch for {path}: expected {pinned.lower()}, got {digest}")
    return Artifact(name, spec, path, digest, version)


def load_model(path: Path, trusted: tuple[str, ...] = ()) -> Any:
    """Load a model from .skops (safe), .joblib or .pickle; ``None`` for other formats."""
    suffix = path.suffix.lower()
    if suffix == ".skops":
        import skops.io as sio

        untrusted = [t for t in sio.get_untrusted_types(file=path) if t not in trusted]
        if untrusted:
            raise MlgateError(f"model {path}: untrusted types {untrusted}; "
                              "list them in [tool.mlgate] skops_trusted if you trust this file")
        return sio.load(path, trusted=list(trusted) or None)
    if suffix == ".joblib":
        import joblib

        return joblib.load(path)
    if suffix in (".pkl", ".pickle"):
        with path.open("rb") as fh:
            return pickle.load(fh)
    return None


def load_dataset(path: Path) -> pd.DataFrame | None:
    """Load a CSV or Parquet file as a DataFrame; ``None`` for other formats."""
    import pandas as pd

    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path)
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    return None


def describe_error(what: str, path: Path, exc: BaseException) -> MlgateError:
    """A one-line error for an artifact that failed to load."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return MlgateError(f"{what}: cannot load {path}: {type(exc).__name__}: {text}".rstrip(": "))
