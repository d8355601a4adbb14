"""Start-up cost of the plugin in a project with no mlgate configuration.

A trivial test file (one passing test, no ``[tool.mlgate]``, no ``mlgate_*`` ini keys) is run
with ``python -m pytest`` 20 times with the plugin installed and 20 times with
``-p no:mlgate``, interleaved so both see the same machine load. Prints the median wall time of
each and their ratio (target: at most 1.05x).

    python benchmarks/bench_startup.py [--runs 20]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEST = "def test_trivial():\n    assert 1 + 1 == 2\n"


def run(folder: Path, *extra: str) -> float:
    """Wall time of one pytest run in a fresh interpreter; fails loudly if pytest does."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra, "test_trivial.py"]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"pytest failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return seconds


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
    with_plugin, without = statistics.median(plugin), statistics.median(bare)
    print(f"trivial pytest run, {args.runs} interleaved runs each (median wall time):")
    print(f"  plugin installed, no configuration: {with_plugin * 1000:.0f} ms")
    print(f"  -p no:mlgate:                       {without * 1000:.0f} ms")
    print(f"  ratio: {with_plugin / without:.3f}x (target <= 1.05x)")


if __name__ == "__main__":
    main()
