"""Fixed costs of a gate run: where the time goes around the gates, against the bare work.

The data, models and gate file of ``bench_scale.py`` (25 numeric columns, a logistic candidate and
baseline, five metrics per model, ``no_regression`` on ROC AUC, drift on every column, nulls), in
memory and without the warm cache, with the JUnit, Markdown and HTML reports written. Each run is a
fresh process; a small plugin stamps the phases with wall-clock time:

- start-up: process start to the first gate;
- gates: first gate start to last gate end;
- decision: last gate end to the decision file's last write (suite listing, approvals, the
  decision rule, the audit entry);
- after the decision: the decision written to the process gone (reports, terminal summary,
  pytest's unconfigure, interpreter exit); ``reports`` is its share spent writing report files,
  and ``CPU after the decision`` the CPU seconds the process used in it (the steadier figure on a
  loaded machine: the wall time also counts the time other jobs held the cores); ``interpreter
  exit`` and ``its CPU`` the part after the exit handlers ran (Python's finalisation and the
  process torn down), which no plugin code runs in.

The bare work (``bench_scale``'s script: pandas reads, one ``predict_proba`` per model, the same
metrics, ``ks_2samp`` and null counts) runs interleaved with the gate runs; medians are printed,
with each gate run's wall time as a ratio to the bare work's. The plugin measured is the checkout
this file is in; ``--compare DIR`` runs a second checkout interleaved with it.

    python benchmarks/bench_fixed_costs.py [ROWS ...] [--rounds 5] [--compare DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_scale import BARE, project, write_data

PHASES = '''
import atexit, json, os, resource, time
import pytest

STAMPS = {"writes": []}

def cpu_used():
    used = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in used)

def exit_handlers_done():  # registered before the plugin's own: runs after them
    STAMPS["exit handlers"] = (time.time(), cpu_used())
    with open(os.environ["MLGATE_PHASES"], "w") as fh:
        json.dump(STAMPS, fh)

atexit.register(exit_handlers_done)

def pytest_configure(config):
    import pytest_mlgate.records as records
    original = records.write_atomic
    def write_atomic(path, text):
        original(path, text)
        STAMPS["writes"].append((path.name, time.time(), cpu_used()))
    records.write_atomic = write_atomic

def pytest_runtest_logstart(nodeid, location):
    STAMPS.setdefault("first_gate", time.time())

def pytest_runtest_logfinish(nodeid, location):
    STAMPS["last_gate"] = time.time()

@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    with open(os.environ["MLGATE_PHASES"], "w") as fh:
        json.dump(STAMPS, fh)
'''
REPORTS = ("junit.xml", "summary.md", "report.html")


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, float, int]:
    """(start, end) wall-clock stamps of one fresh process, its CPU seconds, and its exit status."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.time()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    end = time.time()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):
        raise SystemExit(f"{command} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return start, end, cpu, done.returncode


def gate_run(root: Path, tree: str) -> dict[str, float]:
    """One gate run's phases in seconds."""
    stamps = root / "phases.json"
    env = dict(os.environ, MLGATE_PHASES=str(stamps),
               PYTHONPATH=os.pathsep.join((tree, str(root))))
    reports = root / "reports"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "mlgate_phases",
               "--mlgate-no-cache", "--mlgate-junit", str(reports / REPORTS[0]), "--mlgate-markdown",
               str(reports / REPORTS[1]), "--mlgate-html", str(reports / REPORTS[2]), str(root / "gates")]
    start, end, cpu, code = timed(command, root, env)
    s = json.loads(stamps.read_text())
    decided, cpu_decided = max((t, c) for name, t, c in s["writes"] if name == "decision.json")
    written = max(t for _, t, _ in s["writes"])
    return {"wall": end - start, "startup": s["first_gate"] - start, "gates": s["last_gate"] - s["first_gate"],
            "decision": decided - s["last_gate"], "after the decision": end - decided,
            "reports": written - decided, "CPU after the decision": cpu - cpu_decided,
            "interpreter exit": end - s["exit handlers"][0], "its CPU": cpu - s["exit handlers"][1], "exit status": code}


def bare_run(root: Path, script: Path) -> float:
    start, end, _, _ = timed([sys.executable, str(script), str(root)], root, dict(os.environ))
    return end - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[200_000, 1_000_000])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--compare", default=None, help="another checkout to run interleaved")
    args = parser.parse_args()
    here = str(Path(__file__).resolve().parents[1])
    trees = {"this tree": here, **({"compared": str(Path(args.compare).resolve())} if args.compare else {})}
    results: dict[tuple[int, str], list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "bare.py"
        script.write_text(BARE)
        roots = {}
        for rows in args.sizes:
            roots[rows] = Path(tmp) / f"n{rows}"
            write_data(roots[rows], rows)
            project(roots[rows], 'memory_budget = "64GiB"')
            (roots[rows] / "mlgate_phases.py").write_text(PHASES)
            bare_run(roots[rows], script)  # file cache and bytecode warm, untimed
        for _ in range(args.rounds):
            for rows, root in roots.items():
                results.setdefault((rows, "bare"), []).append({"wall": bare_run(root, script)})
                for name, tree in trees.items():
                    results.setdefault((rows, name), []).append(gate_run(root, tree))
    load = os.getloadavg()
    if args.compare:
        print(f"compared: {args.compare}")
    print(f"{args.rounds} interleaved rounds, medians in seconds; load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    for (rows, name), runs in results.items():
        median = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        bare = statistics.median(r["wall"] for r in results[(rows, "bare")])
        parts = "  ".join(f"{k} {v:.3f}" for k, v in median.items() if k not in ("wall", "exit status"))
        print(f"{rows:>9} {name:>12}: wall {median['wall']:.2f} ({median['wall'] / bare:.2f}x bare)  {parts}")


if __name__ == "__main__":
    main()
