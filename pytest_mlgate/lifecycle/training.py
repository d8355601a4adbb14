"""Training trigger: retrain and register the candidate when its inputs changed.

``[tool.mlgate.training]`` names a ``command`` (a string run by the shell, or a list of
arguments), its ``inputs`` (files or directories: code and data) and its ``output`` (the model file
it writes). A gate run hashes the inputs; when they differ from the hashes recorded on the model's
``candidate`` alias (or there is none yet), it runs the command, registers the output with the
hashes and moves ``candidate`` to it. Otherwise training is skipped.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_mlgate.errors import ConfigError, MlgateError
from pytest_mlgate.evaluate.hashing import sha256_file
from pytest_mlgate.records import git_commit

if TYPE_CHECKING:
    from pytest_mlgate.config import Settings
    from pytest_mlgate.lifecycle.registry import Registry

KEYS = ("command", "inputs", "output", "alias", "timeout")


def options(settings: Settings) -> dict[str, Any] | None:
    """The validated training table, or None when training is not configured."""
    table = settings.section("training")
    if not table:
        return None
    for key in table:
        if key not in KEYS:
            raise ConfigError(f"mlgate config: [tool.mlgate.training] unknown key '{key}' (known: {', '.join(KEYS)})")
    command = table.get("command")
    if not (isinstance(command, str) and command.strip()) and not (
            isinstance(command, list) and command and all(isinstance(c, str) for c in command)):
        raise ConfigError("mlgate config: [tool.mlgate.training] key 'command' must be a string or a list of strings")
    inputs = table.get("inputs")
    if not isinstance(inputs, list) or not inputs or not all(isinstance(i, str) and i for i in inputs):
        raise ConfigError("mlgate config: [tool.mlgate.training] key 'inputs' must be a non-empty list of paths")
    output = table.get("output")
    if not isinstance(output, str) or not output.strip():
        raise ConfigError("mlgate config: [tool.mlgate.training] key 'output' must be a path")
    timeout = table.get("timeout", 3600)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ConfigError(f"mlgate config: [tool.mlgate.training] key 'timeout' must be seconds > 0, got {timeout!r}")
    if not settings.model:
        raise ConfigError("mlgate config: [tool.mlgate.training] needs [tool.mlgate] model")
    return {"command": command, "inputs": inputs, "output": output,
            "alias": table.get("alias", "candidate"), "timeout": timeout}


def input_hashes(settings: Settings, inputs: list[str]) -> dict[str, str]:
    """sha256 of every input file (directories are walked), keyed by path relative to the root."""
    hashes: dict[str, str] = {}
    for item in inputs:
        path = settings.path(item)
        if not path.exists():
            raise MlgateError(f"training: input not found: {item} ([tool.mlgate.training] inputs)")
        files = sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts) \
            if path.is_dir() else [path]
        for file in files:
            hashes[_relative(file, settings.root)] = sha256_file(file)
    return hashes


def combined(hashes: dict[str, str]) -> str:
    """One digest over all input hashes."""
    text = "\n".join(f"{name} {digest}" for name, digest in sorted(hashes.items()))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def maybe_train(settings: Settings, registry: Registry, *, force: bool = False,
                reason: str | None = None) -> dict[str, Any] | None:
    """Retrain and register when the inputs changed (or ``force``); returns what happened (None: not configured)."""
    opts = options(settings)
    if opts is None:
        return None
    hashes = input_hashes(settings, opts["inputs"])
    digest = combined(hashes)
    current = _current(registry, settings.model, opts["alias"])
    if not force and current is not None and current["metadata"].get("training", {}).get("inputs_sha256") == digest:
        return {"status": "skipped", "inputs_sha256": digest, "version": current["version"]}
    _run(settings, opts)
    output = settings.path(opts["output"])
    if not output.is_file():
        raise MlgateError(f"training: the command finished but wrote no {opts['output']} "
                          "([tool.mlgate.training] output)")
    metadata = {"training": {"command": opts["command"], "inputs": hashes, "inputs_sha256": digest},
                "git_commit": git_commit(settings.root)}
    entry = registry.register(settings.model, output, owner=settings.owner, metadata=metadata, by="training")
    registry.set_alias(settings.model, opts["alias"], entry["version"], by="training",
                       reason=reason or f"retrained: inputs changed ({digest[:12]})", action="train")
    return {"status": "trained", "inputs_sha256": digest, "version": entry["version"],
            "previous": current["version"] if current else None}


def _current(registry: Registry, model: str, alias: str) -> dict[str, Any] | None:
    if model not in registry.models() or alias not in registry.index(model)["aliases"]:
        return None
    return registry.version(model, alias)


def _run(settings: Settings, opts: dict[str, Any]) -> None:
    command = opts["command"]
    try:
        done = subprocess.run(command, shell=isinstance(command, str), cwd=settings.root, capture_output=True,
                              text=True, timeout=opts["timeout"])
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise MlgateError(f"training: command {command!r} could not run: {exc}") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
        raise MlgateError(f"training: command {command!r} exited {done.returncode}: {tail[0]}")


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)
