"""Shadow comparison before promotion: replay recorded production requests to two models.

A sample of the requests in the prediction log (``[tool.mlgate.shadow]``) is sent to the
candidate and to the production model in-process: all at once for their outputs (row by row when
a batch raises, so each failing request is known), and one request at a time, interleaved, for
latency, so both models see the same machine load. The checks in
:mod:`pytest_mlgate.checks.shadow` then compare them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from pytest_mlgate.errors import ConfigError, MlgateError
from pytest_mlgate.evaluate.models import Dataset, ModelUnderTest

if TYPE_CHECKING:
    import pandas as pd

    from pytest_mlgate.config import Settings
    from pytest_mlgate.evaluate.workspace import Workspace

KEYS = {"log": None, "window": "7d", "sample": 1000, "latency_requests": 200, "model_version": None}


@dataclass
class Replay:
    """One model's answers to the replayed requests: score (positive-class probability, or the
    value of a regressor; NaN where it failed), label, per-row error and per-request latency."""

    role: str
    score: np.ndarray
    label: np.ndarray
    errors: list[str | None]
    latency_ms: np.ndarray

    @property
    def failed(self) -> np.ndarray:
        return np.array([e is not None for e in self.errors], dtype=bool)


@dataclass
class ShadowRun:
    """The replayed sample: request ids, the candidate's and production's replays, the source."""

    request_ids: np.ndarray
    candidate: Replay
    production: Replay
    source: str
    logged_rows: int


def shadow_options(settings: Settings) -> dict[str, Any]:
    """``[tool.mlgate.shadow]`` with defaults; a one-line ConfigError for a bad key or value."""
    table = settings.section("shadow")
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        raise ConfigError(f"mlgate config: [tool.mlgate.shadow] unknown key(s) {unknown} (known: {', '.join(KEYS)})")
    found = {**KEYS, **table}
    for key in ("sample", "latency_requests"):
        if isinstance(found[key], bool) or not isinstance(found[key], int) or not 1 <= found[key] <= 10**7:
            raise ConfigError(f"mlgate config: [tool.mlgate.shadow] {key} must be a positive integer, got {found[key]!r}")
    if not found["log"]:
        raise ConfigError("mlgate config: [tool.mlgate.shadow] log is not set: name the prediction log to replay "
                          "(e.g. log = \"logs/predictions.sqlite\")")
    return found


def shadow_run(workspace: Workspace) -> ShadowRun:
    """Replay a seeded sample of the logged requests to the candidate and the production model."""
    from pytest_mlgate.monitoring.window import META, read_window

    settings = workspace.settings
    options = shadow_options(settings)
    candidate, production = workspace.model("candidate"), workspace.model("baseline")
    if candidate is None or production is None:
        raise MlgateError("shadow: needs a candidate and a production model ([tool.mlgate] candidate and baseline)")
    path = settings.path(options["log"])
    frame = read_window(path, window=options["window"], model_version=options["model_version"])
    logged = len(frame)
    if not logged:
        raise MlgateError(f"shadow: no logged requests in {path} within {options['window']}")
    if logged > options["sample"]:
        frame = frame.sample(options["sample"], random_state=settings.seed).reset_index(drop=True)
    features = frame.drop(columns=[c for c in META if c in frame.columns])
    data = Dataset("shadow", features)
    rng = np.random.default_rng(settings.seed)
    picked = rng.choice(len(frame), min(options["latency_requests"], len(frame)), replace=False)
    timing = time_requests([candidate, production], data, picked)
    replays = [replay(m, data, ms) for m, ms in zip((candidate, production), timing)]
    return ShadowRun(frame["request_id"].to_numpy(), replays[0], replays[1], str(path), logged)


def _outputs(model: ModelUnderTest, data: Dataset) -> tuple[np.ndarray, np.ndarray]:
    if model.is_classifier:
        score = model.score(data)
        if score.ndim != 1:
            score = score.max(axis=1)
        return np.asarray(score, dtype=float), np.asarray(model.predict(data), dtype=object)
    value = np.asarray(model.predict(data), dtype=float)
    return value, value.astype(object)


def replay(model: ModelUnderTest, data: Dataset, latency_ms: np.ndarray) -> Replay:
    """The model's outputs for every row; when the batch raises, row by row to find the failures."""
    try:
        score, label = _outputs(model, data)
        return Replay(model.role, score, label, [None] * len(data), latency_ms)
    except MlgateError:
        pass
    scores, labels, errors = [], [], []
    for i in range(len(data)):
        row = Dataset(f"{data.name}[{i}]", data.frame.iloc[[i]])
        try:
            s, lab = _outputs(model, row)
            scores.append(s[0])
            labels.append(lab[0])
            errors.append(None)
        except MlgateError as exc:
            scores.append(np.nan)
            labels.append(None)
            errors.append(str(exc).split(": ", 1)[-1][:200])
    return Replay(model.role, np.array(scores, dtype=float), np.array(labels, dtype=object), errors, latency_ms)


def _features(data: Dataset, model: ModelUnderTest) -> pd.DataFrame | None:
    try:
        return data.features_for(model.model, model.role)
    except MlgateError:  # a column the model needs was not logged: every request fails, none is timed
        return None


def time_requests(models: list[ModelUnderTest], data: Dataset, rows: np.ndarray) -> list[np.ndarray]:
    """Milliseconds per single-row request for each model, interleaved (alternating which goes
    first) so that load on the machine falls on both alike; a request that raises is not timed."""
    method = {id(m): "predict_proba" if hasattr(m.model, "predict_proba") else "predict" for m in models}
    times: list[list[float]] = [[] for _ in models]
    features = [_features(data, m) for m in models]
    for n, i in enumerate(rows):
        order = list(range(len(models)))[::(1 if n % 2 == 0 else -1)]
        for k in (k for k in order if features[k] is not None):
            model, row = models[k], features[k].iloc[[int(i)]]
            start = time.perf_counter()
            try:
                getattr(model.model, method[id(model)])(row)
            except Exception:  # noqa: BLE001 - a failing request is counted by the error-rate check
                continue
            times[k].append((time.perf_counter() - start) * 1000)
    return [np.array(t) for t in times]

