"""Hooks of pytest-mlgate, added with ``pytest_addhooks``; implement them in a conftest.py."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import pandas as pd

    from pytest_mlgate.config import Settings
    from pytest_mlgate.decision import Decision
    from pytest_mlgate.monitoring.alerts import Alert


@pytest.hookspec(firstresult=True)
def pytest_mlgate_load_model(path: Path, settings: Settings) -> Any | None:
    """Load a model file the built-in loaders do not know; return ``None`` to pass.

    Runs before the built-in loaders (``.skops``, ``.joblib``, ``.pkl``, and the XGBoost, LightGBM,
    CatBoost and ONNX files of :mod:`pytest_mlgate.evaluate.frameworks`).

    Example::

        def pytest_mlgate_load_model(path, settings):
            if path.suffix == ".keras":
                return KerasModel(path)
    """


@pytest.hookspec(firstresult=True)
def pytest_mlgate_load_dataset(path: Path, settings: Settings) -> pd.DataFrame | None:
    """Load a dataset file as a DataFrame; return ``None`` to pass to the built-in loaders.

    The built-in loaders read CSV and Parquet with the reference dataset's column types; a frame
    this hook returns is used as it is (its type differences from the reference are still reported).

    Example::

        def pytest_mlgate_load_dataset(path, settings):
            if path.suffix == ".feather":
                return pandas.read_feather(path)
    """


def pytest_mlgate_decision(decision: Decision, record: dict[str, Any], config: pytest.Config) -> None:
    """Called once per gate run with the decision and its JSON record (after files are written).

    Example::

        def pytest_mlgate_decision(decision, record, config):
            if decision.status == "needs-review":
                open_review_ticket(record["model"], decision.reasons)
    """


def pytest_mlgate_alert(alert: Alert, config: pytest.Config) -> None:
    """Called when a monitoring run does not approve the model in production (after any rollback).

    ``alert.text`` is a short message with the numbers, ``alert.payload()`` Slack-compatible JSON,
    ``alert.rollback`` what automatic rollback did. Repeats of an open condition are de-duplicated
    before this hook runs; an exception here is reported and does not change the decision.

    Example::

        def pytest_mlgate_alert(alert, config):
            pagerduty.trigger(summary=alert.text, dedup_key=alert.key)
    """
