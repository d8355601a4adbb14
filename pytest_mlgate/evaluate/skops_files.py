"""Loading ``.skops`` files: which types a file would instantiate, and which of them are trusted.

skops refuses every type outside its default list unless the caller trusts it. One type is
trusted here in addition, because its danger is checked rather than assumed away:
``sklearn.tree._tree.Tree`` (every tree of a decision tree, random forest or extra-trees model).
skops does not trust it since scikit-learn follows its child and feature indices without bounds
checks, so a crafted file could crash the process at the first prediction. After loading, every
such tree is checked node by node: children must point forward inside the tree (which also rules
out cycles) and split features must be columns the owning estimator takes. A file that fails is
refused. Everything else still needs ``[tool.mlgate] skops_trusted``, as reviewed with
``mlgate trust MODEL.skops``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pytest_mlgate.errors import MlgateError

TREE = "sklearn.tree._tree.Tree"
VERIFIED = (TREE,)


def untrusted_types(path: Path) -> list[str]:
    """Every type in ``path`` outside skops' default trusted list, sorted."""
    import skops.io as sio

    return sorted(set(sio.get_untrusted_types(file=path)))


def load(path: Path, trusted: tuple[str, ...] = ()) -> Any:
    """The object in ``path``; one error naming every type that is neither trusted nor verified."""
    import skops.io as sio

    found = untrusted_types(path)
    refused = [t for t in found if t not in trusted and t not in VERIFIED]
    if refused:
        raise MlgateError(f"model {path}: {len(refused)} untrusted type(s): {', '.join(refused)}; review them "
                          f"with `mlgate trust {path}` and list the ones you trust in [tool.mlgate] skops_trusted")
    model = sio.load(path, trusted=[t for t in found if t in trusted or t in VERIFIED] or None)
    if TREE in found:
        problems = tree_problems(model)
        if problems:
            raise MlgateError(f"model {path}: refused, its trees are malformed: {'; '.join(problems[:3])}")
    return model


def tree_problems(model: Any) -> list[str]:
    """What is wrong with the scikit-learn trees inside ``model`` (empty when every tree is sound)."""
    from sklearn.tree._tree import Tree

    problems: list[str] = []
    seen: set[int] = set()
    checked: set[int] = set()
    stack = [model]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, (str, bytes, int, float, bool, type(None))):
            continue
        seen.add(id(obj))
        tree = getattr(obj, "tree_", None) if hasattr(obj, "__dict__") else None
        if isinstance(tree, Tree):
            checked.add(id(tree))
            problems += _check_tree(tree, getattr(obj, "n_features_in_", None), type(obj).__name__)
        if isinstance(obj, Tree):
            if id(obj) not in checked:
                problems.append("a tree outside a fitted tree estimator")
            continue
        stack.extend(_children(obj))
    return problems


def _children(obj: Any) -> list[Any]:
    if isinstance(obj, dict):
        return list(obj.values())
    if isinstance(obj, (list, tuple, set)):
        return list(obj)
    if isinstance(obj, np.ndarray):
        return list(obj.ravel()) if obj.dtype == object else []
    return list(vars(obj).values()) if hasattr(obj, "__dict__") else []


def _check_tree(tree: Any, n_features: int | None, owner: str) -> list[str]:
    count = int(tree.node_count)
    left, right, feature = tree.children_left, tree.children_right, tree.feature
    if n_features is None or int(tree.n_features) != int(n_features):
        return [f"{owner}: tree over {tree.n_features} features, estimator takes {n_features}"]
    if not len(left) == len(right) == len(feature) == count:
        return [f"{owner}: node arrays do not have node_count={count} entries"]
    nodes = np.arange(count)
    leaf = (left == -1) & (right == -1)
    forward = (left > nodes) & (left < count) & (right > nodes) & (right < count)
    bad_links = int(np.count_nonzero(~leaf & ~forward))
    bad_features = int(np.count_nonzero(~leaf & ((feature < 0) | (feature >= n_features))))
    problems = []
    if bad_links:
        problems.append(f"{owner}: {bad_links} node(s) link outside the tree or backwards")
    if bad_features:
        problems.append(f"{owner}: {bad_features} split(s) on a feature index outside 0..{n_features - 1}")
    return problems
