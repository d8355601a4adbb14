"""Embedded file-based model registry: immutable versions, aliases with history, promotion, rollback.

Layout under the registry directory (``[tool.mlgate] registry``, default ``.mlgate/registry``)::

    NAME/index.json            versions (sha256, metadata), aliases and their history
    NAME/versions/vN/<file>    the artifact, copied at registration and never changed

Every change takes ``NAME/.lock`` and replaces ``index.json`` atomically, so a process killed at
any point leaves the model as it was before or after the change, never in between. Version
folders are complete (copied and fsynced under a temporary name) before they are renamed into
place. Names and aliases are validated so that they cannot leave the registry directory.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filelock import FileLock

from pytest_mlgate.errors import MlgateError
from pytest_mlgate.evaluate.hashing import sha256_file
from pytest_mlgate.records import now, read_json, write_json

if TYPE_CHECKING:
    from pytest_mlgate.config import Settings
    from pytest_mlgate.lifecycle.audit import AuditLog

PREFIX = "registry:"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
VERSION = re.compile(r"v([1-9][0-9]*)")
LOCK_TIMEOUT = 60.0


def check_name(kind: str, value: str) -> str:
    """Refuse names that are empty, too long, or could escape the registry directory."""
    if not isinstance(value, str) or not NAME.fullmatch(value) or ".." in value:
        raise MlgateError(f"registry: invalid {kind} {value!r}: use letters, digits, '.', '_' and '-' "
                          "(starting with a letter or digit, no '..', at most 100 characters)")
    return value


def check_alias(alias: str) -> str:
    check_name("alias", alias)
    if VERSION.fullmatch(alias):
        raise MlgateError(f"registry: invalid alias {alias!r}: names like vN are version labels")
    return alias


def parse_reference(spec: str) -> tuple[str, str]:
    """Split ``registry:NAME@ALIAS`` or ``registry:NAME@vN`` into (name, ref), validating both."""
    body = spec.removeprefix(PREFIX)
    name, sep, ref = body.partition("@")
    if not sep or not ref:
        raise MlgateError(f"registry reference {spec!r}: expected registry:NAME@ALIAS or registry:NAME@vN")
    check_name("model name", name)
    if not VERSION.fullmatch(ref):
        check_alias(ref)
    return name, ref


class Registry:
    """A registry directory; every method is safe to call from several processes at once."""

    def __init__(self, root: Path, audit: AuditLog | None = None):
        self.root = Path(root)
        self.audit = audit

    # -- reading

    def models(self) -> list[str]:
        """Names of the registered models."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / "index.json").is_file())

    def index(self, name: str) -> dict[str, Any]:
        """The model's index: owner, versions, aliases and alias history."""
        path = self._dir(name) / "index.json"
        if not path.is_file():
            known = ", ".join(self.models()) or "none"
            raise MlgateError(f"registry: no model named {name!r} in {self.root} (registered: {known})")
        return read_json(path)

    def version(self, name: str, ref: str) -> dict[str, Any]:
        """The version entry that ``ref`` (an alias or ``vN``) points to."""
        index = self.index(name)
        label = ref if VERSION.fullmatch(ref) else index["aliases"].get(check_alias(ref))
        if label is None:
            aliases = ", ".join(sorted(index["aliases"])) or "none"
            raise MlgateError(f"registry: model {name!r} has no alias {ref!r} (aliases: {aliases})")
        for entry in index["versions"]:
            if entry["version"] == label:
                return entry
        raise MlgateError(f"registry: model {name!r} has no version {label} (latest: {_latest(index)})")

    def artifact(self, name: str, ref: str) -> tuple[Path, dict[str, Any]]:
        """The artifact file of ``NAME@ref`` after checking its sha256; refuses tampered files."""
        entry = self.version(name, ref)
        if not VERSION.fullmatch(entry["version"]) or not NAME.fullmatch(entry["file"]) or ".." in entry["file"]:
            raise MlgateError(f"registry: {name}@{ref}: index entry points outside its version folder "
                              f"({entry['version']}/{entry['file']}); the index was edited")
        path = self._dir(name) / "versions" / entry["version"] / entry["file"]
        if not path.is_file():
            raise MlgateError(f"registry: {name}@{ref} ({entry['version']}): artifact missing: {path}")
        digest = sha256_file(path)
        if digest != entry["sha256"]:
            raise MlgateError(f"registry: {name}@{ref} ({entry['version']}): artifact tampered: sha256 is "
                              f"{digest}, registered {entry['sha256']}")
        return path, entry

    def find_sha(self, name: str, sha256: str) -> dict[str, Any] | None:
        """The version of ``name`` holding an artifact with this sha256, if registered."""
        if name not in self.models():
            return None
        return next((e for e in self.index(name)["versions"] if e["sha256"] == sha256.lower()), None)

    # -- changing

    def register(self, name: str, artifact: Path, *, owner: str | None, metadata: dict[str, Any] | None = None,
                 by: str | None = None) -> dict[str, Any]:
        """Copy ``artifact`` in as the next version of ``name`` and return its entry."""
        check_name("model name", name)
        artifact = Path(artifact)
        if not artifact.is_file():
            raise MlgateError(f"registry: cannot register {name}: file not found: {artifact}")
        check_name("file name", artifact.name)
        folder = self._dir(name)
        with self._lock(name):
            index = read_json(folder / "index.json") if (folder / "index.json").is_file() else None
            owner = owner or (index or {}).get("owner")
            if not owner or not str(owner).strip():
                raise MlgateError(f"registry: cannot register {name}: an owner is required "
                                  "([tool.mlgate] owner or --owner)")
            index = index or {"name": name, "owner": owner, "versions": [], "aliases": {}, "history": []}
            index["owner"] = owner
            label = f"v{self._next_number(folder, index)}"
            sha256 = self._copy_in(artifact, folder / "versions", label)
            entry = {"version": label, "file": artifact.name, "sha256": sha256, "owner": owner,
                     "registered": now(), "by": by, "metadata": metadata or {}}
            index["versions"].append(entry)
            write_json(folder / "index.json", index)
        self._log("register", name, version=label, sha256=sha256, owner=owner, by=by, metadata=metadata or {})
        return entry

    def set_alias(self, name: str, alias: str, ref: str, *, by: str | None, reason: str,
                  action: str = "promote", **extra: Any) -> dict[str, Any]:
        """Point ``alias`` at the version ``ref`` resolves to; the change is kept in the alias history."""
        check_alias(alias)
        with self._lock(name):
            event = self._move(name, alias, ref, by=by, reason=reason, action=action, **extra)
        self._log(action, name, **event)
        return event

    def rollback(self, name: str, alias: str = "production", to: str | None = None, *, by: str | None,
                 reason: str) -> dict[str, Any]:
        """Move ``alias`` back to the version it pointed at before, or to ``to``: a version it held before.

        Rolling back never puts a version in place that did not hold the alias already (a version
        that never passed the gates goes through promotion instead).
        """
        check_alias(alias)
        if not reason or not reason.strip():
            raise MlgateError(f"registry: rollback of {name}@{alias} needs a reason")
        with self._lock(name):
            index = self.index(name)
            stack = alias_stack(index, alias)
            if to is None:
                if len(stack) < 2:
                    raise MlgateError(f"registry: {name}@{alias} has no earlier version to roll back to "
                                      f"(history: {', '.join(stack) or 'empty'})")
                to = stack[-2]
            held = [e["to"] for e in index["history"] if e["alias"] == alias]
            if self.version(name, to)["version"] not in held:
                before = ", ".join(dict.fromkeys(held)) or "none"
                raise MlgateError(f"registry: {name} {to} never was {alias} (held: {before}); "
                                  "promote it through the gates instead")
            event = self._move(name, alias, to, by=by, reason=reason, action="rollback")
        self._log("rollback", name, **event)
        return event

    # -- internals

    def _dir(self, name: str) -> Path:
        return self.root / check_name("model name", name)

    def _move(self, name: str, alias: str, ref: str, **event: Any) -> dict[str, Any]:
        """Rewrite the index with the alias moved (the caller holds the lock)."""
        index = self.index(name)
        target = self.version(name, ref)["version"]
        event = {"alias": alias, "from": index["aliases"].get(alias), "to": target, "at": now(), **event}
        index["aliases"][alias] = target
        index["history"].append(event)
        write_json(self._dir(name) / "index.json", index)
        return event

    def _lock(self, name: str) -> FileLock:
        folder = self._dir(name)
        folder.mkdir(parents=True, exist_ok=True)
        return FileLock(str(folder / ".lock"), timeout=LOCK_TIMEOUT)

    @staticmethod
    def _next_number(folder: Path, index: dict[str, Any]) -> int:
        """One past the highest version listed or present (a killed registration may leave a folder)."""
        numbers = [int(e["version"][1:]) for e in index["versions"]]
        versions = folder / "versions"
        if versions.is_dir():
            numbers += [int(m.group(1)) for p in versions.iterdir() if (m := VERSION.fullmatch(p.name))]
        return max(numbers, default=0) + 1

    @staticmethod
    def _copy_in(artifact: Path, versions: Path, label: str) -> str:
        """Copy into a temporary folder, fsync, then rename it to ``versions/label``."""
        versions.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=versions, prefix=f".{label}."))
        try:
            copy = staging / artifact.name
            shutil.copyfile(artifact, copy)
            with copy.open("rb") as fh:
                os.fsync(fh.fileno())
            sha256 = sha256_file(copy)
            os.chmod(copy, 0o444)
            os.rename(staging, versions / label)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return sha256

    def _log(self, event: str, name: str, **data: Any) -> None:
        if self.audit is not None:
            self.audit.append(event, data, model=name)


def alias_stack(index: dict[str, Any], alias: str) -> list[str]:
    """The versions an alias went through, with rolled-back ones removed (the last is current)."""
    stack: list[str] = []
    for event in index["history"]:
        if event["alias"] != alias:
            continue
        if event["action"] == "rollback" and event["to"] in stack:
            del stack[stack.index(event["to"]) + 1:]
        elif not stack or stack[-1] != event["to"]:
            stack.append(event["to"])
    return stack


def _latest(index: dict[str, Any]) -> str:
    return index["versions"][-1]["version"] if index["versions"] else "none"


def open_registry(settings: Settings, audit: bool = True) -> Registry:
    """The registry configured by ``[tool.mlgate] registry``, logging to the audit log."""
    if settings.registry == "mlflow":  # the backend named "mlflow" is not a directory
        raise MlgateError('registry = "mlflow": the embedded registry is not in use here (`mlgate registry` and '
                          "the training trigger work on it only); use MLflow's own client or UI")
    from pytest_mlgate.lifecycle.audit import open_log

    return Registry(settings.path(settings.registry), open_log(settings) if audit else None)


def resolve_reference(spec: str, settings: Settings) -> tuple[Path, str | None]:
    """Resolve ``registry:NAME@ALIAS`` / ``registry:NAME@vN`` to (verified artifact path, version)."""
    name, ref = parse_reference(spec)
    path, entry = Registry(settings.path(settings.registry)).artifact(name, ref)
    return path, entry["version"]
