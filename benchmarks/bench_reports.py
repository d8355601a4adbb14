"""Render time and size of each report format for 100 and 500 gates.

Run: ``python benchmarks/bench_reports.py``. Each gate has a regression check with a CI; every tenth
also carries a 30-row drift table, as real runs mix the families. Prints milliseconds per render,
the output size, and the Markdown size as a share of GitHub's 1 MiB step-summary limit; then what
a session writes after its decision, as it writes it: the decision file (twice: before and after
the audit entry), the audit entry (to a log that already holds 20 such decisions) and the three
report files, each fsynced: wall and CPU time (on a busy disk the wall time is mostly fsync).

Then the same writes as a real session makes them, on a long trail: a gate run (a fresh ``pytest``
process, 20 gates, a registered candidate, JUnit, Markdown, HTML and the gate catalog configured)
whose audit trail already holds ``--trail`` decisions for the model, each registry version's in a
run (a version per ``--per-version`` decisions, 20 by default; the newest version's last). It times
the session's whole write phase (decision file to catalog; wall and CPU) and counts its walks of
the trail. With ``--compare DIR`` a second checkout runs interleaved with this one; medians over
``--rounds``.

    python benchmarks/bench_reports.py [--trail 2000 10000] [--per-version 20] [--rounds 5] [--compare DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pytest_mlgate.decision import Check, GateResult, decide
from pytest_mlgate.lifecycle.audit import GENESIS, AuditLog, canonical, entry_hash
from pytest_mlgate.lifecycle.registry import Registry
from pytest_mlgate.records import decision_record, write_atomic, write_json
from pytest_mlgate.reports import html, junit, markdown

REPEATS = 3


def gates(n: int) -> list[GateResult]:
    found = []
    for i in range(n):
        failed = i % 7 == 0
        outcome = "failed" if failed else "passed"
        checks = [Check(f"roc_auc[slice={i}]", outcome, "roc_auc", "holdout", 0.8 - (0.05 if failed else 0), 0.8,
                        -0.05 if failed else 0.0, "drop <= 0.01", (-0.07, -0.03) if failed else (-0.01, 0.01),
                        f"roc_auc[slice={i}] dropped 0.05 from baseline 0.8 to 0.75; allowed drop <= 0.01"
                        if failed else "", "regression", {"rows": 2000, "criterion": "point"})]
        if i % 10 == 0:
            table = [{"feature": f"f{j}", "statistic": j / 100, "p_value": 0.5, "effect_value": j / 200,
                      "drifted": j > 25, "outcome": "drifted" if j > 25 else "stable"} for j in range(30)]
            checks.append(Check("drift@current", outcome, kind="drift", details={"table": table}))
        found.append(GateResult(f"gates/test_bench.py::test_gate_{i}", outcome,
                                message=checks[0].message, checks=checks))
    return found


def record(n: int) -> dict:
    return decision_record(decide(gates(n)), model="bench", owner="ml@example.org", stage="push", exit_status=1,
                           artifacts={}, datasets={}, started="2026-01-01T00:00:00+00:00", commit=None)


def renders() -> None:
    print(f"{'gates':>6} {'format':>9} {'ms/render':>10} {'size KiB':>9}  note")
    for n in (100, 500):
        data = record(n)
        for name, renderer in (("markdown", markdown), ("html", html), ("junit", junit)):
            start = time.perf_counter()
            for _ in range(REPEATS):
                text = renderer.render(data)
            ms = (time.perf_counter() - start) / REPEATS * 1000
            size = len(text.encode())
            note = f"{size / markdown.GITHUB_LIMIT:.1%} of the 1 MiB step-summary limit" if name == "markdown" else ""
            print(f"{n:>6} {name:>9} {ms:>10.1f} {size / 1024:>9.1f}  {note}")
    for n in (100, 500):
        data = record(n)
        with tempfile.TemporaryDirectory() as tmp:
            log = AuditLog(Path(tmp) / "audit.jsonl")
            for _ in range(20):
                log.append("decision", data, model="bench")
            start, cpu = time.perf_counter(), time.process_time()
            for _ in range(REPEATS):
                session_writes(Path(tmp), data, log)
            ms = (time.perf_counter() - start) / REPEATS * 1000
            cpu_ms = (time.process_time() - cpu) / REPEATS * 1000
        print(f"{n:>6} gates: decision file x2 + audit entry + JUnit, Markdown, HTML written in {ms:.0f} ms "
              f"({cpu_ms:.0f} ms CPU; the rest is waiting for fsync)")


def session_writes(folder: Path, data: dict, log: AuditLog) -> None:
    """The files a session writes after its decision, in its order."""
    write_json(folder / "decision.json", data)
    log.append("decision", data, model="bench")
    write_json(folder / "decision.json", data)
    for name, renderer in (("junit.xml", junit), ("summary.md", markdown), ("report.html", html)):
        write_atomic(folder / name, renderer.render(data))


STAMP = '''
import json, os, time
import pytest

STAMPS = {"walks": 0, "parsed": 0}

def counted(read):  # a walk of the trail for the model's decisions, by either reader
    def walk(log, event=None, model=None, **kwargs):
        STAMPS["walks"] += event == "decision"
        return read(log, event, model, **kwargs)
    return walk

def pytest_configure(config):
    from pytest_mlgate.lifecycle import audit
    from pytest_mlgate.session import GateSession
    write, parse = GateSession._write, audit._parse
    def timed(self, *args, **kwargs):
        start, cpu = time.perf_counter(), time.process_time()
        try:
            return write(self, *args, **kwargs)
        finally:
            STAMPS.update(wall=time.perf_counter() - start, cpu=time.process_time() - cpu)
    def parsed(*args):
        STAMPS["parsed"] += 1
        return parse(*args)
    GateSession._write, audit._parse = timed, parsed
    for name in ("find", "newest"):
        if hasattr(audit.AuditLog, name):
            setattr(audit.AuditLog, name, counted(getattr(audit.AuditLog, name)))

@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    with open(os.environ["MLGATE_STAMPS"], "w") as fh:
        json.dump(STAMPS, fh)
'''
GATE_FILE = "".join(f"def test_gate_{i}():\n    assert True\n\n" for i in range(20))
def seed(root: Path, decisions: int, per_version: int) -> Path:
    """A project whose registry holds a version per ``per_version`` decisions of its trail."""
    (root / "gates").mkdir(parents=True)
    (root / "gates" / "test_bench.py").write_text(GATE_FILE)
    (root / "conftest.py").write_text("")
    (root / "mlgate_stamp.py").write_text(STAMP)
    (root / "pyproject.toml").write_text(
        '[tool.mlgate]\nmodel = "bench"\nowner = "ml@example.org"\ncandidate = "model.bin"\ngates = ["gates"]\n'
        'junit = "reports/junit.xml"\nmarkdown = "reports/summary.md"\nhtml = "reports/report.html"\n'
        'docs = "reports/gates.md"\n')
    registry = Registry(root / ".mlgate" / "registry")
    shas, versions = [], max(1, decisions // per_version)
    for v in range(versions):
        artifact = root / f"v{v}.bin"
        artifact.write_bytes(f"model {v}".encode())
        shas.append(registry.register("bench", artifact, owner="ml@example.org")["sha256"])
    shutil.copy(root / f"v{versions - 1}.bin", root / "model.bin")
    bodies = []
    for sha in shas:
        body = record(20)
        body["artifacts"] = {"candidate": {"sha256": sha, "path": "model.bin"}}
        bodies.append(body)
    trail, prev = root / "trail.jsonl", GENESIS
    with trail.open("w") as fh:
        for seq in range(1, decisions + 1):
            entry = {"seq": seq, "at": "2026-01-01T00:00:00+00:00", "event": "decision", "model": "bench",
                     "data": bodies[(seq - 1) * versions // decisions], "prev": prev}
            entry["hash"] = prev = entry_hash(entry)
            fh.write(canonical(entry) + "\n")
    return trail


def write_phase(root: Path, trail: Path, tree: str) -> dict[str, float]:
    """One gate run on a fresh copy of the seeded trail: its write phase's wall and CPU, its walks."""
    shutil.copy(trail, root / ".mlgate" / "audit.jsonl")
    stamps = root / "stamps.json"
    env = dict(os.environ, MLGATE_STAMPS=str(stamps), PYTHONPATH=os.pathsep.join((tree, str(root))))
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "mlgate_stamp"],
                          cwd=root, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"gate run failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return json.loads(stamps.read_text())


def long_trails(sizes: list[int], per_version: int, rounds: int, trees: dict[str, str]) -> None:
    results: dict[tuple[int, str], list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        seeded = {n: (Path(tmp) / f"t{n}", seed(Path(tmp) / f"t{n}", n, per_version)) for n in sizes}
        for _ in range(rounds):
            for n, (root, trail) in seeded.items():
                for name, tree in trees.items():
                    results.setdefault((n, name), []).append(write_phase(root, trail, tree))
        size = {n: trail.stat().st_size / 2**20 for n, (_, trail) in seeded.items()}
    load = os.getloadavg()
    print(f"\nA session's write phase on a long trail ({per_version} decisions per registry version): "
          f"{rounds} interleaved rounds, medians; "
          f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    for (n, name), runs in results.items():
        wall, cpu = (statistics.median(r[k] for r in runs) for k in ("wall", "cpu"))
        walks, parsed = (sorted({r[k] for r in runs}) for k in ("walks", "parsed"))
        print(f"{n:>6} prior decisions ({size[n]:.0f} MiB) {name:>10}: {wall * 1000:.0f} ms wall, "
              f"{cpu * 1000:.0f} ms CPU, {'/'.join(map(str, walks))} read(s) of the trail, "
              f"{'/'.join(map(str, parsed))} lines parsed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trail", nargs="*", type=int, default=[2000, 10000])
    parser.add_argument("--per-version", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--compare", default=None, help="another checkout to run interleaved")
    args = parser.parse_args()
    renders()
    here = str(Path(__file__).resolve().parents[1])
    trees = {"this tree": here, **({"compared": str(Path(args.compare).resolve())} if args.compare else {})}
    if args.trail:
        long_trails(args.trail, args.per_version, args.rounds, trees)


if __name__ == "__main__":
    main()
