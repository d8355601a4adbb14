"""Registers the built-in artifact sources: ``registry:`` references, ``predlog:`` windows, MLflow URIs and
``predictions:`` tables (a model's outputs scored elsewhere).

The resolvers import their modules on first use, so registering costs nothing at plugin load.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_mlgate.evaluate.sources import Artifact, Source, register_source

if TYPE_CHECKING:
    import pandas as pd

    from pytest_mlgate.config import Settings


def _registry_locate(name: str, spec: str, settings: Settings) -> Artifact:
    from pytest_mlgate.evaluate.sources import file_artifact
    from pytest_mlgate.lifecycle.registry import resolve_reference

    path, version = resolve_reference(spec, settings)
    return file_artifact(name, spec, path, settings, version)


def _predlog_locate(name: str, spec: str, settings: Settings) -> Artifact:
    from pytest_mlgate.monitoring.window import locate

    return locate(name, spec, settings)


def _predlog_load(spec: str, settings: Settings) -> pd.DataFrame:
    from pytest_mlgate.monitoring.window import load_spec

    return load_spec(spec, settings)


def _mlflow_locate(name: str, spec: str, settings: Settings) -> Artifact:
    from pytest_mlgate.evaluate.frameworks.mlflow_source import locate

    return locate(name, spec, settings)


def _predictions_locate(name: str, spec: str, settings: Settings) -> Artifact:
    from pytest_mlgate.evaluate.predictions import locate

    return locate(name, spec, settings)


def _predictions_model(artifact: Artifact, workspace: Any) -> Any:
    from pytest_mlgate.evaluate.predictions import load

    settings = workspace.settings
    return load(artifact, settings, lambda: workspace.columns_named(settings.id_column))


def install() -> None:
    """Register the built-in sources (idempotent)."""
    register_source("registry:", Source(_registry_locate))
    register_source("predlog:", Source(_predlog_locate, _predlog_load))
    register_source("models:/", Source(_mlflow_locate))
    register_source("runs:/", Source(_mlflow_locate))
    register_source("predictions:", Source(_predictions_locate, load_model=_predictions_model))
