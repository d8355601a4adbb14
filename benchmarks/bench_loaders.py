"""Framework loaders: the gate's inference cost against the framework's own load + predict.

For each framework a model is trained natively on 20,000 rows and saved in its own format; the
holdout has ROWS rows (default 1,000,000) of 20 features whose names need quoting. Timed,
interleaved and repeated (medians reported):

- gate: what a gate run spends on the model: a Workspace locates the file (sha256), loads it
  through the built-in loader, and the candidate gives scores and labels for the holdout (one
  inference pass: labels are read off the probabilities);
- bare: the framework's own load and ``predict_proba`` (LightGBM: ``Booster.predict``, ONNX:
  ``InferenceSession.run``) on the holdout's feature columns, which gives the scores only.

Run: ``python benchmarks/bench_loaders.py [ROWS] [REPEATS] [FRAMEWORK ...]``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from pytest_mlgate.config import build
from pytest_mlgate.evaluate.models import Dataset
from pytest_mlgate.evaluate.workspace import Workspace

FEATURES = [f"feature {i}.{'µ' if i % 3 == 0 else 'x'}" for i in range(20)]


def make_data(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, len(FEATURES))), columns=FEATURES)
    logit = frame.iloc[:, :6].to_numpy() @ np.array([1.2, -0.8, 0.6, 0.5, -0.4, 0.3])
    frame["y"] = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    frame.insert(0, "id", np.arange(rows))
    return frame


def xgboost_model(train: pd.DataFrame, path: Path):
    import xgboost

    model = xgboost.XGBClassifier(n_estimators=100, max_depth=6).fit(train[FEATURES], train["y"])
    model.save_model(path / "model.json")

    def bare(frame: pd.DataFrame) -> np.ndarray:
        own = xgboost.XGBClassifier()
        own.load_model(path / "model.json")
        return own.predict_proba(frame[FEATURES])[:, 1]

    return path / "model.json", bare


def lightgbm_model(train: pd.DataFrame, path: Path):
    import lightgbm

    data = lightgbm.Dataset(train[FEATURES], train["y"])
    lightgbm.train({"objective": "binary", "num_leaves": 63, "verbose": -1}, data, 100).save_model(path / "model.txt")

    def bare(frame: pd.DataFrame) -> np.ndarray:
        return lightgbm.Booster(model_file=str(path / "model.txt")).predict(frame[FEATURES])

    return path / "model.txt", bare


def catboost_model(train: pd.DataFrame, path: Path):
    import catboost

    model = catboost.CatBoostClassifier(iterations=100, depth=6, verbose=0).fit(train[FEATURES], train["y"])
    model.save_model(str(path / "model.cbm"))

    def bare(frame: pd.DataFrame) -> np.ndarray:
        return catboost.CatBoostClassifier().load_model(str(path / "model.cbm")).predict_proba(frame[FEATURES])[:, 1]

    return path / "model.cbm", bare


def onnx_model(train: pd.DataFrame, path: Path):
    import json

    import onnx
    import onnxruntime
    from skl2onnx import to_onnx
    from sklearn.ensemble import RandomForestClassifier

    X = train[FEATURES].to_numpy(np.float32)
    forest = RandomForestClassifier(n_estimators=50, max_depth=8, n_jobs=2).fit(X, train["y"])
    proto = to_onnx(forest, X[:1], options={RandomForestClassifier: {"zipmap": False}})
    proto.metadata_props.add(key="feature_names", value=json.dumps(FEATURES))
    onnx.save(proto, str(path / "model.onnx"))

    def bare(frame: pd.DataFrame) -> np.ndarray:
        session = onnxruntime.InferenceSession(str(path / "model.onnx"), providers=["CPUExecutionProvider"])
        return session.run(["probabilities"], {"X": frame[FEATURES].to_numpy(np.float32)})[0][:, 1]

    return path / "model.onnx", bare


def gate(model_path: Path, data: Dataset) -> np.ndarray:
    candidate = Workspace(build(model_path.parent, {"candidate": model_path.name})).model("candidate")
    scores = candidate.score(data)
    candidate.predict(data)
    assert sum(candidate.calls.values()) == 1
    return scores


def measure(name: str, build_model, rows: int, repeats: int) -> None:
    train, holdout = make_data(20_000, seed=1), make_data(rows, seed=2)
    data = Dataset("holdout", holdout, "y")
    with tempfile.TemporaryDirectory() as tmp:
        model_path, bare = build_model(train, Path(tmp))
        head = holdout.iloc[:1000]
        assert np.array_equal(gate(model_path, Dataset("head", head, "y")), bare(head))  # the same numbers
        gate(model_path, data), bare(holdout)  # warm-up
        times: dict[str, list[float]] = {"gate": [], "bare": []}
        for _ in range(repeats):
            for label, run in (("gate", lambda: gate(model_path, data)), ("bare", lambda: bare(holdout))):
                start = time.perf_counter()
                run()
                times[label].append(time.perf_counter() - start)
    g, b = statistics.median(times["gate"]), statistics.median(times["bare"])
    ratios = [x / y for x, y in zip(times["gate"], times["bare"])]
    print(f"{name:9s} {rows:>9,d} rows  gate {g:7.3f} s  bare {b:7.3f} s  ratio {g / b:5.2f}x "
          f"(pairwise {min(ratios):.2f}-{max(ratios):.2f}x over {repeats} runs)")


def main(argv: list[str]) -> None:
    rows = int(argv[0]) if argv else 1_000_000
    repeats = int(argv[1]) if len(argv) > 1 else 5
    chosen = argv[2:] or ["xgboost", "lightgbm", "catboost", "onnx"]
    for name in chosen:
        measure(name, globals()[f"{name}_model"], rows, repeats)


if __name__ == "__main__":
    main(sys.argv[1:])
