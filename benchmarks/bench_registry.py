"""Cost of the registry and audit trail around a gate run.

Run: ``python benchmarks/bench_registry.py``. Measures, in a temporary directory: audit appends
per second (one process, and 8 processes at once, each append fsynced under the lock), verifying
a 4,000-entry log, a promotion (lock + index rewrite + audit entry), and resolving
``registry:NAME@production`` (sha256 check of a 5 MB artifact) against opening the plain path,
as a ratio.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pytest_mlgate.config import build
from pytest_mlgate.evaluate.hashing import _HASHES
from pytest_mlgate.lifecycle.audit import AuditLog
from pytest_mlgate.lifecycle.registry import Registry, resolve_reference

WRITER = """
import sys
from pathlib import Path
from pytest_mlgate.lifecycle.audit import AuditLog
log = AuditLog(Path(sys.argv[1]))
for n in range(500):
    log.append("decision", {"n": n, "checks": [{"metric": "roc_auc", "candidate": 0.8}] * 5}, model="m")
"""


def appends(root: Path) -> None:
    log = AuditLog(root / "one.jsonl")
    start = time.perf_counter()
    for n in range(500):
        log.append("decision", {"n": n}, model="m")
    single = time.perf_counter() - start
    script = root / "writer.py"
    script.write_text(WRITER)
    start = time.perf_counter()
    writers = [subprocess.Popen([sys.executable, str(script), str(root / "many.jsonl")]) for _ in range(8)]
    assert all(w.wait() == 0 for w in writers)
    many = time.perf_counter() - start
    print(f"audit append, 1 process:  {500 / single:7.0f} entries/s ({single / 500 * 1000:.2f} ms each, fsynced)")
    print(f"audit append, 8 processes: {4000 / many:6.0f} entries/s total (4000 entries in {many:.1f} s, "
          "including interpreter start-up)")
    start = time.perf_counter()
    result = AuditLog(root / "many.jsonl").verify()
    print(f"audit verify: {result.entries} entries in {(time.perf_counter() - start) * 1000:.0f} ms, ok={result.ok}")


def registry(root: Path) -> None:
    model = root / "model.skops"
    model.write_bytes(os.urandom(5 * 1024 * 1024))
    reg = Registry(root / "reg", AuditLog(root / "audit.jsonl"))
    reg.register("m", model, owner="o")
    model.write_bytes(os.urandom(5 * 1024 * 1024))
    reg.register("m", model, owner="o")
    start = time.perf_counter()
    for i in range(100):
        reg.set_alias("m", "production", "v1" if i % 2 else "v2", by="bench", reason="bench")
    print(f"promotion (lock, index rewrite, audit entry): {(time.perf_counter() - start) * 10:.2f} ms")
    settings = build(root, {"registry": "reg"})
    path = reg.artifact("m", "production")[0]

    def timed(fn) -> float:
        best = float("inf")
        for _ in range(5):
            _HASHES.clear()  # a fresh process hashes once; measure that first hash
            start = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - start)
        return best

    plain = timed(lambda: path.read_bytes())
    ref = timed(lambda: resolve_reference("registry:m@production", settings)[0].read_bytes())
    print(f"load 5 MB artifact: plain path {plain * 1000:.1f} ms, registry:m@production {ref * 1000:.1f} ms "
          f"(ratio {ref / plain:.1f}x: index read + sha256 check)")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        appends(Path(tmp))
        registry(Path(tmp))


if __name__ == "__main__":
    main()
