"""Scale: in-memory, warm, streamed and Dask gate runs against the bare work, in one run.

Synthetic data written to disk as partitioned Parquet (files of 200,000 rows): 25 numeric columns
(one with 1% missing values) and a binary target, a holdout and a reference of the same size, a
logistic candidate and baseline. The gate file is the peer benchmark's: five metrics per model,
``no_regression`` on ROC AUC, drift on every column, null counts. The bare work is what a script
would do by hand: read both datasets with pandas, one ``predict_proba`` per model, the same metrics
with scikit-learn, ``scipy.stats.ks_2samp`` and a null count per column.

Every measurement runs in a fresh process (its wall time and peak RSS), interleaved over rounds;
medians are printed with the ratios the targets are stated in: cold and warm runs against the bare
work on the same rows, a streamed run against the bare work's median cost per row (over the sizes
it ran at) times its rows, the Dask engine against the streamed run. Run:
``python benchmarks/bench_scale.py [ROWS ...] [--rounds R] [--stream ROWS ...] [--data DIR]``
(defaults: 200000 1000000 in memory, 1000000 2000000 streamed, 3 rounds; ``--data`` keeps the
generated Parquet for the next run; the bare work also runs on streamed sizes up to ``--bare-max``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

FEATURES = [f"x{i}" for i in range(25)]
PART_ROWS = 200_000

GATES = """
METRICS = ["accuracy", "precision", "recall", "f1", "roc_auc"]

def test_metrics(candidate, baseline, holdout):
    for name in METRICS:
        assert candidate.metric(name, holdout) > 0.5
        assert baseline.metric(name, holdout) > 0.5

def test_no_regression(mlgate):
    mlgate.no_regression("roc_auc", max_absolute_drop=0.05)

def test_drift(mlgate):
    mlgate.no_drift("reference", "holdout")

def test_nulls(mlgate):
    mlgate.no_missing("holdout", max_rate=0.05)
"""

BARE = """
import sys, numpy as np, pandas as pd, skops.io as sio
from scipy import stats
from sklearn import metrics
root = sys.argv[1]
holdout, reference = pd.read_parquet(root + "/holdout"), pd.read_parquet(root + "/reference")
features = [c for c in holdout.columns if c != "y"]
for name in ("candidate", "baseline"):
    model = sio.load(root + f"/{name}.skops")
    score = model.predict_proba(holdout[list(model.feature_names_in_)])[:, 1]
    label = (score >= 0.5).astype(int)
    y = holdout["y"].to_numpy()
    for fn in (metrics.accuracy_score, metrics.precision_score, metrics.recall_score, metrics.f1_score):
        fn(y, label)
    metrics.roc_auc_score(y, score)
for column in features:
    stats.ks_2samp(reference[column].dropna(), holdout[column].dropna())
holdout.isna().sum()
"""

RUNNER = """
import resource, sys, time, pytest
start = time.perf_counter()
code = pytest.main(["-q", "-p", "no:cacheprovider", sys.argv[1]] + sys.argv[2:])
wall = time.perf_counter() - start
print("RESULT", code, wall, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

BARE_RUNNER = """
import resource, runpy, sys, time
sys.argv = sys.argv[1:]
start = time.perf_counter()
runpy.run_path(sys.argv[0], run_name="__main__")
print("RESULT", 0, time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def dataset(base: Path, rows: int) -> Path:
    """The data of ``rows`` rows under ``base``: reused when a previous run completed it, else written."""
    import shutil

    root = base / f"n{rows}"
    if not (root / ".complete").is_file():
        shutil.rmtree(root, ignore_errors=True)
        write_data(root, rows)
        (root / ".complete").write_text("")
    for stale in (".mlgate", "reports"):  # no cache or audit trail from an earlier run
        shutil.rmtree(root / stale, ignore_errors=True)
    return root


def write_data(root: Path, rows: int) -> None:
    """Holdout and reference parts and two fitted models (seeded)."""
    import numpy as np
    import pandas as pd
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    weights = rng.normal(0, 1, len(FEATURES))
    for name in ("holdout", "reference"):
        (root / name).mkdir(parents=True)
        for start in range(0, rows, PART_ROWS):
            n = min(PART_ROWS, rows - start)
            x = rng.normal(0, 1, (n, len(FEATURES)))
            frame = pd.DataFrame(x, columns=FEATURES)
            frame["y"] = (rng.random(n) < 1 / (1 + np.exp(-(x @ weights) / 3))).astype(int)
            frame.loc[rng.random(n) < 0.01, "x24"] = np.nan
            frame.to_parquet(root / name / f"part-{start // PART_ROWS:04d}.parquet", index=False)
    train = pd.read_parquet(next((root / "reference").iterdir())).dropna()
    for name, columns in (("candidate", FEATURES[:-1]), ("baseline", FEATURES[:12])):
        model = LogisticRegression(max_iter=200).fit(train[columns], train["y"])
        sio.dump(model, root / f"{name}.skops")


def project(root: Path, extra: str) -> Path:
    (root / "gates").mkdir(exist_ok=True)
    (root / "gates" / "test_scale.py").write_text(textwrap.dedent(GATES))
    (root / "pyproject.toml").write_text(
        '[tool.mlgate]\ncandidate = "candidate.skops"\nbaseline = "baseline.skops"\ntarget = "y"\ngates = ["gates"]\n'
        f'bootstrap = 200\ndecision = "reports/decision.json"\n{extra}\n'
        '[tool.mlgate.datasets]\nholdout = "holdout"\nreference = "reference"\n')
    return root


def measure(command: list[str], cwd: Path, name: str = "") -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MiB, exit code) of one fresh process; printed as it comes."""
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT")), None)
    if line is None:
        raise RuntimeError(f"{command} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    _, code, wall, rss = line.split()
    if name:
        print(f"measured {name}: {float(wall):.2f} s, {int(rss) / 1024:.0f} MiB, exit {code}", flush=True)
    return float(wall), int(rss) / 1024, int(code)


def gate(root: Path, extra: str, *flags: str) -> list[str]:
    project(root, extra)
    return [sys.executable, "-c", RUNNER, str(root / "gates"), *flags]


def run(sizes: list[int], stream: list[int], rounds: int, base: Path,
        bare_max: int) -> dict[str, list[tuple[float, float, int]]]:
    results: dict[str, list[tuple[float, float, int]]] = {}
    bare = base / "bare.py"
    bare.write_text(BARE)
    roots = {rows: dataset(base, rows) for rows in sorted(set(sizes) | set(stream))}
    for rows in sizes:  # fill the warm cache once; the cold runs never read it
        measure(gate(roots[rows], 'memory_budget = "64GiB"'), roots[rows])
    for _ in range(rounds):
        for rows in sizes:
            root = roots[rows]
            plan = {
                f"bare {rows}": [sys.executable, "-c", BARE_RUNNER, str(bare), str(root)],
                f"cold {rows}": gate(root, 'memory_budget = "64GiB"', "--mlgate-no-cache"),
                f"warm {rows}": gate(root, 'memory_budget = "64GiB"'),
            }
            for name, command in plan.items():
                results.setdefault(name, []).append(measure(command, root, name))
        for rows in stream:
            root = roots[rows]
            for name, extra in ((f"stream {rows}", 'memory_budget = "256MiB"'),
                                (f"dask {rows}", 'memory_budget = "256MiB"\nengine = "dask"')):
                results.setdefault(name, []).append(measure(gate(root, extra, "--mlgate-no-cache"), root, name))
            if rows <= bare_max and rows not in sizes:  # the bare work holds every row in memory
                results.setdefault(f"bare {rows}", []).append(
                    measure([sys.executable, "-c", BARE_RUNNER, str(bare), str(root)], root, f"bare {rows}"))
    return results


def summary(results: dict[str, list[tuple[float, float, int]]]) -> dict[str, dict[str, Any]]:
    """Medians per measurement and the ratios the targets are stated in."""
    median = {k: {"wall": statistics.median(w for w, _, _ in v), "rss_mib": statistics.median(r for _, r, _ in v),
                  "exit": sorted({c for _, _, c in v}), "rounds": len(v)} for k, v in results.items()}
    bares = {int(k.split()[1]): m["wall"] for k, m in median.items() if k.startswith("bare ")}
    per_row = statistics.median(wall / rows for rows, wall in bares.items()) if bares else None
    for name, found in median.items():
        kind, rows = name.split()[0], int(name.split()[1])
        if kind in ("cold", "warm"):
            found["x_bare"] = found["wall"] / bares[rows]
        elif kind == "stream" and per_row:
            found["x_bare_per_row"] = found["wall"] / (per_row * rows)
        elif kind == "dask" and f"stream {rows}" in median:
            found["x_stream"] = found["wall"] / median[f"stream {rows}"]["wall"]
    if per_row:
        median["bare per row"] = {"seconds": per_row, "from_sizes": sorted(bares)}
    return median


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sizes", nargs="*", type=int, default=[200_000, 1_000_000],
                        help="in-memory sizes (0 alone: none)")
    parser.add_argument("--stream", nargs="*", type=int, default=[1_000_000, 2_000_000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data", type=Path, default=None,
                        help="keep the generated datasets here and reuse them (default: a temporary directory)")
    parser.add_argument("--bare-max", type=int, default=5_000_000,
                        help="largest streamed size that also runs the bare work in memory")
    args = parser.parse_args()
    args.sizes = [n for n in args.sizes if n]
    with tempfile.TemporaryDirectory() as tmp:
        base = args.data or Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        found = summary(run(args.sizes, args.stream, args.rounds, base, args.bare_max))
    for name, m in found.items():
        if "wall" in m:
            ratios = "  ".join(f"{k} {v:.2f}" for k, v in m.items() if k.startswith("x_"))
            print(f"{name:>16}: {m['wall']:7.2f} s  peak RSS {m['rss_mib']:7.0f} MiB  exit {m['exit']}  {ratios}")
    print(json.dumps(found, default=str))


if __name__ == "__main__":
    main()
