"""Explainability gates: cached permutation importance, forbidden drivers, ranking agreement,
monotonicity by partial dependence and complexity bounds."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pytest_mlgate.checks import explainability as E
from pytest_mlgate.config import build
from pytest_mlgate.decision import FAILED, NOT_APPLICABLE, PASSED
from pytest_mlgate.errors import ConfigError, MlgateError
from pytest_mlgate.evaluate.models import Dataset, ModelUnderTest

FEATURES = ["income", "debt", "age", "sex_m"]
TREE = "sklearn.tree._tree.Tree"


def frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = pd.DataFrame({c: rng.normal(0, 1, n) for c in ("income", "debt", "age")})
    data["sex"] = rng.choice(["f", "m"], n)
    data["sex_m"] = (data["sex"] == "m").astype(float)
    return data


def labels(data: pd.DataFrame, weights: dict[str, float], seed: int) -> np.ndarray:
    logit = sum(w * data[c] for c, w in weights.items())
    return (np.random.default_rng(seed).random(len(data)) < 1 / (1 + np.exp(-logit))).astype(int)


@pytest.fixture(scope="module")
def explain_artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Models whose drivers are known by construction, and a holdout they are judged on."""
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    root = tmp_path_factory.mktemp("explain")
    train, holdout = frame(3000, 21), frame(1500, 22)
    plans = {
        # income > debt > age: the baseline's ranking
        "ranked": {"income": 2.5, "debt": -1.5, "age": 0.6},
        # the same features, ranking reversed
        "reordered": {"income": 0.6, "debt": -1.5, "age": 2.5},
        # the sensitive attribute drives decisions
        "sexist": {"sex_m": 3.0, "income": 0.8},
    }
    for name, weights in plans.items():
        y = labels(train, weights, seed=len(name))
        sio.dump(LogisticRegression().fit(train[FEATURES], y), root / f"{name}.skops")
    # the recorded outcomes carry the historical bias the "sexist" model learnt
    holdout["defaulted"] = labels(holdout, {**plans["ranked"], "sex_m": 1.5}, seed=5)
    holdout.to_csv(root / "explain.csv", index=False)
    # A U-shaped truth learnt by a tree: partial dependence on income is not monotonic.
    u_shape = (np.abs(train["income"]) > 1).astype(int)
    sio.dump(DecisionTreeClassifier(max_depth=4, random_state=0).fit(train[FEATURES], u_shape), root / "tree.skops")
    return root


@pytest.fixture
def xproject(project, explain_artifacts):
    for path in explain_artifacts.iterdir():
        shutil.copy(path, project.path / path.name)
    return project


def load(root: Path, name: str, role: str = "candidate") -> ModelUnderTest:
    import skops.io as sio

    return ModelUnderTest(role, sio.load(root / f"{name}.skops", trusted=[TREE]))


def holdout(root: Path) -> Dataset:
    return Dataset("holdout", pd.read_csv(root / "explain.csv"), target="defaulted")


# ---------------------------------------------------------------- importance and its cache


def test_importance_ranks_known_drivers_and_is_cached(explain_artifacts):
    model, data = load(explain_artifacts, "ranked"), holdout(explain_artifacts)
    imp = E.importance(model, data, n_repeats=3)
    assert imp.ranking()[:3] == ["income", "debt", "age"]
    assert imp.scoring == "accuracy" and imp.against == "predictions" and imp.rows_used == 1500
    by_labels = E.importance(model, data, n_repeats=3, against="labels")
    assert by_labels.scoring == "roc_auc" and by_labels.ranking()[:3] == ["income", "debt", "age"]
    assert E.importance(model, data, n_repeats=3) is imp  # computed once per model and dataset
    assert E.importance(model, holdout(explain_artifacts), n_repeats=3) is not imp
    table = imp.table()
    assert [r["rank"] for r in table] == [1, 2, 3, 4] and table[0]["feature"] == "income"


def test_large_datasets_are_subsampled_with_a_fixed_seed(explain_artifacts):
    model, data = load(explain_artifacts, "ranked"), holdout(explain_artifacts)
    first = E.importance(model, data, n_repeats=2, max_rows=500, seed=3)
    again = E.importance(load(explain_artifacts, "ranked"), data, n_repeats=2, max_rows=500, seed=3)
    assert first.rows_used == 500 and first.rows_total == 1500
    np.testing.assert_allclose(first.mean, again.mean)
    check = E.forbidden_drivers(first, ["sex_m"], 2, dataset="holdout", role="candidate")
    assert check.details["subsampled"] is True and check.details["rows_used"] == 500


# ---------------------------------------------------------------- forbidden drivers


def test_forbidden_feature_in_top_k_fails(explain_artifacts):
    imp = E.importance(load(explain_artifacts, "sexist"), holdout(explain_artifacts), n_repeats=3)
    check = E.forbidden_drivers(imp, ["sex", "sex_m"], 3, dataset="holdout", role="candidate")
    assert check.outcome == FAILED
    rank = check.details["top"].index("sex_m") + 1
    assert rank <= 2 and f"'sex_m' rank {rank} (importance" in check.message and "top-3" in check.message
    assert check.details["found"] == ["sex_m"] and check.details["table"][rank - 1]["feature"] == "sex_m"


def test_reliance_the_labels_do_not_justify_is_still_a_driver(explain_artifacts):
    # Outcomes that do not depend on sex: shuffling sex_m costs no accuracy against the labels,
    # yet it flips many of the model's decisions.
    data = holdout(explain_artifacts)
    data.frame["defaulted"] = labels(data.frame, {"income": 2.5, "debt": -1.5, "age": 0.6}, seed=9)
    model = load(explain_artifacts, "sexist")
    by_labels = E.importance(model, data, n_repeats=3, against="labels")
    by_outputs = E.importance(model, data, n_repeats=3)
    assert by_labels.of("sex_m") < 0.02 < 0.1 < by_outputs.of("sex_m")
    assert E.forbidden_drivers(by_outputs, ["sex_m"], 2, dataset="holdout", role="candidate").outcome == FAILED
    assert E.forbidden_drivers(by_labels, ["sex_m"], 1, dataset="holdout", role="candidate").outcome == PASSED


def test_unimportant_forbidden_feature_passes(explain_artifacts):
    imp = E.importance(load(explain_artifacts, "ranked"), holdout(explain_artifacts), n_repeats=3)
    check = E.forbidden_drivers(imp, ["sex_m"], 2, dataset="holdout", role="candidate")
    assert check.outcome == PASSED, check.message


# ---------------------------------------------------------------- ranking agreement


def test_reordered_ranking_disagrees_and_same_ranking_agrees(explain_artifacts):
    data = holdout(explain_artifacts)
    base = E.importance(load(explain_artifacts, "ranked", "baseline"), data, n_repeats=3)
    moved = E.importance(load(explain_artifacts, "reordered"), data, n_repeats=3)
    same = E.importance(load(explain_artifacts, "ranked"), data, n_repeats=3)
    bad = E.ranking_agreement(moved, base, min_correlation=0.7, method="spearman", dataset="holdout")
    assert bad.outcome == FAILED and bad.candidate < 0.7
    assert "baseline's ['income', 'debt', 'age']" in bad.message
    assert "candidate's top drivers ['income'" not in bad.message
    good = E.ranking_agreement(same, base, min_correlation=0.7, method="kendall", dataset="holdout")
    assert good.outcome == PASSED and good.candidate == pytest.approx(1.0)


# ---------------------------------------------------------------- monotonicity


def test_non_monotonic_model_fails_monotonicity(explain_artifacts):
    data = holdout(explain_artifacts)
    check = E.monotonicity(load(explain_artifacts, "tree"), data, "income", "increasing")
    assert check.outcome == FAILED and check.candidate > 0.1
    assert "moves the wrong way by" in check.message and "between income=" in check.message
    assert len(check.details["table"]) >= 10


def test_monotonic_model_passes_in_the_declared_directions(explain_artifacts):
    data, model = holdout(explain_artifacts), load(explain_artifacts, "ranked")
    assert E.monotonicity(model, data, "income", "increasing").outcome == PASSED
    assert E.monotonicity(model, data, "debt", "decreasing").outcome == PASSED
    assert E.monotonicity(model, data, "debt", "increasing").outcome == FAILED


def test_monotonicity_on_a_feature_the_model_does_not_use_is_an_error(explain_artifacts):
    with pytest.raises(MlgateError, match="'salary' is not a feature of model 'candidate'"):
        E.monotonicity(load(explain_artifacts, "ranked"), holdout(explain_artifacts), "salary", "increasing")


# ---------------------------------------------------------------- complexity


def test_complexity_measures_trees_and_linear_models(explain_artifacts):
    tree = load(explain_artifacts, "tree")
    measured = E.complexity_of(tree.model)
    depth = tree.model.get_depth()
    used = int(np.count_nonzero(tree.model.feature_importances_))
    assert measured == {"features": used, "depth": depth, "estimators": 1} and 2 <= depth <= 4
    assert E.complexity_of(load(explain_artifacts, "ranked").model) == {"features": 4, "depth": None,
                                                                          "estimators": None}
    checks = E.complexity(tree, {"depth": 1, "features": 10, "estimators": None}, risk="high", force=False)
    assert [c.outcome for c in checks] == [FAILED, PASSED]
    assert checks[0].message == f"depth[candidate] {depth} > 1 (risk high)"
    (skipped,) = E.complexity(tree, {"depth": 1}, risk="medium", force=False)
    assert skipped.outcome == NOT_APPLICABLE and "risk is 'medium'" in skipped.message
    assert E.complexity(tree, {"depth": 1}, risk="medium", force=True)[0].outcome == FAILED


# ---------------------------------------------------------------- configuration


def test_explain_config_errors_name_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"\[tool.mlgate.explain\] key 'monotonic'"):
        E.explain_config(build(tmp_path, {"explain": {"monotonic": {"income": "up"}}}))
    with pytest.raises(ConfigError, match=r"\[tool.mlgate.explain\] key 'top_k'"):
        E.explain_config(build(tmp_path, {"explain": {"top_k": 0}}))
    with pytest.raises(ConfigError, match=r"unknown key 'topk'"):
        E.explain_config(build(tmp_path, {"explain": {"topk": 3}}))
    cfg = E.explain_config(build(tmp_path, {"explain": {"proxies": ["zip"], "monotonic": {"income": "increasing"}}}))
    assert cfg.proxies == ("zip",) and cfg.monotonic == {"income": "increasing"} and cfg.top_k == 5


# ---------------------------------------------------------------- end to end


EXPLAIN = """skops_trusted = ["sklearn.tree._tree.Tree"]
[tool.mlgate.explain]
proxies = ["sex_m"]
top_k = 2
n_repeats = 3
monotonic = { income = "increasing", debt = "decreasing" }
max_depth = 3
"""


def test_forbidden_driver_and_monotonicity_gates_end_to_end(xproject):
    xproject.configure(candidate="sexist.skops", baseline=None, datasets='holdout = "explain.csv"',
                       extra='risk = "high"\n' + EXPLAIN)
    xproject.gates("""
def test_no_sensitive_drivers(mlgate):
    mlgate.no_forbidden_drivers()

def test_declared_monotonic(mlgate):
    mlgate.monotonic()

def test_complexity(mlgate):
    mlgate.complexity()
""")
    result = xproject.run()
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*forbidden drivers in top-2[[]candidate[]]: 'sex_m' rank *"])
    checks = {c["name"]: c for g in xproject.decision["gates"] for c in g["checks"]}
    forbidden = checks["forbidden drivers in top-2[holdout, candidate]"]
    assert forbidden["kind"] == "explainability" and forbidden["details"]["forbidden"] == ["sex", "sex_m"]
    assert forbidden["outcome"] == "failed" and "sex_m" in forbidden["details"]["top"]
    assert checks["monotonic income increasing[holdout, candidate]"]["outcome"] == "passed"
    assert checks["monotonic debt decreasing[holdout, candidate]"]["outcome"] == "passed"
    assert checks["depth[candidate]"]["outcome"] == "not_applicable"  # a linear model has no depth
    assert xproject.decision["decision"] == "rejected"


def test_reordered_importance_ranking_needs_review(xproject):
    xproject.configure(candidate="reordered.skops", baseline="ranked.skops", datasets='holdout = "explain.csv"',
                       extra=EXPLAIN)
    xproject.gates("""
import pytest

@pytest.mark.gate(severity="review")
def test_drivers_unchanged(mlgate):
    mlgate.importance_agrees(0.7)
""")
    result = xproject.run()
    result.assert_outcomes(failed=1)
    assert xproject.decision["decision"] == "needs-review"
    assert result.ret == 6
    (check,) = xproject.decision["gates"][0]["checks"]
    assert check["outcome"] == "failed" and check["candidate"] < 0.7
    assert {r["feature"] for r in check["details"]["table"]} == set(FEATURES)


def test_non_monotonic_candidate_is_rejected_end_to_end(xproject):
    xproject.configure(candidate="tree.skops", baseline="ranked.skops", datasets='holdout = "explain.csv"',
                       extra=EXPLAIN)
    xproject.gates("""
def test_income_monotonic(mlgate):
    mlgate.monotonic("income", "increasing")

def test_debt_monotonic(mlgate):
    mlgate.monotonic("debt", "decreasing")
""")
    result = xproject.run()
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        ["*monotonic income increasing[[]candidate[]]: partial dependence moves the wrong way*"])
    assert xproject.decision["decision"] == "rejected"
