"""Built-in loaders for native model files of other stacks, each behind its own extra.

One module per framework (``xgboost``, ``lightgbm``, ``catboost``, ``onnx``, and ``mlflow_model``
for MLflow model directories), each with a
``load(path)``; :mod:`.sniff` recognises their files by content. :func:`install` registers them in the loader
table of :mod:`pytest_mlgate.evaluate.loaders`; a framework module (and its library) is imported
only when a file of its kind is loaded, so the core neither imports nor needs any of them.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from pytest_mlgate.errors import MlgateError
from pytest_mlgate.evaluate.loaders import ModelFormat, register_model_format

#: framework module -> (file suffixes, pip extra, the library the extra installs)
FRAMEWORKS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "xgboost": ((".json", ".ubj"), "xgboost", "xgboost"),
    "lightgbm": ((".txt",), "lightgbm", "lightgbm"),
    "catboost": ((".cbm",), "catboost", "catboost"),
    "onnx": ((".onnx",), "onnx", "onnxruntime"),
}


def install() -> None:
    """Register every built-in framework loader (idempotent)."""
    for name, (suffixes, extra, library) in FRAMEWORKS.items():
        register_model_format(ModelFormat(name, suffixes, _sniffer(name), _loader(name, extra, library)))
    register_model_format(ModelFormat("mlflow", (), _is_mlflow_model, _load_mlflow_model))


def _is_mlflow_model(path: Path) -> bool:
    from pytest_mlgate.evaluate.frameworks.mlflow_model import is_mlflow_model

    return is_mlflow_model(path)


def _load_mlflow_model(path: Path) -> Any:
    from pytest_mlgate.evaluate.frameworks.mlflow_model import load

    return load(path)


def _module(name: str) -> Any:
    return importlib.import_module(f"pytest_mlgate.evaluate.frameworks.{name}")


def _sniffer(name: str) -> Any:
    from pytest_mlgate.evaluate.frameworks import sniff

    return getattr(sniff, name)


def _loader(name: str, extra: str, library: str) -> Any:
    def load(path: Path) -> Any:
        try:
            importlib.import_module(library)
        except ImportError:
            raise MlgateError(f"model {path} is a {name} model; install {library} with "
                              f"pip install 'pytest-mlgate[{extra}]'") from None
        return _module(name).load(path)

    return load
