"""Register the example's trained models in an MLflow Model Registry (after train.py).

The production baseline becomes version 1 with the alias ``champion``, the candidate version 2
with ``challenger``; the gates then run with ``registry = "mlflow"`` (see the README). The server
is ``$MLFLOW_TRACKING_URI``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import mlflow
import mlflow.sklearn
import skops.io as sio

from pytest_mlgate.config import build, read_pyproject

HERE = Path(__file__).parent


def main() -> int:
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        print("set MLFLOW_TRACKING_URI to the MLflow server first", file=sys.stderr)
        return 2
    settings = build(HERE, read_pyproject(HERE / "pyproject.toml"))
    client = mlflow.MlflowClient()
    mlflow.set_experiment(f"{settings.model}-training")
    for alias, file in (("champion", "baseline.skops"), ("challenger", "candidate.skops")):
        model = sio.load(HERE / "models" / file, trusted=list(settings.skops_trusted) or None)
        with mlflow.start_run(run_name=alias):
            info = mlflow.sklearn.log_model(model, name="model", registered_model_name=settings.model,
                                            pip_requirements=["scikit-learn"],
                                            skops_trusted_types=list(settings.skops_trusted) or None)
        client.set_registered_model_alias(settings.model, alias, info.registered_model_version)
        print(f"{settings.model} version {info.registered_model_version} is @{alias}: "
              f"models:/{settings.model}@{alias}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
