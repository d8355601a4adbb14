"""ONNX models run by onnxruntime: classifiers with probability outputs (ZipMap or a tensor) and
regressors.

Inputs are fed from the dataset's columns: a model with one input per column (what skl2onnx makes
from a DataFrame) by input name; a model with one matrix input by the column names listed in its
``feature_names`` metadata (a JSON list), or by every non-target column in order when it has none.
A ZipMap output (one dict per row) is read from the probability tensor behind it instead, which
gives the same numbers without building a dict per row.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from pytest_mlgate.errors import MlgateError
from pytest_mlgate.evaluate.frameworks.base import (
    FrameworkClassifier,
    FrameworkRegressor,
)

DTYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64,
          "tensor(int32)": np.int32, "tensor(bool)": np.bool_, "tensor(string)": object}
LABEL_ATTRIBUTES = ("classlabels_int64s", "classlabels_strings", "classlabels_ints")


def load(path: Path) -> Any:
    """A scikit-learn-shaped wrapper of an onnxruntime session on the model in ``path``."""
    import onnx
    import onnxruntime

    proto = onnx.load(str(path))
    outputs = len(proto.graph.output)
    probabilities, classes = _probability_output(proto)
    model = proto.SerializeToString() if len(proto.graph.output) != outputs else str(path)  # ZipMap cut off
    session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
    unsupported = [f"{i.name} ({i.type})" for i in session.get_inputs() if i.type not in DTYPES]
    if unsupported:
        raise MlgateError(f"model {path}: ONNX input(s) of unsupported type: {', '.join(unsupported)}")
    inputs = [(i.name, DTYPES[i.type]) for i in session.get_inputs()]
    features = [name for name, _ in inputs] if len(inputs) > 1 else _metadata_features(proto, path)
    feed = _feeder(inputs)
    if probabilities is not None:
        def proba(X: Any) -> np.ndarray:
            return np.asarray(session.run([probabilities], feed(X))[0])

        return FrameworkClassifier("onnx", session, proba, features, classes)
    outputs = [o.name for o in session.get_outputs() if o.type in ("tensor(float)", "tensor(double)")]
    if len(outputs) != 1:
        raise MlgateError(f"model {path}: ONNX outputs {[o.name for o in session.get_outputs()]} hold neither "
                          "class probabilities nor a single value per row")

    def values(X: Any) -> np.ndarray:
        return np.asarray(session.run(outputs, feed(X))[0]).reshape(len(X), -1)[:, 0]

    return FrameworkRegressor("onnx", session, values, features)


def _feeder(inputs: list[tuple[str, Any]]) -> Any:
    """The feeds of one run: the matrix of all columns, or one (n, 1) column per input, in order."""
    if len(inputs) == 1:
        name, dtype = inputs[0]
        return lambda X: {name: X.to_numpy(dtype=dtype)}
    return lambda X: {name: X.iloc[:, i].to_numpy(dtype=dtype).reshape(-1, 1)
                      for i, (name, dtype) in enumerate(inputs)}


def _metadata_features(proto: Any, path: Path) -> list[str] | None:
    raw = next((p.value for p in proto.metadata_props if p.key == "feature_names"), None)
    if raw is None:
        return None
    try:
        names = json.loads(raw)
    except json.JSONDecodeError:
        names = None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise MlgateError(f"model {path}: ONNX metadata 'feature_names' must be a JSON list of column names")
    return names


def _probability_output(proto: Any) -> tuple[str | None, list[Any] | None]:
    """The tensor holding class probabilities and the class labels, or ``(None, None)`` for a regressor.

    A ZipMap output is replaced by its input tensor, which is made a graph output of ``proto``.
    """
    import onnx

    graph = proto.graph
    producers = {out: node for node in graph.node for out in node.output}
    labels = next((_labels(node) for node in reversed(graph.node) if _labels(node)), None)
    for output in graph.output:
        node = producers.get(output.name)
        if output.type.HasField("sequence_type") and node is not None and node.op_type == "ZipMap":
            graph.output.append(onnx.helper.make_tensor_value_info(node.input[0], onnx.TensorProto.FLOAT, None))
            return node.input[0], _labels(node)
    for output in graph.output:
        tensor = output.type.tensor_type
        dims = tensor.shape.dim
        if tensor.elem_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE) and len(dims) == 2 \
                and labels is not None:
            return output.name, labels
    return None, None


def _labels(node: Any) -> list[Any] | None:
    for attribute in node.attribute:
        if attribute.name in LABEL_ATTRIBUTES:
            values = list(attribute.ints) or [s.decode() for s in attribute.strings]
            return values or None
    return None
