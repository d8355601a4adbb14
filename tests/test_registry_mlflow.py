"""The MLflow Model Registry backend, end to end against a real ``mlflow server`` on 127.0.0.1.

One server (SQLite store, local artifact root, a free port) serves the module; each test works on
its own registered model, so tests do not see each other's aliases or tags. Skipped where mlflow
is not installed, except under ``MLGATE_REQUIRE_MLFLOW=1`` (the ``mlflow`` tox environment).
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

if os.environ.get("MLGATE_REQUIRE_MLFLOW") == "1":
    import mlflow  # noqa: F401  (must be importable here: fail, do not skip)
else:
    pytest.importorskip("mlflow")

from conftest import make_frame  # noqa: E402
from mlflow_server import QUIET, MlflowServer  # noqa: E402

from pytest_mlgate.cli import main  # noqa: E402
from pytest_mlgate.config import build  # noqa: E402
from pytest_mlgate.errors import MlgateError  # noqa: E402
from pytest_mlgate.evaluate.frameworks import mlflow_source  # noqa: E402

FEATURES = {"strong": ["income", "debt", "age", "tenure"], "good": ["income", "debt", "age"], "weak": ["income"]}
GATES = """
import pytest

def test_auc_floor(candidate, holdout):
    assert candidate.metric("roc_auc", holdout) >= 0.7

def test_no_regression(mlgate):
    mlgate.no_regression("roc_auc", max_relative_drop=0.02)
"""
REVIEW_GATE = """
@pytest.mark.gate(severity="review")
def test_needs_a_human(candidate, holdout):
    assert candidate.metric("roc_auc", holdout) >= 0.99
"""


@pytest.fixture(autouse=True)
def _quiet_mlflow(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in QUIET.items():
        monkeypatch.setenv(name, value)
    with warnings.catch_warnings():  # MLflow's own deprecation notices are not what is tested here
        warnings.simplefilter("ignore")
        yield


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    running = MlflowServer(tmp_path_factory.mktemp("mlflow")).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def logged(server: MlflowServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Three scikit-learn models (strong, good, weak) logged once to MLflow, and the holdout file."""
    import mlflow
    import mlflow.sklearn
    from sklearn.linear_model import LogisticRegression

    root = tmp_path_factory.mktemp("data")
    train, holdout = make_frame(4000, seed=1), make_frame(2000, seed=2)
    holdout.to_csv(root / "holdout.csv", index=False)
    mlflow.set_tracking_uri(server.uri)
    mlflow.set_experiment("training")
    models = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, features in FEATURES.items():
            model = LogisticRegression().fit(train[features], train["defaulted"])
            with mlflow.start_run(run_name=name) as run:
                info = mlflow.sklearn.log_model(model, name="model", pip_requirements=["scikit-learn"])
            models[name] = {"run_id": run.info.run_id, "uri": info.model_uri, "model_id": info.model_id,
                            "model": model}
    return {"models": models, "holdout": root / "holdout.csv"}


class MlflowProject:
    """A gate project configured for ``registry = "mlflow"`` with its own registered model."""

    def __init__(self, pytester: pytest.Pytester, server: MlflowServer, logged: dict, name: str):
        self.pytester, self.path, self.server, self.name = pytester, pytester.path, server, name
        self.client.create_registered_model(name)
        self.versions = {}
        for label in ("good", "strong", "weak"):  # versions 1, 2, 3
            info = logged["models"][label]
            entry = self.client.create_model_version(name, info["uri"], run_id=info["run_id"],
                                                     model_id=info["model_id"])
            self.versions[label] = entry.version
        (self.path / "holdout.csv").write_bytes(Path(logged["holdout"]).read_bytes())
        self.alias("champion", "good")
        self.alias("challenger", "strong")
        self.configure()

    @property
    def client(self):
        from mlflow import MlflowClient

        return MlflowClient(self.server.uri, self.server.uri)

    def alias(self, alias: str, label: str) -> None:
        self.client.set_registered_model_alias(self.name, alias, self.versions[label])

    def holder(self, alias: str) -> str:
        return self.client.get_registered_model(self.name).aliases.get(alias)

    def configure(self, extra: str = "", uri: str | None = None, candidate: str = "@challenger",
                  baseline: str = "@champion") -> None:
        self.pytester.makefile(".toml", pyproject=(
            "[tool.mlgate]\n"
            f'model = "{self.name}"\nowner = "risk-ml@example.org"\nregistry = "mlflow"\n'
            f'mlflow_tracking_uri = "{uri or self.server.uri}"\n'
            f'candidate = "models:/{self.name}{candidate}"\nbaseline = "models:/{self.name}{baseline}"\n'
            'target = "defaulted"\npromote = "champion"\napprovers = ["risk-officer"]\n'
            f'{extra}\n[tool.mlgate.datasets]\nholdout = "holdout.csv"\n'))

    def run(self, gates: str = GATES, *args: str) -> pytest.RunResult:
        self.pytester.makepyfile(test_gates=gates)
        return self.pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)

    @property
    def decision(self) -> dict:
        return json.loads((self.path / "reports" / "mlgate-decision.json").read_text())

    def tags(self, label: str) -> dict[str, str]:
        return self.client.get_model_version(self.name, self.versions[label]).tags

    def cli(self, *args: str) -> int:
        return main([*args, "--config", str(self.path / "pyproject.toml")])


@pytest.fixture
def project(request: pytest.FixtureRequest, pytester: pytest.Pytester, server: MlflowServer,
            logged: dict, monkeypatch: pytest.MonkeyPatch) -> MlflowProject:
    monkeypatch.setenv("MLGATE_ACTOR", "ci-bot")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return MlflowProject(pytester, server, logged, request.node.name.removeprefix("test_")[:60])


def test_approved_run_promotes_and_logs_decision_tags_and_run(project: MlflowProject, capsys) -> None:
    result = project.run()
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines([f"*mlgate promoted {project.name}@champion: 1 -> 2*"])
    assert project.holder("champion") == "2"
    record = project.decision
    lineage = record["artifacts"]["candidate"]["lineage"]
    strong = project.client.get_model_version(project.name, "2")
    assert (lineage["version"], lineage["run_id"], lineage["source"]) == ("2", strong.run_id, strong.source)
    assert record["artifacts"]["candidate"]["sha256"] == strong.tags["mlgate.sha256"]
    assert record["artifacts"]["baseline"]["version"] == "1"
    tags = project.tags("strong")
    assert tags["mlgate.decision"] == "approved"
    entry = next(e for e in map(json.loads, (project.path / ".mlgate" / "audit.jsonl").read_text().splitlines())
                 if e["event"] == "decision")
    assert tags["mlgate.audit_entry"] == str(entry["seq"])
    from pytest_mlgate.lifecycle.mlflow_decisions import decision_sha256

    assert tags["mlgate.decision_sha256"] == decision_sha256(entry["data"])
    run = project.client.get_run(tags["mlgate.run_id"])
    assert run.info.status == "FINISHED" and run.data.params["decision"] == "approved"
    auc = run.data.metrics["test_auc_floor/roc_auc_holdout/candidate"]  # "@" is not allowed in a metric key
    assert auc == pytest.approx(record["gates"][0]["checks"][0]["candidate"], abs=1e-12)
    files = {f.path for f in project.client.list_artifacts(run.info.run_id)}
    assert files == {"mlgate-decision.json", "mlgate-decision.md", "mlgate-decision.html"}
    assert project.cli("audit", "verify") == 0
    assert "mlflow tags OK" in capsys.readouterr().out


def test_rejected_run_leaves_the_alias_and_records_the_rejection(project: MlflowProject) -> None:
    project.alias("challenger", "weak")
    result = project.run()
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*promotion refused*the decision is rejected*"])
    assert project.holder("champion") == "1"
    assert project.tags("weak")["mlgate.decision"] == "rejected"


def test_needs_review_then_approve_then_promote(project: MlflowProject, capsys) -> None:
    result = project.run(GATES + REVIEW_GATE)
    assert result.ret == 6, result.stdout.str()
    assert project.holder("champion") == "1"
    sha = project.decision["artifacts"]["candidate"]["sha256"]
    assert project.cli("approve", "--candidate", sha, "--gate", "test_needs_a_human", "--by", "risk-officer",
                       "--reason", "accepted") == 0
    assert project.cli("promote", "--alias", "champion") == 0
    assert f"promoted {project.name}@champion: 1 -> 2" in capsys.readouterr().out
    assert project.holder("champion") == "2"


def test_rollback_moves_the_alias_back_to_the_previous_holder(project: MlflowProject, capsys) -> None:
    assert project.run().ret == 0
    assert project.holder("champion") == "2"
    assert project.cli("rollback", project.name, "--alias", "champion", "--reason", "complaints") == 0
    assert project.holder("champion") == "1"
    assert project.cli("rollback", project.name, "--alias", "champion", "--reason", "again") == 2
    assert "no earlier version" in capsys.readouterr().err
    project.alias("champion", "weak")  # moved by hand, outside the gates
    assert project.cli("rollback", project.name, "--alias", "champion", "--reason", "undo") == 2
    assert "moved outside mlgate; nothing rolled back" in capsys.readouterr().err
    assert project.holder("champion") == "3"


def test_monitoring_rejection_rolls_production_back_through_mlflow(project: MlflowProject) -> None:
    assert project.run().ret == 0  # champion: 1 -> 2 through the gates
    project.configure(extra="stage = \"monitor\"\nauto_rollback = true\n"
                            "[tool.mlgate.monitor]\nrollback_on = \"any\"", candidate="@champion")  # a fixed-sample failure
    monitor = """
import pytest

@pytest.mark.gate(stage="monitor")
def test_production_auc(candidate, holdout):
    assert candidate.metric("roc_auc", holdout) >= 0.99
"""
    result = project.run(monitor)
    assert result.ret == 1
    assert project.holder("champion") == "1"
    assert project.decision["monitor"]["rollback"]["from"] == "2"


def test_an_alias_moved_during_the_run_is_not_overwritten(project: MlflowProject) -> None:
    mover = GATES + f"""
def test_someone_else_promotes():
    from mlflow import MlflowClient
    MlflowClient("{project.server.uri}", "{project.server.uri}").set_registered_model_alias("{project.name}", "champion", "3")
"""
    result = project.run(mover)
    assert result.ret == 1
    result.stdout.fnmatch_lines([f"*{project.name}@champion moved since the run started (was 1, now 3)*"])
    assert project.holder("champion") == "3"


def test_failures_are_one_line(project: MlflowProject, tmp_path: Path) -> None:
    settings = build(project.path, {"registry": "mlflow", "mlflow_tracking_uri": project.server.uri})

    def error(spec: str) -> str:
        with pytest.raises(MlgateError) as caught:
            mlflow_source.locate("candidate", spec, settings)
        assert "\n" not in str(caught.value)
        return str(caught.value)

    assert "alias nope not found" in error(f"models:/{project.name}@nope")
    project.client.delete_model_version(project.name, "3")
    assert "version 3" in error(f"models:/{project.name}/3") and "not found" in error(f"models:/{project.name}/3")
    assert "expected models:/NAME@ALIAS" in error("models:/only-a-name")
    down = build(project.path, {"registry": "mlflow", "mlflow_tracking_uri": "http://127.0.0.1:9"})
    with pytest.raises(MlgateError, match="tracking server unreachable at http://127.0.0.1:9"):
        mlflow_source.locate("candidate", f"models:/{project.name}@champion", down)


def test_artifact_changed_after_registration_fails_closed(project: MlflowProject) -> None:
    assert project.run().ret == 0  # pins the digests of versions 1 and 2
    source = project.client.get_model_version(project.name, "2").source
    model_id = source.removeprefix("models:/")
    files = list((project.server.root / "artifacts").rglob(f"{model_id}/artifacts/model.*"))
    assert files, source
    files[0].write_bytes(files[0].read_bytes() + b"\0")
    project.alias("champion", "good")
    result = project.run()
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*version 2: artifact digest changed since registration*"])
    assert project.holder("champion") == "1"


def test_runs_uri_and_local_model_directory_load_with_probabilities(project: MlflowProject, logged: dict) -> None:
    import mlflow.sklearn
    import pandas as pd
    from sklearn.metrics import roc_auc_score

    strong = logged["models"]["strong"]
    local = project.path / "local_model"
    mlflow.sklearn.save_model(strong["model"], str(local), pip_requirements=["scikit-learn"])
    holdout = pd.read_csv(project.path / "holdout.csv")
    expected = roc_auc_score(holdout["defaulted"], strong["model"].predict_proba(holdout[FEATURES["strong"]])[:, 1])
    check = f"""
def test_auc(candidate, holdout):
    assert abs(candidate.metric("roc_auc", holdout) - {expected!r}) < 1e-9
"""
    for candidate in (f"runs:/{strong['run_id']}/model", str(local)):
        project.pytester.makefile(".toml", pyproject=(
            f'[tool.mlgate]\nmodel = "{project.name}"\nmlflow_tracking_uri = "{project.server.uri}"\n'
            f'candidate = "{candidate}"\ntarget = "defaulted"\n[tool.mlgate.datasets]\nholdout = "holdout.csv"\n'))
        result = project.run(check)
        assert result.ret == 0, result.stdout.str()
        assert project.decision["artifacts"]["candidate"]["sha256"]
    assert project.decision["artifacts"]["candidate"]["path"] == str(local)


def test_pyfunc_only_model_directory_predicts_through_its_signature(tmp_path: Path, logged: dict) -> None:
    import mlflow.pyfunc
    import pandas as pd
    from mlflow.models import infer_signature

    from pytest_mlgate.evaluate.frameworks.mlflow_model import PyfuncModel, load

    class Threshold(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            return (model_input["income"] > 0).astype(int).to_numpy()

    holdout = pd.read_csv(logged["holdout"])
    frame = holdout[["income", "debt"]]
    mlflow.pyfunc.save_model(str(tmp_path / "rule"), python_model=Threshold(), pip_requirements=[],
                             signature=infer_signature(frame, (frame["income"] > 0).astype(int).to_numpy()))
    model = load(tmp_path / "rule")
    assert isinstance(model, PyfuncModel) and list(model.feature_names_in_) == ["income", "debt"]
    assert (model.predict(frame) == (holdout["income"] > 0).astype(int)).all()


def test_mlflow_registry_without_a_tracking_uri_is_one_line(tmp_path: Path, monkeypatch) -> None:
    from pytest_mlgate.lifecycle.backend import open_backend

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(MlgateError, match="^mlflow: no tracking URI: set .tool.mlgate. mlflow_tracking_uri or "
                                          "MLFLOW_TRACKING_URI$"):
        open_backend(build(tmp_path, {"registry": "mlflow"}))


def test_embedded_registry_tools_refuse_the_mlflow_setting(tmp_path: Path, capsys) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.mlgate]\nmodel = "m"\nregistry = "mlflow"\n'
                                             '[tool.mlgate.training]\ncommand = "true"\noutput = "m.skops"\n')
    assert main(["registry", "list", "--config", str(tmp_path / "pyproject.toml")]) == 2
    assert 'registry = "mlflow": the embedded registry is not in use here' in capsys.readouterr().err
    from pytest_mlgate.config import read_pyproject
    from pytest_mlgate.lifecycle.promotion import start_session

    outcome = start_session(build(tmp_path, read_pyproject(tmp_path / "pyproject.toml")))
    assert outcome["status"] == "error" and "the embedded registry is not in use" in outcome["error"]
    assert not (tmp_path / "mlflow").exists()


def test_server_stopped_mid_run_fails_closed_and_writes_nothing_half(
        project: MlflowProject, server: MlflowServer, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """Last in the module: it kills the shared server, then restarts it on the same store."""
    monkeypatch.setenv("MLGATE_TEST_SERVER_PGID", str(server.process.pid))
    killer = GATES + """
import os, signal, time

def test_zz_server_goes_away(candidate, baseline):
    os.killpg(int(os.environ["MLGATE_TEST_SERVER_PGID"]), signal.SIGKILL)
    time.sleep(1)
"""
    result = project.run(killer)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*mlgate error: mlflow: *tracking server unreachable*"])
    record = project.decision
    assert record["decision"] == "approved" and "unreachable" in record["lifecycle"]["error"]
    server.process.wait()
    server.start()  # the same store on a new port: what did the broken run leave?
    project.configure()
    assert project.holder("champion") == "1"
    assert not {k for k in project.tags("strong") if k != "mlgate.sha256"}
    experiment = project.client.get_experiment_by_name(f"mlgate-{project.name}")
    finished = project.client.search_runs([experiment.experiment_id]) if experiment else []
    assert [r for r in finished if r.info.status == "FINISHED"] == []
    assert project.cli("audit", "verify") == 1  # the log holds a decision MLflow never got
    assert "tag mlgate.decision is None" in capsys.readouterr().out
