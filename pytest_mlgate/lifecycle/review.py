"""What a reviewer needs to act on a needs-review decision: the gates, who may approve, the command.

The block is stored in the decision record (``record["review"]``) so that the terminal, Markdown
and HTML reports show the same thing, and a stored decision renders it again.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_mlgate.lifecycle.approvals import gate_matches

if TYPE_CHECKING:
    from pytest_mlgate.config import Settings

REASON = "why this failure is acceptable"


def pending_gates(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Failed review gates that no approval used by this decision covers."""
    used = [str(a.get("gate")) for a in record.get("approvals_used") or []]
    return [g for g in record["gates"] if g["severity"] == "review" and g["outcome"] == "failed"
            and not any(gate_matches(u, g["gate"]) for u in used)]


def review_block(settings: Settings, record: dict[str, Any], cwd: Path | None = None) -> dict[str, Any] | None:
    """For a needs-review decision: the pending gates, the approvers and one ``mlgate approve`` command
    per gate, for this candidate's sha256 (run from ``cwd``, the directory pytest ran in)."""
    if record["decision"] != "needs-review":
        return None
    sha256 = ((record.get("artifacts") or {}).get("candidate") or {}).get("sha256")
    approvers = list(settings.approvers)
    gates = pending_gates(record)
    block: dict[str, Any] = {"gates": [{"gate": g["gate"], "message": g["message"], "owner": g.get("owner")}
                                       for g in gates], "approvers": approvers, "candidate": sha256, "commands": []}
    if not approvers:
        block["problem"] = "nobody can approve: [tool.mlgate] approvers is empty"
    if not sha256:
        block["problem"] = "the candidate has no sha256 to approve"
    if "problem" in block:
        return block
    config = _config_argument(settings, cwd or Path.cwd())
    for gate in gates:
        argv = ["mlgate", "approve", "--model", settings.model or "model", "--candidate", sha256,
                "--gate", gate["gate"], "--by", approvers[0], "--reason", REASON, *config]
        block["commands"].append(shlex.join(argv))
    return block


def _config_argument(settings: Settings, cwd: Path) -> list[str]:
    """``--config PATH`` unless the command would find the same pyproject.toml from ``cwd`` itself."""
    if not settings.source:
        return []
    source = Path(settings.source).resolve()
    if source == (cwd / "pyproject.toml").resolve():
        return []
    try:
        return ["--config", str(source.relative_to(cwd.resolve()))]
    except ValueError:
        return ["--config", str(source)]

