"""The embedded registry: versions, references, tamper checks, promotion, rollback, crash safety."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_mlgate.cli import main
from pytest_mlgate.config import build
from pytest_mlgate.errors import MlgateError
from pytest_mlgate.lifecycle.audit import AuditLog
from pytest_mlgate.lifecycle.registry import Registry, alias_stack, resolve_reference


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    return Registry(tmp_path / "reg", AuditLog(tmp_path / "audit.jsonl"))


def model_file(folder: Path, text: str, name: str = "model.skops") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_register_copies_numbers_and_hashes(registry: Registry, tmp_path: Path) -> None:
    first = registry.register("credit", model_file(tmp_path, "one"), owner="risk@x", metadata={"auc": 0.9})
    second = registry.register("credit", model_file(tmp_path, "two"), owner=None)
    assert (first["version"], second["version"]) == ("v1", "v2")
    assert second["owner"] == "risk@x"  # the model's owner carries over
    path, entry = registry.artifact("credit", "v1")
    assert path.read_text() == "one" and entry["metadata"] == {"auc": 0.9}
    assert registry.find_sha("credit", second["sha256"])["version"] == "v2"
    events = [e["event"] for e in registry.audit.entries()]
    assert events == ["register", "register"]


def test_owner_is_required(registry: Registry, tmp_path: Path) -> None:
    with pytest.raises(MlgateError, match="an owner is required"):
        registry.register("credit", model_file(tmp_path, "x"), owner=None)
    assert registry.models() == []


@pytest.mark.parametrize("spec", ["registry:../x@production", "registry:a/b@v1", "registry:..@v1",
                                  "registry:credit@../../etc", "registry:credit", "registry:.hidden@v1",
                                  "registry:credit@v0"])
def test_escaping_or_malformed_references_are_refused(registry: Registry, tmp_path: Path, spec: str) -> None:
    registry.register("credit", model_file(tmp_path, "one"), owner="o")
    settings = build(tmp_path, {"registry": "reg"})
    with pytest.raises(MlgateError, match="invalid|expected registry:NAME|no alias 'v0'"):
        resolve_reference(spec, settings)


def test_names_cannot_escape_when_writing(registry: Registry, tmp_path: Path) -> None:
    with pytest.raises(MlgateError, match="invalid model name '../x'"):
        registry.register("../x", model_file(tmp_path, "one"), owner="o")
    registry.register("credit", model_file(tmp_path, "one"), owner="o")
    with pytest.raises(MlgateError, match="invalid alias '../prod'"):
        registry.set_alias("credit", "../prod", "v1", by="me", reason="r")
    assert not (tmp_path / "x").exists() and sorted(p.name for p in tmp_path.iterdir()) == [
        "audit.jsonl", "audit.jsonl.lock", "model.skops", "reg"]


def test_reference_resolves_alias_and_version_and_refuses_tampering(registry: Registry, tmp_path: Path) -> None:
    registry.register("credit", model_file(tmp_path, "one"), owner="o")
    registry.register("credit", model_file(tmp_path, "two"), owner="o")
    registry.set_alias("credit", "production", "v1", by="me", reason="first")
    settings = build(tmp_path, {"registry": "reg"})
    path, version = resolve_reference("registry:credit@production", settings)
    assert (path.read_text(), version) == ("one", "v1")
    assert resolve_reference("registry:credit@v2", settings)[1] == "v2"
    path.chmod(0o644)
    path.write_text("evil")
    with pytest.raises(MlgateError, match=r"credit@production \(v1\): artifact tampered: sha256 is"):
        resolve_reference("registry:credit@production", settings)
    with pytest.raises(MlgateError, match="has no alias 'staging'"):
        resolve_reference("registry:credit@staging", settings)
    index_path = tmp_path / "reg" / "credit" / "index.json"
    index = json.loads(index_path.read_text())
    index["versions"][1]["file"] = "../../../model.skops"
    index_path.write_text(json.dumps(index))
    with pytest.raises(MlgateError, match="index entry points outside its version folder"):
        resolve_reference("registry:credit@v2", settings)


def test_rollback_restores_previous_version_step_by_step(registry: Registry, tmp_path: Path) -> None:
    for text in ("one", "two", "three"):
        version = registry.register("credit", model_file(tmp_path, text), owner="o")["version"]
        registry.set_alias("credit", "production", version, by="ci", reason="approved")
    event = registry.rollback("credit", by="oncall", reason="latency spike")
    assert (event["from"], event["to"]) == ("v3", "v2")
    assert registry.rollback("credit", by="oncall", reason="still bad")["to"] == "v1"
    with pytest.raises(MlgateError, match="no earlier version"):
        registry.rollback("credit", by="oncall", reason="again")
    registry.register("credit", model_file(tmp_path, "never approved"), owner="o")
    with pytest.raises(MlgateError, match=r"credit v4 never was production \(held: v1, v2, v3\); promote it"):
        registry.rollback("credit", to="v4", by="oncall", reason="skip the gates")
    assert registry.rollback("credit", to="v3", by="oncall", reason="fixed upstream")["to"] == "v3"
    assert registry.version("credit", "production")["version"] == "v3"
    assert alias_stack(registry.index("credit"), "production") == ["v1", "v3"]
    rollbacks = [e["data"] for e in registry.audit.find("rollback")]
    assert [(r["to"], r["reason"], r["by"]) for r in rollbacks] == [
        ("v2", "latency spike", "oncall"), ("v1", "still bad", "oncall"), ("v3", "fixed upstream", "oncall")]
    with pytest.raises(MlgateError, match="needs a reason"):
        registry.rollback("credit", by="oncall", reason=" ")


# A worker that promotes back and forth as fast as it can, and registers new versions now and then.
PROMOTER = """
import sys
from pathlib import Path
from pytest_mlgate.lifecycle.audit import AuditLog
from pytest_mlgate.lifecycle.registry import Registry

root = Path(sys.argv[1])
registry = Registry(root / "reg", AuditLog(root / "audit.jsonl"))
print("ready", flush=True)
i = 0
while True:
    i += 1
    if i % 7 == 0:
        (root / "m.skops").write_text(f"model {i}")
        registry.register("credit", root / "m.skops", owner="o")
    registry.set_alias("credit", "production", "v1" if i % 2 else "v2", by="ci", reason=f"round {i}")
"""


def _wait_for_history(index: Path, entries: int, timeout: float = 60.0) -> None:
    """Until the registry index (replaced atomically) holds ``entries`` alias changes."""
    deadline = time.monotonic() + timeout
    while len(json.loads(index.read_text())["history"]) < entries:
        assert time.monotonic() < deadline, f"the promoter made no alias change in {timeout:.0f} s"
        time.sleep(0.01)


def test_promotion_killed_at_random_points_leaves_registry_readable(registry: Registry, tmp_path: Path) -> None:
    registry.register("credit", model_file(tmp_path, "one", "m.skops"), owner="o")
    registry.register("credit", model_file(tmp_path, "two", "m.skops"), owner="o")
    registry.set_alias("credit", "production", "v1", by="ci", reason="start")
    script = tmp_path / "promoter.py"
    script.write_text(PROMOTER)
    settings = build(tmp_path, {"registry": "reg"})
    rng = random.Random(6)
    changes = 1
    for _ in range(5):
        process = subprocess.Popen([sys.executable, str(script), str(tmp_path)], stdout=subprocess.PIPE)
        assert process.stdout.readline().strip() == b"ready"
        progressed = changes + 1
        _wait_for_history(tmp_path / "reg" / "credit" / "index.json", progressed)  # a busy machine is slow
        time.sleep(rng.uniform(0.0, 0.2))
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        process.stdout.close()
        index = json.loads((tmp_path / "reg" / "credit" / "index.json").read_text())
        assert index["aliases"]["production"] in ("v1", "v2")
        assert len(index["history"]) >= progressed  # nothing recorded before the kill was lost
        changes = len(index["history"])
        numbers = [int(v["version"][1:]) for v in index["versions"]]
        assert numbers[:2] == [1, 2] and numbers == sorted(set(numbers))  # a killed registration skips a number
        for entry in index["versions"]:  # every listed version is complete and intact
            assert resolve_reference(f"registry:credit@{entry['version']}", settings)[1] == entry["version"]
        assert resolve_reference("registry:credit@production", settings)[1] in ("v1", "v2")
    # the registry still accepts changes after the kills (a killed registration only skips a number)
    after = registry.register("credit", model_file(tmp_path, "after", "m.skops"), owner="o")
    registry.set_alias("credit", "production", after["version"], by="ci", reason="after kills")
    assert resolve_reference("registry:credit@production", settings)[1] == after["version"]


def test_cli_register_list_show_rollback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.mlgate]\nmodel = "credit"\nowner = "risk@x"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLGATE_ACTOR", "alice")
    model_file(tmp_path, "one")
    assert main(["registry", "register", "model.skops", "--alias", "production", "--meta", "auc=0.91"]) == 0
    model_file(tmp_path, "two")
    assert main(["registry", "register", "model.skops", "--alias", "production"]) == 0
    assert main(["rollback", "credit", "--reason", "bad calibration"]) == 0
    out = capsys.readouterr().out
    assert "registered credit v1 sha256" in out and "credit@production -> v2" in out
    assert "rolled back credit@production: v2 -> v1" in out
    assert main(["registry", "list"]) == 0
    assert "credit  2 version(s)  owner risk@x  production=v1" in capsys.readouterr().out
    assert main(["registry", "list", "credit"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in listed] == ["v1", "v2"] and listed[0].endswith("alice  production")
    assert main(["registry", "show"]) == 0
    shown = capsys.readouterr().out
    assert "rollback production: v2 -> v1  by alice: bad calibration" in shown
    assert main(["rollback", "credit", "--reason", "x"]) == 2  # nothing earlier than v1
    assert "no earlier version" in capsys.readouterr().err
    assert main(["registry", "show", "../etc"]) == 2
    assert "invalid model name '../etc'" in capsys.readouterr().err


def test_escaping_reference_rejects_a_gate_run(project):
    project.configure(candidate="registry:../x@production", baseline=None)
    project.gates("""
def test_auc(candidate, holdout):
    assert candidate.metric("roc_auc", holdout) >= 0.5
""")
    result = project.run()
    assert result.ret == 1
    assert project.decision["decision"] == "rejected"
    result.stdout.fnmatch_lines(["*registry: invalid model name '../x'*"])
    assert not (project.path / ".mlgate" / "x").exists()
