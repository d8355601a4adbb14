"""Models and datasets under test: cached predictions, validated outputs and metrics by name."""

from __future__ import annotations

import contextvars
import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from pytest_mlgate.errors import MlgateError
from pytest_mlgate.evaluate import columns
from pytest_mlgate.evaluate.metrics import BUILTIN, Metric, from_cells, resolve

if TYPE_CHECKING:
    import pandas as pd

    from pytest_mlgate.evaluate.cache import Cache
    from pytest_mlgate.evaluate.sources import Artifact

#: Set by the plugin while a gate runs: receives every metric a model computes, so that a plain
#: ``assert candidate.metric(...) >= x`` is recorded as well.
observer: contextvars.ContextVar[Callable[[str, str, str, float], None] | None] = (
    contextvars.ContextVar("mlgate_observer", default=None)
)


@dataclass(eq=False)
class Dataset:
    """A named table with an optional target column."""

    name: str
    frame: pd.DataFrame
    target: str | None = None
    artifact: Artifact | None = None
    _y: np.ndarray | None = field(default=None, repr=False)
    #: columns whose type differs from the reference's (:class:`~.dtypes.Mismatch`), reported in the record
    dtype_mismatches: list[Any] = field(default_factory=list, repr=False)
    cache: Cache | None = field(default=None, repr=False)  # the warm cache, for datasets read from files

    def __len__(self) -> int:
        return len(self.frame)

    def column(self, name: str) -> pd.Series:
        """A column, or a one-line error naming the dataset and the column."""
        if name not in self.frame.columns:
            raise MlgateError(f"dataset '{self.name}': column '{name}' not found "
                              f"(columns: {columns.listing(self.frame.columns)})")
        return self.frame[name]

    def column_known(self, name: str) -> None:
        """The same one-line error as :meth:`column` when there is no such column, nothing else."""
        self.column(name)

    @property
    def y(self) -> np.ndarray:
        """The target column as an array; errors when missing or incomplete."""
        if self._y is None:
            if self.target is None:
                raise MlgateError(f"dataset '{self.name}': no target column configured ([tool.mlgate] target)")
            column = self.column(self.target)
            missing = int(column.isna().sum())
            if missing:
                raise MlgateError(f"dataset '{self.name}': target column '{self.target}' has {missing} missing values")
            self._y = column.to_numpy()
        return self._y

    def features_for(self, model: Any, role: str) -> pd.DataFrame:
        """The columns ``model`` was fitted on (``feature_names_in_``, matched as :mod:`.columns` says,
        in the model's order, under the dataset's names), else all but the target."""
        wanted = getattr(model, "feature_names_in_", None)
        if wanted is None:
            return self.frame.drop(columns=[self.target], errors="ignore") if self.target else self.frame
        wanted = list(wanted)
        found, missing = columns.match(wanted, self.frame.columns)
        if missing:
            raise MlgateError(f"model '{role}' needs {len(missing)} column(s) missing from dataset '{self.name}': "
                              f"{columns.listing(missing)} (its columns: {columns.listing(self.frame.columns)})")
        return self.frame[found]

    def remembered(self, kind: str, params: Any, compute: Callable[[], Any], *others: Dataset) -> Any:
        """``compute()``, or its value from the warm cache when it was computed before on the same
        bytes: the key is ``kind``, the fingerprints (bytes' sha256, rows, column types) and target
        columns of this dataset and of ``others``, and ``repr(params)``. Uncached when a dataset has
        no file hash."""
        datasets = (self, *others)
        key = None
        if self.cache is not None and all(getattr(d.artifact, "sha256", None) for d in datasets):
            prints = [d.fingerprint() for d in datasets]
            key = self.cache.key(kind, *(f"{p['sha256']}:{p['rows']}:{p['schema_sha256']}:{d.target}"
                                         for p, d in zip(prints, datasets)), repr(params))
            found = self.cache.get_object(key)
            if found is not None:
                return found
        value = compute()
        if key is not None:
            self.cache.put_object(key, value)
        return value

    def fingerprint(self) -> dict[str, Any]:
        """What identifies this data: file hash, shape and a hash of the column schema."""
        schema = ",".join(f"{c}:{t}" for c, t in self.frame.dtypes.astype(str).items())
        found = {
            "name": self.name,
            "path": str(self.artifact.path) if self.artifact else None,
            "sha256": self.artifact.sha256 if self.artifact else None,
            "rows": len(self.frame),
            "columns": len(self.frame.columns),
            "schema_sha256": hashlib.sha256(schema.encode()).hexdigest(),
        }
        if self.dtype_mismatches:
            found["dtype_mismatches"] = [m.to_dict() for m in self.dtype_mismatches]
        return found


class ModelUnderTest:
    """A loaded model in a role (``candidate``, ``baseline``) with cached, validated outputs.

    ``predict`` and ``predict_proba`` run at most once per dataset; ``calls`` counts them. With a
    ``threshold``, a binary classifier's labels come from ``score >= threshold`` and its
    ``predict`` is never called.
    """

    def __init__(self, role: str, model: Any, artifact: Artifact | None = None, *, positive_label: Any = 1,
                 threshold: float | None = None, timeout: float | None = None, cache: Cache | None = None,
                 loader: Callable[[], Any] | None = None, facts: dict[str, Any] | None = None):
        self.role = role
        self.cache = cache  # outputs on disk, by model and dataset sha256 (the warm cache)
        self._model, self._loader, self._facts = model, loader, facts  # ``loader``: load on first use
        self.artifact = artifact
        self.positive_label = positive_label
        self.threshold = threshold
        self.timeout = timeout
        self.calls: dict[tuple[str, str], int] = {}
        self._cache: dict[tuple[str, int], np.ndarray] = {}
        self._pinned: dict[int, Dataset] = {}  # datasets with cached outputs: their ids must not be reused
        self._values: dict[tuple[Any, int], float] = {}

    def __repr__(self) -> str:
        return f"<ModelUnderTest {self.role} {self._fact('type', lambda: type(self.model).__name__)}>"

    @property
    def model(self) -> Any:
        """The model object; one given as a ``loader`` is loaded here, on first use."""
        if self._model is None and self._loader is not None:
            self._model, self._loader = self._loader(), None
        return self._model

    @model.setter
    def model(self, value: Any) -> None:
        self._model, self._loader, self._facts = value, None, None

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def _fact(self, name: str, compute: Callable[[], Any]) -> Any:
        """What :func:`facts_of` recorded of the model while it is not loaded; else computed from it."""
        return self._facts[name] if self._model is None and self._facts else compute()

    @property
    def sha256(self) -> str | None:
        return self.artifact.sha256 if self.artifact else None

    @property
    def classes(self) -> np.ndarray | None:
        return self._fact("classes", lambda: getattr(self.model, "classes_", None))

    @property
    def pos_label(self) -> Any:
        """The configured positive label, matched to the model's own class (``"1"`` finds ``1``)."""
        classes = self.classes
        if classes is None or self.positive_label in list(classes):
            return self.positive_label
        matches = [c for c in classes if str(c) == str(self.positive_label)]
        return matches[0] if matches else self.positive_label

    @property
    def live(self) -> bool:
        """Whether there is a model to run (not so for a table of predictions scored elsewhere)."""
        return self._fact("live", lambda: bool(getattr(self.model, "mlgate_live", True)))

    @property
    def is_classifier(self) -> bool:
        return self.classes is not None or self._fact("proba", lambda: hasattr(self.model, "predict_proba"))

    def predict(self, data: Dataset) -> np.ndarray:
        """Labels (classifier) or values (regressor) for every row of ``data``.

        Labels come from the probabilities already computed, without a second inference pass,
        with a ``threshold`` (binary) or for scikit-learn classifiers whose ``predict`` is by
        definition the most probable class; otherwise from the model's own ``predict``.
        """
        classes = self.classes
        binary_threshold = self.threshold is not None and classes is not None and len(classes) == 2
        if not binary_threshold and not self._fact("most_probable", lambda: predicts_most_probable(self.model)):
            return self._cached("predict", data)
        key = ("labels", id(data))
        if key not in self._cache:
            if binary_threshold:
                other = classes[0] if classes[1] == self.pos_label else classes[1]
                self._cache[key] = np.where(self.score(data) >= self.threshold, self.pos_label, other)
            else:
                self._cache[key] = classes[np.argmax(self.predict_proba(data), axis=1)]
        return self._cache[key]

    def predict_proba(self, data: Dataset) -> np.ndarray:
        """Class probabilities, one column per class in ``classes``."""
        if not self._fact("proba", lambda: hasattr(self.model, "predict_proba")):
            raise MlgateError(f"model '{self.role}' ({type(self.model).__name__}) has no predict_proba; "
                              "use a label metric such as accuracy or f1")
        return self._cached("predict_proba", data)

    def score(self, data: Dataset) -> np.ndarray:
        """The positive class's probability for a binary classifier, else the probability matrix."""
        proba = self.predict_proba(data)
        if proba.shape[1] != 2:
            return proba
        classes = list(self.classes) if self.classes is not None else [0, 1]
        if self.pos_label not in classes:
            raise MlgateError(f"model '{self.role}': positive_label {self.positive_label!r} is not one of its "
                              f"classes {classes}; set [tool.mlgate] positive_label")
        return proba[:, classes.index(self.pos_label)]

    def output(self, data: Dataset, needs: str) -> np.ndarray:
        """What a metric needs: labels, a positive-class score, probabilities or values."""
        if needs == "score":
            return self.score(data)
        if needs == "proba":
            return self.predict_proba(data)
        return self.predict(data)

    def metric(self, metric: str | Callable[..., float] | Metric, data: Dataset, *,
               mask: np.ndarray | None = None, observe: bool = True) -> float:
        """The metric's value on ``data`` (optionally the rows where ``mask`` is true).

        Inside a gate, the value is recorded as an observed check unless ``observe`` is false.
        """
        spec = resolve(metric)
        key = (spec.fn, id(data))
        if getattr(data, "streamed", False):  # read off folded statistics; ``mask`` names a slice
            if mask is not None:
                return data.metric(self, spec, mask)
            if key not in self._values:
                self._values[key] = data.metric(self, spec)
        if mask is not None:
            return self._value(spec, data, mask)
        if key not in self._values:
            if self.sha256 is not None and BUILTIN.get(spec.name) is spec:  # a pure function of the bytes
                params = (spec.name, self.sha256, repr(self.positive_label), self.threshold)
                self._values[key] = data.remembered("metric", params, lambda: self._value(spec, data, None))
            else:
                self._values[key] = self._value(spec, data, None)
        value = self._values[key]
        record = observer.get()
        if record is not None and observe:
            record(self.role, spec.name, data.name, value)
        return value

    def _value(self, spec: Metric, data: Dataset, mask: np.ndarray | None) -> float:
        y, out = data.y, self.output(data, spec.needs)
        if mask is not None:
            y, out = y[mask], out[mask]
        try:
            value = from_cells(spec, y, out, pos_label=self.pos_label, classes=self.classes)
            return spec(y, out, pos_label=self.pos_label, classes=self.classes) if value is None else value
        except ValueError as exc:
            raise MlgateError(f"{spec.name} on model '{self.role}', dataset '{data.name}': {exc}") from None

    def _cached(self, method: str, data: Dataset) -> np.ndarray:
        key = (method, id(data))
        if key not in self._cache:
            self._pinned[id(data)] = data
            disk = self._disk_key(method, data)
            stored = self.cache.get_array(disk) if disk else None
            if stored is not None:
                self._cache[key] = _validated(stored, method, self.role, data)
                return self._cache[key]
            self.calls[(method, data.name)] = self.calls.get((method, data.name), 0) + 1
            features = data.features_for(self.model, self.role)
            try:
                raw = bounded(getattr(self.model, method), features, self.timeout,
                              f"model '{self.role}' {method} on dataset '{data.name}'")
            except MlgateError:
                raise
            except Exception as exc:  # any failure of user code must fail the gate closed
                raise MlgateError(f"model '{self.role}' {method} failed on dataset '{data.name}': "
                                  f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None
            self._cache[key] = _validated(np.asarray(raw), method, self.role, data, self.classes)
            if disk:
                self.cache.put_array(disk, self._cache[key])
        return self._cache[key]

    def _disk_key(self, method: str, data: Dataset) -> str | None:
        """The warm cache's key of this model's ``method`` outputs on ``data`` (None: not cached)."""
        if self.cache is None or self.sha256 is None or data.artifact is None or getattr(data, "streamed", False):
            return None
        found = data.fingerprint()
        return self.cache.key("outputs", method, self.sha256, found["sha256"], found["rows"], found["schema_sha256"],
                              str(data.target))  # a model without feature names is given every column but it


# scikit-learn classifiers whose predict() returns classes_[argmax(predict_proba())] (their own code,
# or an equivalent sign test on the same decision value), so labels can be read off the probabilities.
MOST_PROBABLE = frozenset({
    "CalibratedClassifierCV", "DecisionTreeClassifier", "ExtraTreeClassifier", "ExtraTreesClassifier",
    "GaussianNB", "GradientBoostingClassifier", "HistGradientBoostingClassifier", "LogisticRegression",
    "MLPClassifier", "RandomForestClassifier",
})


def facts_of(model: Any) -> dict[str, Any]:
    """What the gates ask of a model before they need its outputs, recorded so that a warm run whose
    outputs are all cached need not load it."""
    return {"type": type(model).__name__, "classes": getattr(model, "classes_", None),
            "proba": hasattr(model, "predict_proba"), "most_probable": predicts_most_probable(model),
            "live": bool(getattr(model, "mlgate_live", True))}


def predicts_most_probable(model: Any) -> bool:
    """Whether ``model`` (or a Pipeline ending in it) is such a scikit-learn classifier, or a wrapper
    that declares the same (``mlgate_labels_from_proba``, as the framework loaders do)."""
    if getattr(model, "mlgate_labels_from_proba", False):
        return True
    while type(model).__name__ == "Pipeline" and hasattr(model, "steps"):
        model = model.steps[-1][1]
    cls = type(model)
    return cls.__module__.startswith("sklearn.") and cls.__name__ in MOST_PROBABLE and hasattr(model, "classes_")


def bounded(call: Callable[[Any], Any], features: Any, timeout: float | None, what: str) -> Any:
    """``call(features)``, failing closed after ``timeout`` seconds (``[tool.mlgate] predict_timeout``).

    The call runs in a daemon thread: a hung model cannot be killed from Python, but the gate fails
    with a message instead of hanging the run, and the thread does not keep the interpreter alive.
    """
    if timeout is None:
        return call(features)
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = call(features)
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=run, name="mlgate-predict", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise MlgateError(f"{what} did not return within {timeout:g} s ([tool.mlgate] predict_timeout)")
    if "error" in box:
        raise box["error"]
    return box["value"]


PROBA_TOLERANCE = 1e-3  # rows of float32 softmax outputs sum to 1 within ~1e-6; 1e-3 leaves room


def _validated(out: np.ndarray, method: str, role: str, data: Dataset, classes: Any = None) -> np.ndarray:
    rows = data.sampled if getattr(data, "streamed", False) else len(data)  # a streamed dataset predicts its sample
    where = f"model '{role}' {method} on dataset '{data.name}'"
    if out.ndim == 2 and out.shape[1] == 1 and method == "predict":
        out = out.ravel()
    expected_ndim = 2 if method == "predict_proba" else 1
    if out.ndim != expected_ndim or out.shape[0] != rows:
        raise MlgateError(f"{where} returned shape {out.shape}, expected {rows} rows"
                          f"{' x classes' if expected_ndim == 2 else ''}")
    if out.dtype.kind in "fc":
        bad = int(np.count_nonzero(~np.isfinite(out).reshape(rows, -1).all(axis=1)))
        if bad:
            raise MlgateError(f"{where} returned NaN or infinite values in {bad} of {rows} rows")
    elif out.dtype.kind == "O":
        bad = int(np.count_nonzero(pd_isna(out)))
        if bad:
            raise MlgateError(f"{where} returned missing values in {bad} of {rows} rows")
    _check_values(out, method, where, classes)
    return out


def _check_values(out: np.ndarray, method: str, where: str, classes: Any) -> None:
    """Probabilities in [0, 1] with rows summing to 1; labels among the model's classes."""
    rows = len(out)
    if method == "predict_proba":
        if out.dtype.kind not in "fiub":
            raise MlgateError(f"{where} returned {out.dtype} values, expected probabilities")
        # float32 models (ONNX Runtime's tree ensembles) give 1 + 1e-7: rounding, not a broken model
        outside = int(np.count_nonzero(((out < -PROBA_TOLERANCE) | (out > 1 + PROBA_TOLERANCE)).any(axis=1)))
        if outside:
            raise MlgateError(f"{where} returned probabilities outside [0, 1] in {outside} of {rows} rows")
        off = int(np.count_nonzero(np.abs(out.sum(axis=1) - 1) > PROBA_TOLERANCE))
        if off:
            raise MlgateError(f"{where} returned probability rows not summing to 1 (within {PROBA_TOLERANCE:g}) "
                              f"in {off} of {rows} rows")
    elif method == "predict" and classes is not None and len(classes):
        unknown = ~np.isin(out, np.asarray(classes))
        if unknown.any():
            example = out[np.argmax(unknown)]
            example = example.item() if hasattr(example, "item") else example
            known = [c.item() if hasattr(c, "item") else c for c in classes]
            raise MlgateError(f"{where} returned labels outside the model's classes {known} in "
                              f"{int(unknown.sum())} of {rows} rows (e.g. {example!r})")


def pd_isna(values: np.ndarray) -> np.ndarray:
    import pandas as pd

    return np.asarray(pd.isna(values))
