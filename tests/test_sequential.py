"""Anytime-valid monitoring: false alarms over 30 daily looks, detection of a real drop, the state file."""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest
from scipy.stats import norm, rankdata

from pytest_mlgate.monitoring.anytime import alpha_parts
from pytest_mlgate.monitoring.monitor import without_evidence
from pytest_mlgate.monitoring.sequential import alarm, rho_scaled
from pytest_mlgate.monitoring.state import Observation, StateStore

ALPHA, DAYS = 0.05, 30


def days(rng: np.random.Generator, count: int, n: int, noise: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Windows of scored, labelled traffic, one row per day; ``noise[d]`` is the share of day d's
    labels that no longer follow the score (a real drop in performance)."""
    score = rng.beta(1, 3, (count, n))
    y = rng.random((count, n)) < score
    replaced = rng.random((count, n)) < noise[:, None]
    y[replaced] = (rng.random((count, n)) < score.mean())[replaced]
    return score, y


def auc_and_se(score: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ROC AUC per row (Mann-Whitney) and its standard error (Hanley & McNeil, Radiology 1982)."""
    ranks = rankdata(score, axis=1)
    pos = y.sum(axis=1).astype(float)
    neg = y.shape[1] - pos
    auc = ((ranks * y).sum(axis=1) - pos * (pos + 1) / 2) / (pos * neg)
    q1, q2 = auc / (2 - auc), 2 * auc ** 2 / (1 + auc)
    var = (auc * (1 - auc) + (pos - 1) * (q1 - auc ** 2) + (neg - 1) * (q2 - auc ** 2)) / (pos * neg)
    return auc, np.sqrt(var)


def simulate(rng: np.random.Generator, *, change_day: int | None, noise: float, allowed: float,
             n: int = 1000) -> tuple[int | None, int | None, int | None]:
    """First alarm day of the sequential check, of a daily fixed-sample test on each day's window,
    and of a fixed-sample test on all windows so far re-run daily (``None``: never)."""
    seq_alpha, ref_alpha = alpha_parts(ALPHA, 1)
    [ref_value], [ref_se] = auc_and_se(*days(rng, 1, 2000, np.zeros(1)))
    floor = ref_value - norm.ppf(1 - ref_alpha) * ref_se - allowed
    shifted = np.zeros(DAYS) if change_day is None else np.where(np.arange(1, DAYS + 1) >= change_day, noise, 0.0)
    values, ses = auc_and_se(*days(rng, DAYS, n, shifted))
    rho = rho_scaled(7, seq_alpha, ses[0])
    weights = np.cumsum(1 / ses ** 2)
    pooled_value, pooled_se = np.cumsum(values / ses ** 2) / weights, 1 / np.sqrt(weights)
    sequential = [alarm(list(zip(values[:t], ses[:t])), alpha=seq_alpha, rho=rho, floor=floor)
                  for t in range(1, DAYS + 1)]
    daily = (values - ref_value + allowed) / np.hypot(ses, ref_se) < norm.ppf(ALPHA)
    pooled = (pooled_value - ref_value + allowed) / np.hypot(pooled_se, ref_se) < norm.ppf(ALPHA)
    return tuple(int(np.argmax(a)) + 1 if np.any(a) else None for a in (sequential, daily, pooled))


def false_alarm_rates(sims: int = 300, seed: int = 0) -> tuple[float, float, float]:
    """Share of simulated 30-day horizons without any change that raised an alarm, per method."""
    rng = np.random.default_rng(seed)
    runs = [simulate(rng, change_day=None, noise=0.0, allowed=0.0) for _ in range(sims)]
    return tuple(float(np.mean([r[k] is not None for r in runs])) for k in range(3))


def detection_delays(sims: int = 200, seed: int = 1, change_day: int = 10, noise: float = 0.3,
                     allowed: float = 0.02) -> np.ndarray:
    """Days from the change to the sequential alarm (inf: none in the horizon; <= 0: before it)."""
    rng = np.random.default_rng(seed)
    found = [simulate(rng, change_day=change_day, noise=noise, allowed=allowed)[0] for _ in range(sims)]
    return np.array([np.inf if f is None else f - change_day + 1 for f in found], dtype=float)


def test_thirty_daily_looks_without_change_keep_false_alarms_at_alpha():
    sequential, daily, pooled = false_alarm_rates()
    assert sequential <= ALPHA
    assert daily > 4 * ALPHA and pooled > ALPHA  # what looking every day costs a fixed-sample test


def test_a_real_drop_is_caught_within_days():
    # from day 10, 30% of the labels stop following the score: the AUC falls from 0.77 to 0.68
    delays = detection_delays(sims=100)
    assert not np.any(delays <= 0)  # no alarm before the change
    assert np.median(delays) <= 7 and np.percentile(delays, 90) <= 14


def test_overlapping_or_repeated_windows_are_not_folded(tmp_path):
    store = StateStore(tmp_path / "state.sqlite")
    first = store.fold("m", "sha-a", "g::live[roc_auc]", Observation(0.8, 0.02, 0.0, 100.0))
    again = store.fold("m", "sha-a", "g::live[roc_auc]", Observation(0.7, 0.02, 50.0, 150.0))
    later = store.fold("m", "sha-a", "g::live[roc_auc]", Observation(0.7, 0.02, 101.0, 200.0))
    same = store.fold("m", "sha-a", "g::file", Observation(0.7, 0.02, window_id="abc"))
    twice = store.fold("m", "sha-a", "g::file", Observation(0.7, 0.02, window_id="abc"))
    assert first.folded and later.folded and same.folded
    assert not again.folded and "overlaps" in again.reason and not twice.folded
    assert [o.look for o in later.history] == [1, 2] and [o.value for o in later.history] == [0.8, 0.7]


def test_a_new_production_model_starts_fresh_sequences(tmp_path):
    store = StateStore(tmp_path / "state.sqlite")
    assert store.fold("m", "sha-a", "s", Observation(0.8, 0.02, 0.0, 1.0)).reset_from is None
    moved = store.fold("m", "sha-b", "s", Observation(0.8, 0.02, 2.0, 3.0))
    assert moved.reset_from == "sha-a" and [o.look for o in moved.history] == [1]
    assert store.fold("m", "sha-b", "s", Observation(0.8, 0.02, 4.0, 5.0)).reset_from is None
    assert len(store.history("m", "sha-a", "s")) == 1  # the old model's history is kept


def _fold(args: tuple[str, int]) -> bool:
    path, k = args
    return StateStore(path).fold("m", "sha", "s", Observation(0.8, 0.02, 10.0 * k, 10.0 * k + 5)).folded


def test_concurrent_runs_serialise_and_lose_nothing(tmp_path):
    path = str(tmp_path / "state.sqlite")
    with multiprocessing.get_context("fork").Pool(4) as pool:
        results = pool.map(_fold, [(path, k) for k in range(12)])
    history = StateStore(path).history("m", "sha", "s")
    # each run folds unless a later window got in first; looks are contiguous and none is lost
    assert sum(results) == len(history) >= 1
    assert [o.look for o in history] == list(range(1, len(history) + 1))
    starts = [o.window_start for o in history]
    assert starts == sorted(starts)


def _record(checks: list[dict], severity: str = "block") -> dict:
    return {"decision": "rejected", "gates": [{"gate": "g", "severity": severity, "outcome": "failed",
                                               "checks": checks}]}


@pytest.mark.parametrize(("checks", "severity", "withheld"), [
    ([{"outcome": "failed", "details": {}}], "block", True),
    ([{"outcome": "failed", "details": {}}, {"outcome": "passed", "details": {"anytime_valid": True}}], "block", True),
    ([{"outcome": "failed", "details": {"anytime_valid": True}}], "warn", True),
    ([{"outcome": "failed", "details": {"anytime_valid": True}}], "block", False),
])
def test_rollback_acts_only_on_anytime_valid_evidence(tmp_path, checks, severity, withheld):
    from pytest_mlgate.config import build

    settings = build(tmp_path, {"stage": "monitor"})
    assert (without_evidence(settings, _record(checks, severity)) is not None) is withheld
    anyway = build(tmp_path, {"stage": "monitor", "monitor": {"rollback_on": "any"}})
    assert without_evidence(anyway, _record(checks, severity)) is None


def test_a_large_shift_of_the_production_score_is_evidence_either_way(tmp_path):
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from pytest_mlgate.checks.sequential import record_sequence, score_mean_statistics
    from pytest_mlgate.config import build
    from pytest_mlgate.evaluate.models import Dataset, ModelUnderTest

    rng = np.random.default_rng(5)
    x = pd.DataFrame({"a": rng.normal(0, 1, 3000)})
    model = ModelUnderTest("production", LogisticRegression().fit(x, x["a"] + rng.normal(0, 1, 3000) > 0))
    settings = build(tmp_path, {"model": "m", "stage": "monitor"})
    reference = Dataset("reference", x)
    outcomes = {}
    for shift, name in ((0.0, "same"), (1.0, "up")):
        window = Dataset(f"window-{name}", pd.DataFrame({"a": rng.normal(shift, 1, 1000)}))
        stats, alpha = score_mean_statistics(model, reference, window, settings, max_shift=0.05)
        assert [s.name for s in stats] == ["drift[score_mean_fall]", "drift[score_mean_rise]"]
        outcomes[name] = {c.name: c.outcome for c in (record_sequence(settings, model, (s, alpha), window.name,
                                                                       f"gate-{name}") for s in stats)}
    assert set(outcomes["same"].values()) == {"passed"}
    assert outcomes["up"] == {"sequential[drift score_mean_fall]": "passed",
                              "sequential[drift score_mean_rise]": "failed"}
