"""Shared test fixtures: a small seeded gate project written into a pytester directory."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest_plugins = ["pytester"]

# pandas registers its Arrow extension types on first Parquet use; an in-process pytester run drops
# the modules imported during it, and pyarrow refuses a second registration: the first use is here
pd.DataFrame({"x": [0]}).to_parquet(io.BytesIO())


def make_frame(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    """A binary credit-style table: four numeric features, a region, a sensitive attribute."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "income": rng.normal(0, 1, n),
        "debt": rng.normal(0, 1, n),
        "age": rng.normal(0, 1, n),
        "tenure": rng.normal(0, 1, n),
        "region": rng.choice(["north", "south", "east"], n, p=[0.5, 0.45, 0.05]),
        "sex": rng.choice(["f", "m"], n),
    })
    logit = 1.5 * frame["income"] - 1.2 * frame["debt"] + 0.6 * frame["age"] + 0.4 * frame["tenure"]
    frame["defaulted"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


def fit(frame: pd.DataFrame, features: list[str]):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression().fit(frame[features], frame["defaulted"])


@pytest.fixture(scope="session")
def artifacts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seeded data and models saved once per test session."""
    import skops.io as sio

    root = tmp_path_factory.mktemp("artifacts")
    train, holdout = make_frame(4000, seed=1), make_frame(2000, seed=2)
    train.to_parquet(root / "train.parquet")
    holdout.to_csv(root / "holdout.csv", index=False)
    models = {
        "strong": ["income", "debt", "age", "tenure"],
        "good": ["income", "debt", "age"],
        "weak": ["income"],
    }
    for name, features in models.items():
        sio.dump(fit(train, features), root / f"{name}.skops")
    return root


class GateProject:
    """A gate project inside pytester: write config and gates, run pytest, read the outputs."""

    def __init__(self, pytester: pytest.Pytester, artifacts: Path):
        self.pytester = pytester
        self.path = pytester.path
        for name in ("train.parquet", "holdout.csv", "strong.skops", "good.skops", "weak.skops"):
            shutil.copy(artifacts / name, self.path / name)

    def configure(self, candidate: str = "good.skops", baseline: str | None = "good.skops", extra: str = "",
                  datasets: str = 'holdout = "holdout.csv"\nreference = "train.parquet"') -> None:
        base = f'baseline = "{baseline}"\n' if baseline else ""
        self.pytester.makefile(".toml", pyproject=(
            "[tool.mlgate]\n"
            'model = "credit-risk"\nowner = "risk-ml@example.org"\n'
            f'candidate = "{candidate}"\n{base}target = "defaulted"\nsensitive = ["sex"]\n'
            'junit = "reports/gates.xml"\n'
            f"{extra}\n[tool.mlgate.datasets]\n{datasets}\n"
        ))

    def gates(self, source: str) -> None:
        self.pytester.makepyfile(test_gates=source)

    def run(self, *args: str, **kwargs) -> pytest.RunResult:
        return self.pytester.runpytest("-p", "no:cacheprovider", *args, **kwargs)

    def run_subprocess(self, *args: str) -> pytest.RunResult:
        return self.pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)

    @property
    def decision(self) -> dict:
        import json

        return json.loads((self.path / "reports" / "mlgate-decision.json").read_text())

    @property
    def junit(self) -> str:
        return (self.path / "reports" / "gates.xml").read_text()


@pytest.fixture
def project(pytester: pytest.Pytester, artifacts_dir: Path) -> GateProject:
    project = GateProject(pytester, artifacts_dir)
    project.configure()
    return project
