"""Match the feature names a model was saved with to a dataset's columns.

Frameworks rewrite names that need quoting: LightGBM writes spaces as underscores, skl2onnx turns
every character outside letters, digits and ``_`` into ``_``. A name is found as it is, else as
the one column whose name rewritten the same way equals it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from pytest_mlgate.errors import MlgateError

_OTHER = re.compile(r"\W")


def plain(name: Any) -> str:
    """``name`` with every character outside letters, digits and ``_`` written as ``_``."""
    return _OTHER.sub("_", str(name))


def match(wanted: Sequence[Any], columns: Iterable[Any]) -> tuple[list[Any], list[str]]:
    """The dataset column for each wanted name, and the wanted names no column matches."""
    columns = list(columns)
    present = set(columns)
    by_plain: dict[str, list[Any]] = {}
    for column in columns:
        by_plain.setdefault(plain(column), []).append(column)
    found, missing = [], []
    for name in wanted:
        if name in present:
            found.append(name)
            continue
        candidates = by_plain.get(plain(name), [])
        if len(candidates) > 1:
            raise MlgateError(f"feature '{name}' matches several columns: {listing(candidates)}")
        if candidates:
            found.append(candidates[0])
        else:
            missing.append(str(name))
    return found, missing


def listing(names: Iterable[Any]) -> str:
    """Every name, quoted, comma-separated (never cut short)."""
    return ", ".join(repr(str(n)) for n in names)
