"""Start-up cost of the plugin in a project with no mlgate configuration.

A trivial test file (one passing test, no ``[tool.mlgate]``, no ``mlgate_*`` ini keys) is run
with ``python -m pytest`` 20 times with the plugin installed and 20 times with
``-p no:mlgate``, interleaved so both see the same machine load. Prints the median wall time and
the median CPU time (user + system of the pytest process) of each, and their ratios (target: at
most 1.05x). On a shared machine the CPU time is the steadier figure: wall time also counts the
time other jobs held the cores.

    python benchmarks/bench_startup.py [--runs 20]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEST = "def test_trivial():\n    assert 1 + 1 == 2\n"


def run(folder: Path, *extra: str) -> tuple[float, float]:
    """(wall, CPU) seconds of one pytest run in a fresh interpreter; fails loudly if pytest does."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra, "test_trivial.py"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"pytest failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return seconds, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="runs of each variant (default 20)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "test_trivial.py").write_text(TEST)
        (folder / "pytest.ini").write_text("[pytest]\n")  # a rootdir of its own: no project config
        run(folder)  # warm the file cache and bytecode once, untimed
        run(folder, "-p", "no:mlgate")
        plugin, bare = [], []
        for _ in range(args.runs):
            plugin.append(run(folder))
            bare.append(run(folder, "-p", "no:mlgate"))
    print(f"trivial pytest run, {args.runs} interleaved runs each (medians):")
    for i, what in enumerate(("wall time", "CPU time")):
        with_plugin = statistics.median(r[i] for r in plugin)
        without = statistics.median(r[i] for r in bare)
        print(f"  {what}: plugin installed, no configuration {with_plugin * 1000:.0f} ms; "
              f"-p no:mlgate {without * 1000:.0f} ms; ratio {with_plugin / without:.3f}x (target <= 1.05x)")

if __name__ == "__main__":
    main()
