"""Recognise model files by their first bytes, without importing any framework."""

from __future__ import annotations

from pathlib import Path

LIGHTGBM_MAGIC = b"tree\nversion="
CATBOOST_MAGIC = b"CBM1"


def _head(path: Path, size: int = 64) -> bytes:
    with path.open("rb") as fh:
        return fh.read(size)


def xgboost(path: Path) -> bool:
    """A JSON or UBJSON document whose first key is XGBoost's ``learner``."""
    head = _head(path)
    if head.startswith(b"{L"):  # UBJSON object, first key length-prefixed
        return b"learner" in head[:24]
    return head.lstrip().startswith(b"{") and b'"learner"' in head


def lightgbm(path: Path) -> bool:
    """LightGBM's text model format: ``tree`` then ``version=``."""
    return _head(path, 32).replace(b"\r\n", b"\n").startswith(LIGHTGBM_MAGIC)


def catboost(path: Path) -> bool:
    """CatBoost's binary model signature."""
    return _head(path, 4) == CATBOOST_MAGIC


def onnx(path: Path) -> bool:
    """A protobuf starting with ONNX's field 1 (``ir_version``, a small varint)."""
    head = _head(path, 2)
    return len(head) == 2 and head[0] == 0x08 and 0 < head[1] < 0x80
