"""``models:/NAME@ALIAS``, ``models:/NAME/VERSION`` and ``runs:/RUN_ID/PATH`` resolved through MLflow.

The model directory is downloaded once per process into a temporary folder, hashed as a tree
(:func:`~pytest_mlgate.evaluate.hashing.sha256_tree`) and checked against the digest pinned on the
model version (tag ``mlgate.sha256``, set when mlgate first sees the version), so an artifact
changed after registration fails closed. The artifact carries the version's lineage (source run,
source URI, digest) into the decision record.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_mlgate.errors import MlgateError
from pytest_mlgate.evaluate.hashing import sha256_tree
from pytest_mlgate.evaluate.sources import Artifact

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from pytest_mlgate.config import Settings

PREFIXES = ("models:/", "runs:/")
TAG_DIGEST = "mlgate.sha256"
MODELS = re.compile(r"models:/([^/@]+)(?:@([^/@]+)|/([1-9][0-9]*))")
RUNS = re.compile(r"runs:/([0-9a-zA-Z]+)/(.+)")
# The MLflow client retries a refused connection 7 times with growing back-off (minutes); a gate
# run should say "unreachable" within seconds. It also prints run URLs into pytest's terminal
# output. Users who set these themselves keep their values.
CLIENT_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
                   "MLFLOW_HTTP_REQUEST_TIMEOUT": "30", "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true"}
# One resolution per session (keyed by its settings object, kept alive so the id stays unique): the
# decision records the version the gates evaluated even if the alias moves during the run.
_RESOLVED: dict[tuple[int, str], tuple[Settings, Artifact]] = {}
_TEMP: tempfile.TemporaryDirectory[str] | None = None


def tracking_uri(settings: Settings) -> str:
    """``[tool.mlgate] mlflow_tracking_uri``, else ``MLFLOW_TRACKING_URI``; one line when neither is set."""
    uri = getattr(settings, "mlflow_tracking_uri", None) or os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        raise MlgateError("mlflow: no tracking URI: set [tool.mlgate] mlflow_tracking_uri or MLFLOW_TRACKING_URI")
    return uri


def client(uri: str) -> MlflowClient:
    """An MLflow client for ``uri`` (tracking and registry), with short connection retries."""
    for name, value in CLIENT_DEFAULTS.items():
        os.environ.setdefault(name, value)
    try:
        from mlflow import MlflowClient
    except ImportError:
        raise MlgateError("mlflow: the mlflow package is not installed (pip install 'pytest-mlgate[mlflow]')") from None
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def call(uri: str, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args)`` with MLflow's errors turned into one line naming ``what`` and the server."""
    from mlflow.exceptions import MlflowException, RestException

    try:
        return fn(*args, **kwargs)
    except RestException as exc:
        text = str(exc).split(": ", 1)[-1].strip().splitlines()[0]
        raise MlgateError(f"mlflow: {what}: {text} ({uri})") from None
    except MlflowException as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "failed with exception" in text or "Max retries" in text:
            raise MlgateError(f"mlflow: {what}: tracking server unreachable at {uri}") from None
        raise MlgateError(f"mlflow: {what}: {text[:300]}") from None
    except OSError as exc:
        raise MlgateError(f"mlflow: {what}: tracking server unreachable at {uri} ({exc})") from None
    except Exception as exc:  # the client raises what its transport raises; fail closed with one line
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise MlgateError(f"mlflow: {what}: {type(exc).__name__}: {text[:300]}".rstrip(": ")) from None


def parse(spec: str) -> tuple[str, str | None, str | None]:
    """``models:/NAME@ALIAS`` -> (NAME, ALIAS, None); ``models:/NAME/N`` -> (NAME, None, N)."""
    match = MODELS.fullmatch(spec)
    if not match:
        raise MlgateError(f"mlflow reference {spec!r}: expected models:/NAME@ALIAS, models:/NAME/VERSION "
                          "or runs:/RUN_ID/PATH")
    return match.group(1), match.group(2), match.group(3)


def model_version(mlflow: MlflowClient, uri: str, name: str, alias: str | None, version: str | None) -> Any:
    """The model version an alias or number names, refusing deleted or unfinished versions."""
    if alias is not None:
        entry = call(uri, f"model {name!r} alias {alias!r}", mlflow.get_model_version_by_alias, name, alias)
    else:
        entry = call(uri, f"model {name!r} version {version}", mlflow.get_model_version, name, version)
    if str(entry.status) != "READY":
        raise MlgateError(f"mlflow: model {name!r} version {entry.version} is {entry.status}, not READY")
    return entry


def locate(role: str, spec: str, settings: Settings) -> Artifact:
    """Resolve a ``models:/`` or ``runs:/`` spec to a downloaded, verified model directory."""
    key = (id(settings), spec)
    if key not in _RESOLVED:
        uri = tracking_uri(settings)
        found = _locate_run(role, spec, uri) if spec.startswith("runs:/") else _locate_version(role, spec, uri)
        _RESOLVED[key] = (settings, found)
    found = _RESOLVED[key][1]
    pinned = settings.sha256.get(role)
    if pinned and pinned.lower() != found.sha256:
        raise MlgateError(f"{role}: sha256 mismatch for {spec}: expected {pinned.lower()}, got {found.sha256}")
    return Artifact(role, found.spec, found.path, found.sha256, found.version, found.lineage)


def _locate_version(role: str, spec: str, uri: str) -> Artifact:
    name, alias, number = parse(spec)
    mlflow = client(uri)
    entry = model_version(mlflow, uri, name, alias, number)
    # the version's storage location, not models:/ (MLflow resolves that against its global registry URI)
    where = call(uri, f"model {name!r} version {entry.version}", mlflow.get_model_version_download_uri,
                 name, entry.version)
    path = _download(uri, where, role)
    digest = sha256_tree(path)
    pinned = (entry.tags or {}).get(TAG_DIGEST)
    if pinned and pinned != digest:
        raise MlgateError(f"mlflow: {role}: model {name!r} version {entry.version}: artifact digest changed since "
                          f"registration: sha256 is {digest}, registered {pinned}")
    if not pinned:  # first sight of this version: pin what it holds now
        call(uri, f"model {name!r} version {entry.version}", mlflow.set_model_version_tag,
             name, entry.version, TAG_DIGEST, digest)
    lineage = {"registry": "mlflow", "tracking_uri": uri, "name": name, "version": str(entry.version),
               "alias": alias, "run_id": entry.run_id or None, "source": entry.source,
               "registered_sha256": pinned or digest}
    return Artifact(role, spec, path, digest, str(entry.version), lineage)


def _locate_run(role: str, spec: str, uri: str) -> Artifact:
    match = RUNS.fullmatch(spec)
    if not match:
        raise MlgateError(f"mlflow reference {spec!r}: expected runs:/RUN_ID/PATH")
    run_id, artifact_path = match.groups()
    run = call(uri, f"run {run_id}", client(uri).get_run, run_id)
    path = _download(uri, spec, role)
    lineage = {"registry": "mlflow", "tracking_uri": uri, "run_id": run.info.run_id,
               "artifact_path": artifact_path, "source": spec}
    return Artifact(role, spec, path, sha256_tree(path), None, lineage)


def _download(uri: str, artifact_uri: str, role: str) -> Path:
    """Download into a fresh folder of the process's temporary directory (removed at exit)."""
    import mlflow
    import mlflow.artifacts

    global _TEMP
    if _TEMP is None:
        _TEMP = tempfile.TemporaryDirectory(prefix="mlgate-mlflow-")
    folder = tempfile.mkdtemp(prefix=f"{role}-", dir=_TEMP.name)
    # Parts of MLflow's URI resolution read the process-wide URIs instead of the ones passed in.
    before = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        local = call(uri, f"download {artifact_uri}", mlflow.artifacts.download_artifacts,
                     artifact_uri=artifact_uri, dst_path=folder, tracking_uri=uri, registry_uri=uri)
    finally:
        mlflow.set_tracking_uri(before[0])
        mlflow.set_registry_uri(before[1])
    path = Path(local)
    if not (path / "MLmodel").is_file():
        raise MlgateError(f"mlflow: {role}: {artifact_uri} is not an MLflow model (no MLmodel file)")
    return path
