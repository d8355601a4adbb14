"""alibi-detect as a drift backend (the ``drift`` extra): detectors by name or configured objects.

Univariate detectors run once per feature on its non-null values, so the p-values are corrected
across features by mlgate as in the scipy backend; multivariate detectors (ClassifierDrift,
MMDDrift, LSDDDrift) test all features jointly on the rows without missing values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pytest_mlgate.errors import MlgateError

if TYPE_CHECKING:
    from pytest_mlgate.checks.drift_stats import DriftOptions, Feature, Results

INSTALL = "pip install pytest-mlgate[drift]"
#: Named univariate detectors and the features each one tests.
UNIVARIATE = {"KSDrift": ("numeric",), "CVMDrift": ("numeric",), "ChiSquareDrift": ("categorical",),
              "FETDrift": ("binary",), "TabularDrift": ("numeric", "categorical")}
MULTIVARIATE = ("ClassifierDrift", "MMDDrift", "LSDDDrift")
METHODS = (*UNIVARIATE, *MULTIVARIATE)


def cd_module(method: Any) -> Any:
    """``alibi_detect.cd``, or a one-line error naming the extra to install."""
    try:
        import alibi_detect.cd as cd
    except ImportError:
        raise MlgateError(f"drift: method {_name(method)!r} needs alibi-detect: {INSTALL}") from None
    return cd


def results(prepared: list[Feature], frames: tuple[pd.DataFrame, pd.DataFrame], options: DriftOptions) -> Results:
    """Run the alibi-detect method of ``options`` on the prepared features."""
    from pytest_mlgate.checks.drift_stats import Results

    method = options.method
    if isinstance(method, str) and method not in METHODS:
        raise MlgateError(f"drift: unknown method {method!r} (scipy: ks, cvm; alibi-detect: {', '.join(METHODS)})")
    cd = cd_module(method)
    if not isinstance(method, str):
        return _configured(method, prepared, frames)
    if method in MULTIVARIATE:
        return _joint(method, _detector(cd, method, options), prepared, frames, options)
    tests = {}
    for feature in prepared:
        found = _univariate(cd, method, feature, options)
        if found is not None:
            tests[feature.name] = found
    return Results(tests)


def _univariate(cd: Any, method: str, feature: Feature, options: DriftOptions) -> tuple[str, float, float] | None:
    kinds = UNIVARIATE[method]
    if "binary" in kinds:
        if not feature.binary:
            return None
    elif feature.kind not in kinds:
        return None
    ref, cur = feature.ref, feature.cur
    kwargs: dict[str, Any] = {"p_val": options.alpha}
    if method == "FETDrift":
        high = max(ref.max(), cur.max())
        ref, cur = (ref == high).astype(int), (cur == high).astype(int)
        kwargs["alternative"] = "two-sided"
    elif method in ("TabularDrift", "ChiSquareDrift"):
        kwargs["categories_per_feature"] = {0: len(feature.labels)} if feature.kind == "categorical" else {}
    detector = getattr(cd, method)(ref.reshape(-1, 1), **kwargs)
    p_values, distances = detector.score(cur.reshape(-1, 1))
    return method, float(np.ravel(distances)[0]), float(np.ravel(p_values)[0])


def _detector(cd: Any, method: str, options: DriftOptions) -> Any:
    """A factory ``x_ref -> detector`` for a multivariate method, checking its backend first."""
    if method == "ClassifierDrift":
        from sklearn.ensemble import RandomForestClassifier

        # out-of-bag predictions: one fit, every row scored by trees that did not see it
        model = RandomForestClassifier(n_estimators=100, min_samples_leaf=5, random_state=options.seed)
        return lambda x_ref: cd.ClassifierDrift(x_ref, model=model, backend="sklearn", p_val=options.alpha,
                                                use_oob=True, seed=options.seed)
    from alibi_detect.utils.frameworks import has_pytorch, has_tensorflow

    if not (has_pytorch or has_tensorflow):
        raise MlgateError(f"drift: method {method!r} needs a torch or tensorflow backend for alibi-detect "
                          "(pip install torch), or use ClassifierDrift or TabularDrift")
    backend = "pytorch" if has_pytorch else "tensorflow"
    return lambda x_ref: getattr(cd, method)(x_ref, backend=backend, p_val=options.alpha)


def _matrices(prepared: list[Feature], frames: tuple[pd.DataFrame, pd.DataFrame]) -> tuple[np.ndarray, np.ndarray]:
    """Row-aligned float matrices of the prepared features (categories as codes), rows with nulls dropped."""
    names = [f.name for f in prepared]
    ref, cur = (frame[names].dropna() for frame in frames)
    if ref.empty or cur.empty:
        raise MlgateError("drift: no rows without missing values to test features jointly")
    columns = []
    for feature in prepared:
        if feature.kind == "categorical":
            codes = pd.Categorical(pd.concat([ref[feature.name], cur[feature.name]]).astype(object),
                                   categories=feature.labels).codes
            columns.append(codes.astype(float))
        else:
            columns.append(np.concatenate([ref[feature.name], cur[feature.name]]).astype(float))
    both = np.column_stack(columns).astype(np.float32)
    return both[:len(ref)], both[len(ref):]


def _joint(method: str, factory: Any, prepared: list[Feature], frames: tuple[pd.DataFrame, pd.DataFrame],
           options: DriftOptions) -> Results:
    x_ref, x_cur = _matrices(prepared, frames)
    result = _predict(factory(x_ref), x_cur, method)
    return _joint_results(method, result, prepared, len(x_ref), len(x_cur))


def _joint_results(method: str, result: dict[str, Any], prepared: list[Feature], n_ref: int, n_cur: int) -> Results:
    from pytest_mlgate.checks.drift_stats import Results

    data = result["data"]
    largest = max(prepared, key=lambda f: f.row["psi"])
    row = {"feature": f"joint({', '.join(f.name for f in prepared)})", "kind": "joint", "test": method,
           "statistic": float(np.ravel(data.get("distance", np.nan))[0]), "p_value": float(np.ravel(data["p_val"])[0]),
           "threshold": float(data["threshold"]), "rows_reference": n_ref, "rows_current": n_cur,
           "largest_shift": f"{largest.name} psi {largest.row['psi']:.3f}", "drifted": bool(data["is_drift"]),
           "outcome": "drifted" if data["is_drift"] else "stable"}
    return Results(joint=row)


def _configured(detector: Any, prepared: list[Feature], frames: tuple[pd.DataFrame, pd.DataFrame]) -> Results:
    """A user's configured detector on the current rows of the features, as a float matrix."""
    from alibi_detect.base import BaseDetector

    from pytest_mlgate.checks.drift_stats import Results

    if not isinstance(detector, BaseDetector):
        raise MlgateError(f"drift: method must be ks, cvm, an alibi-detect detector name or a configured "
                          f"alibi-detect detector, got {type(detector).__name__}")
    categorical = [f.name for f in prepared if f.kind == "categorical"]
    if categorical:
        raise MlgateError(f"drift: a configured {type(detector).__name__} takes numeric features only; "
                          f"{categorical} are categorical (choose features=)")
    name = type(detector).__name__
    x_cur = frames[1][[f.name for f in prepared]].dropna().to_numpy(dtype=np.float32)
    result = _predict(detector, x_cur, name)
    p_values = np.ravel(result["data"]["p_val"])
    if p_values.size == 1 and len(prepared) > 1 or not hasattr(detector, "feature_score"):
        return _joint_results(name, result, prepared, len(getattr(detector, "x_ref", [])), len(x_cur))
    if p_values.size != len(prepared):
        raise MlgateError(f"drift: configured {name} returned {p_values.size} p-values for {len(prepared)} features")
    distances = np.ravel(result["data"].get("distance", np.full(p_values.size, np.nan)))
    tests = {f.name: (name, float(d), float(p)) for f, d, p in zip(prepared, distances, p_values)}
    return Results(tests, threshold=float(result["data"]["threshold"]))


def _predict(detector: Any, x: np.ndarray, name: str) -> dict[str, Any]:
    try:
        return detector.predict(x)
    except Exception as exc:  # a detector fails in many ways; report it as one line
        raise MlgateError(f"drift: {name} failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")\
            from None


def _name(method: Any) -> str:
    return method if isinstance(method, str) else type(method).__name__
