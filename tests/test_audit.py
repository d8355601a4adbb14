"""The hash-chained audit log: appends, concurrent writers, and detection of every kind of tampering."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_mlgate.cli import main
from pytest_mlgate.errors import MlgateError
from pytest_mlgate.lifecycle.audit import GENESIS, AuditLog, entry_hash


@pytest.fixture
def log(tmp_path: Path) -> AuditLog:
    log = AuditLog(tmp_path / "audit.jsonl")
    for n in range(1, 7):
        log.append("register", {"version": f"v{n}", "by": "ci"}, model="credit")
    return log


def lines(log: AuditLog) -> list[str]:
    return log.path.read_text().splitlines(keepends=True)


def rewrite(log: AuditLog, new: list[str]) -> None:
    log.path.write_text("".join(new))


def test_entries_chain_and_verify(log: AuditLog) -> None:
    entries = list(log.entries())
    assert [e["seq"] for e in entries] == [1, 2, 3, 4, 5, 6]
    assert entries[0]["prev"] == GENESIS
    assert all(b["prev"] == a["hash"] == entry_hash(a) for a, b in zip(entries, entries[1:]))
    result = log.verify()
    assert result.ok and result.entries == 6 and result.head == entries[-1]["hash"]
    assert [e["data"]["version"] for e in log.find("register", model="credit")][-1] == "v6"


def test_edited_entry_is_named(log: AuditLog) -> None:
    text = lines(log)
    text[2] = text[2].replace('"by":"ci"', '"by":"mallory"')
    rewrite(log, text)
    assert log.verify().problems == ["line 3 (seq 3): entry edited (its hash does not match its content)"]


def test_deleted_entry_is_named(log: AuditLog) -> None:
    text = lines(log)
    del text[3]
    rewrite(log, text)
    assert log.verify().problems == ["line 4 (seq 5): seq 4 missing: entries deleted or reordered"]


def test_deleted_last_entries_need_the_head_hash(log: AuditLog) -> None:
    head = log.verify().head
    rewrite(log, lines(log)[:-1])
    result = log.verify()
    assert result.ok and result.head != head  # a truncated tail is caught by comparing the published head


def test_inserted_entry_is_named(log: AuditLog) -> None:
    text = lines(log)
    forged = json.loads(text[2])  # a well-formed entry claiming to follow seq 3
    forged["data"]["version"] = "v99"
    forged["seq"], forged["prev"] = 4, forged["hash"]
    forged["hash"] = entry_hash(forged)
    text.insert(3, json.dumps(forged) + "\n")
    rewrite(log, text)
    assert log.verify().problems == ["line 5 (seq 4): duplicate sequence number: an entry was inserted"]


def test_inserted_entry_with_unused_number_breaks_the_chain(log: AuditLog) -> None:
    text = lines(log)
    entries = [json.loads(t) for t in text]
    forged = {**entries[2], "data": {"version": "v99"}, "prev": "f" * 64}
    forged["hash"] = entry_hash(forged)
    text[2] = json.dumps(forged) + "\n"  # replaced wholesale, with its own hash recomputed
    rewrite(log, text)
    problems = log.verify().problems
    assert problems[0] == ("line 3 (seq 3): does not chain to the entry before it: "
                           "an entry was inserted or replaced")
    assert problems[1].startswith("line 4 (seq 4): does not chain")


def test_reordered_entries_are_named(log: AuditLog) -> None:
    text = lines(log)
    text[1], text[4] = text[4], text[1]
    rewrite(log, text)
    problems = log.verify().problems
    assert problems[0] == "line 2 (seq 5): seq 2-4 missing: entries deleted or reordered"
    assert "line 3 (seq 3): out of order after seq 5: entries reordered" in problems


def test_truncated_line_is_reported_and_blocks_appends(log: AuditLog) -> None:
    text = lines(log)
    rewrite(log, text[:-1] + [text[-1][:40]])
    assert log.verify().problems == [
        "line 6: incomplete (no line end): a writer was stopped mid-entry; run `mlgate audit repair`",
        "line 6: not valid JSON (truncated or edited)"]
    with pytest.raises(MlgateError, match="last entry is incomplete"):
        log.append("register", {}, model="credit")


def test_cli_verify_and_show(log: AuditLog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.mlgate]\nmodel = "credit"\naudit = "audit.jsonl"\n')
    monkeypatch.chdir(tmp_path)
    log.append("promote", {"alias": "production", "to": "v1", "by": "bob", "reason": "ok"}, model="other")
    assert main(["audit", "verify"]) == 0
    assert f"audit log OK: 7 entries, head {log.verify().head}" in capsys.readouterr().out
    assert main(["audit", "show", "--model", "other"]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert len(shown) == 1 and "promote" in shown[0] and "production: none -> v1 by bob: ok" in shown[0]
    assert main(["audit", "show", "--json"]) == 0
    raw = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [e["seq"] for e in raw] == list(range(1, 8)) and raw[-1]["data"]["by"] == "bob"
    text = lines(log)
    text[0] = text[0].replace("v1", "v0")
    rewrite(log, text)
    assert main(["audit", "verify"]) == 1
    out = capsys.readouterr().out
    assert "line 1 (seq 1): entry edited" in out and "audit log TAMPERED: 1 problem(s) in 7 entries" in out


WRITER = """
import sys
from pathlib import Path
from pytest_mlgate.lifecycle.audit import AuditLog

log = AuditLog(Path(sys.argv[1]))
worker = int(sys.argv[2])
for n in range(500):
    log.append("decision", {"worker": worker, "n": n}, model="credit")
"""


def test_eight_processes_appending_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    writers = [subprocess.Popen([sys.executable, str(script), str(path), str(w)]) for w in range(8)]
    assert [w.wait(timeout=300) for w in writers] == [0] * 8
    log = AuditLog(path)
    result = log.verify()
    assert result.ok, result.problems[:3]
    assert result.entries == 4000
    seen = {(e["data"]["worker"], e["data"]["n"]) for e in log.entries()}
    assert seen == {(w, n) for w in range(8) for n in range(500)}
    per_worker = {}
    for entry in log.entries():  # each writer's own entries stay in its order
        per_worker.setdefault(entry["data"]["worker"], []).append(entry["data"]["n"])
    assert all(ns == list(range(500)) for ns in per_worker.values())
