"""The model loader table: formats chosen by suffix or content, libraries imported only on use, and
one line naming the extra to install when a framework is missing."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from pytest_mlgate.config import build
from pytest_mlgate.errors import MlgateError
from pytest_mlgate.evaluate import loaders
from pytest_mlgate.evaluate.frameworks import sniff
from pytest_mlgate.evaluate.models import Dataset
from pytest_mlgate.evaluate.workspace import Workspace

FRAMEWORKS = ("xgboost", "lightgbm", "catboost", "onnx", "onnxruntime", "sklearn")


def test_importing_the_plugin_imports_no_framework():
    code = ("import sys, pytest_mlgate.plugin; "
            f"print(sorted(m for m in {FRAMEWORKS!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(("head", "name", "framework"), [
    (b'{"learner":{"attributes":{}', "model.json", "xgboost"),
    (b"{L\x00\x00\x00\x00\x00\x00\x00\x07learner{", "model.ubj", "xgboost"),
    (b"tree\nversion=v4\nnum_class=1\n", "model.txt", "lightgbm"),
    (b"tree\r\nversion=v4\r\n", "model.txt", "lightgbm"),
    (b"CBM1\xd84\x00\x00", "model.bin", "catboost"),
    (b"\x08\x08\x12\x07skl2onnx", "model.onnx", "onnx"),
])
def test_formats_are_recognised_by_content(tmp_path, head, name, framework):
    (tmp_path / name).write_bytes(head)
    assert loaders.model_format(tmp_path / name).name == framework


@pytest.mark.parametrize(("text", "name"), [(b'{"weights": [1, 2]}', "model.json"), (b"hello\n", "notes.txt"),
                                            (b"PK\x03\x04", "model.bin")])
def test_other_files_are_no_model(tmp_path, text, name):
    (tmp_path / name).write_bytes(text)
    assert loaders.model_format(tmp_path / name) is None
    assert loaders.load_model(tmp_path / name) is None
    assert not sniff.onnx(tmp_path / name)


def test_a_missing_framework_names_the_extra_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "lightgbm", None)  # import lightgbm now raises ImportError
    (tmp_path / "model.txt").write_bytes(b"tree\nversion=v4\n")
    with pytest.raises(MlgateError) as info:
        loaders.load_model(tmp_path / "model.txt")
    assert str(info.value) == (f"model {tmp_path / 'model.txt'} is a lightgbm model; install lightgbm with "
                               "pip install 'pytest-mlgate[lightgbm]'")


def test_an_unknown_model_file_lists_every_suffix(tmp_path):
    (tmp_path / "model.h5").write_bytes(b"\x89HDF\r\n")
    workspace = Workspace(build(tmp_path, {"candidate": "model.h5"}))
    with pytest.raises(MlgateError) as info:
        workspace.model("candidate")
    assert str(info.value) == ("model 'candidate': no loader for model.h5 (built in: .skops, .joblib, .pkl, .pickle, "
                               ".json, .ubj, .txt, .cbm, .onnx; add a pytest_mlgate_load_model hook)")


def test_a_registered_format_loads_its_files_and_a_directory_does_not_stop_the_search(tmp_path):
    (tmp_path / "model.dir").mkdir()
    (tmp_path / "model.dir" / "format.marker").write_text("flavors: {}\n")
    fmt = loaders.ModelFormat("directory", (), lambda path: (path / "format.marker").is_file(), lambda path: ("model", path))
    loaders.register_model_format(fmt)
    try:
        assert loaders.load_model(tmp_path / "model.dir") == ("model", tmp_path / "model.dir")
    finally:
        del loaders._FORMATS["directory"]
    assert loaders.model_format(tmp_path / "model.dir") is None


class _Saved:
    """A model that saved its feature names the way LightGBM or skl2onnx rewrite them."""

    def __init__(self, names):
        self.feature_names_in_ = names


def test_rewritten_feature_names_find_their_columns_in_the_model_order():
    frame = pd.DataFrame({"id": [1, 2], "mean radius": [1.0, 2.0], "a.b (µm²)": [3.0, 4.0], "y": [0, 1]})
    selected = Dataset("holdout", frame, "y").features_for(_Saved(["a_b__µm²_", "mean_radius"]), "candidate")
    assert list(selected.columns) == ["a.b (µm²)", "mean radius"]


def test_a_rewritten_name_matching_two_columns_is_an_error_naming_both():
    frame = pd.DataFrame({"a b": [1.0], "a.b": [2.0]})
    with pytest.raises(MlgateError, match=r"feature 'a_b' matches several columns: 'a b', 'a.b'"):
        Dataset("holdout", frame).features_for(_Saved(["a_b"]), "candidate")
