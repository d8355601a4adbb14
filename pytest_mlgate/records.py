"""The decision record (the JSON a gate run leaves behind) and safe file writes."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pytest_mlgate.decision import Decision
from pytest_mlgate.errors import MlgateError

SCHEMA = "pytest-mlgate/decision/1"


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def git_commit(root: Path) -> str | None:
    """The commit checked out at ``root``, or None outside git."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def decision_record(decision: Decision, *, model: str | None, owner: str | None, stage: str,
                    exit_status: int, artifacts: dict[str, Any], datasets: dict[str, Any],
                    started: str, commit: str | None) -> dict[str, Any]:
    """Everything needed to audit or re-render a decision, as JSON-able data."""
    return {
        "schema": SCHEMA,
        "model": model,
        "owner": owner,
        "stage": stage,
        "decision": decision.status,
        "reasons": decision.reasons,
        "exit_status": exit_status,
        "started": started,
        "finished": now(),
        "git_commit": commit,
        "artifacts": artifacts,
        "datasets": datasets,
        "counts": decision.counts,
        "approvals_used": decision.approvals_used,
        "gates": [gate.to_dict() for gate in decision.gates],
    }


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` so that readers see the old file or the new one, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Not mkstemp, which creates 0600: opened with 0666 the file gets what the umask allows (0644 by default).
    tmp = path.parent / f".{path.name}.{secrets.token_hex(8)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> None:
    write_atomic(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def read_json(path: Path) -> Any:
    """Read a JSON file with a one-line error naming it."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MlgateError(f"{path}: cannot read: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise MlgateError(f"{path}: not valid JSON: {exc}") from None
