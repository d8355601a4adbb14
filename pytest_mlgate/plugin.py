"""pytest wiring of pytest-mlgate: options, marker, fixtures, gate results and the decision.

No ML logic lives here; heavy libraries are imported only when a gate needs them.
"""

from __future__ import annotations

import types
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_mlgate.config import (
    KEY_BY_NAME,
    KEYS,
    Key,
    Settings,
    build,
    flag,
    read_pyproject,
)
from pytest_mlgate.errors import ConfigError, MlgateError
from pytest_mlgate.session import (
    RECORDER,
    CollectionOrder,
    GateSession,
    thaw_at_cleanup,
)
from pytest_mlgate.suite import informational, mark_in_progress, mark_undecided

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pytest_mlgate.evaluate.models import Dataset, ModelUnderTest
    from pytest_mlgate.evaluate.workspace import Workspace
    from pytest_mlgate.gates import MlGate
    from pytest_mlgate.monitoring.shadow import ShadowRun
    from pytest_mlgate.serving.staging import StagingServer

STATE = pytest.StashKey["GateSession"]()
STANDARD_DATASETS = ("holdout", "reference", "current")
FLAGS = {"datasets": "--mlgate-dataset"}
PROJECT_ONLY = ("gates",)  # the suite must not depend on how pytest is invoked
COMMAND_LINE_KEYS = tuple(key for key in KEYS if key.name not in PROJECT_ONLY)


# ---------------------------------------------------------------- options and configuration


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from pytest_mlgate import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mlgate", "ML model quality gates (pytest-mlgate)")
    group.addoption("--mlgate-config", dest="mlgate_config_file", default=None, metavar="PATH",
                    help="pyproject.toml with [tool.mlgate] (default: the one in the rootdir)")
    for key in COMMAND_LINE_KEYS:
        option = FLAGS.get(key.name, "--mlgate-" + key.name.replace("_", "-"))
        text = f"{key.help} (ini: mlgate_{key.name}; default: {key.default!r})"
        if key.parse is flag:
            group.addoption(option, dest=f"mlgate_{key.name}", action="store_const", const=True, default=None,
                            help=text)
        else:
            group.addoption(option, dest=f"mlgate_{key.name}", action="append" if key.repeatable else "store",
                            default=None, metavar="NAME=VALUE" if key.repeatable else "VALUE", help=text)
        parser.addini(f"mlgate_{key.name}", help=text, type="linelist" if key.repeatable else "string",
                      default=None)


def _find_pyproject(config: pytest.Config, option: Any) -> Path | None:
    """``--mlgate-config``, else the invocation directory's project, else pytest's rootdir.

    Never pytest's inifile: pytest picks it from the arguments, so an option's value written as
    a separate argument (``--mlgate-candidate /elsewhere/model.skops``) could move it.
    """
    explicit = getattr(option, "mlgate_config_file", None)
    if explicit:
        path = Path(explicit).resolve()
        if not path.is_file():
            raise ConfigError(f"mlgate config: --mlgate-config {explicit}: file not found")
        return path
    here = Path(config.invocation_params.dir).resolve()
    for directory in (here, *here.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file() and read_pyproject(candidate):
            return candidate
    candidate = config.rootpath / "pyproject.toml"
    return candidate if candidate.is_file() else None


def _ini(config: pytest.Config, key: Key) -> Any:
    value = config.getini(f"mlgate_{key.name}")
    return value or None


def load_settings(config: pytest.Config, option: Any = None) -> tuple[Settings, bool]:
    """The merged settings, and whether this run is a gate run (anything mlgate is configured).

    ``option`` is the parsed command line (default ``config.option``; early hooks pass pytest's
    ``known_args_namespace``).
    """
    option = config.option if option is None else option
    pyproject = _find_pyproject(config, option)
    table = read_pyproject(pyproject) if pyproject else {}
    ini = {key.name: _ini(config, key) for key in COMMAND_LINE_KEYS}
    cli = {key.name: getattr(option, f"mlgate_{key.name}", None) for key in COMMAND_LINE_KEYS}
    root = pyproject.parent if pyproject else config.rootpath
    settings = build(root, table, ini, cli, source=str(pyproject) if pyproject else None)
    active = bool(table) or any(v is not None for v in (*ini.values(), *cli.values()))
    return settings, active


def record_config_error(config: pytest.Config, option: Any, error: Exception) -> None:
    """A setting that cannot be read: the decision file (where the raw settings put it) says the run
    did not decide, so no earlier approval is left for CI to read. Outside a gate project (no
    ``[tool.mlgate]`` table) only an existing decision file is replaced."""
    try:
        pyproject = _find_pyproject(config, option)
        table = read_pyproject(pyproject) if pyproject else {}
    except ConfigError:
        pyproject, table = None, {}
    key = KEY_BY_NAME["decision"]
    raw = (getattr(option, "mlgate_decision", None), _ini(config, key), table.get("decision"), key.default)
    path = Path(next(v for v in raw if isinstance(v, str) and v.strip()).strip()).expanduser()
    path = path if path.is_absolute() else (pyproject.parent if pyproject else config.rootpath) / path
    if table or path.is_file():
        try:
            mark_undecided(path, f"configuration error: {error}")
        except (OSError, ValueError):  # a directory, a path under a file, a NUL byte: the usage error says so
            pass


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "gate(severity='block', category=None, owner=None, stage='push'): an ML quality gate; severity is "
        "block (rejects), review (needs approval) or warn (reported only); stage is push, monitor or both.",
    )
    try:
        settings, active = load_settings(config)
        if active and not informational(config.option):  # every key, whichever stage uses it
            from pytest_mlgate.validation import check_settings

            check_settings(settings)
    except (ConfigError, MlgateError) as exc:  # MlgateError: a sub-table whose extra is not installed
        if not informational(config.option) and not hasattr(config, "workerinput"):
            record_config_error(config, config.option, exc)
        raise pytest.UsageError(str(exc)) from None
    session = GateSession(config, settings, active)
    config.stash[STATE] = session
    config.pluginmanager.register(session, "mlgate-session")
    if config.pluginmanager.hasplugin("xdist"):  # xdist's hooks exist only with xdist installed
        config.pluginmanager.register(CollectionOrder(session), "mlgate-xdist-order")
    config.pluginmanager.register(_dataset_fixtures(settings), "mlgate-datasets")


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """Replace an earlier decision file with "in progress" before a conftest can break the run."""
    option = early_config.known_args_namespace
    if informational(option):  # (an xdist worker also writes it: before the controller decides)
        return
    try:
        settings, active = load_settings(early_config, option)
        if active:
            thaw_at_cleanup(early_config)
            mark_in_progress(settings)
    except ConfigError as exc:  # pytest_configure reports it, unless a conftest breaks the run first
        record_config_error(early_config, option, exc)
    except OSError:
        return  # the session start reports an unwritable decision file


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(STATE, None)
    if session is not None:
        config.pluginmanager.unregister(session)
        config.pluginmanager.unregister(name="mlgate-datasets")
        if config.pluginmanager.has_plugin("mlgate-xdist-order"):
            config.pluginmanager.unregister(name="mlgate-xdist-order")
        del config.stash[STATE]


def pytest_report_header(config: pytest.Config) -> str | None:
    session = config.stash.get(STATE, None)
    if session is None or not session.active:
        return None
    s = session.settings
    return f"mlgate: model={s.model} candidate={s.candidate} baseline={s.baseline} stage={s.stage}"


# ---------------------------------------------------------------- fixtures


def _state(config: pytest.Config) -> GateSession:
    return config.stash[STATE]


@pytest.fixture(scope="session")
def mlgate_config(request: pytest.FixtureRequest) -> Settings:
    """The resolved gate settings."""
    return _state(request.config).settings


@pytest.fixture(scope="session")
def mlgate_workspace(request: pytest.FixtureRequest) -> Workspace:
    """The session's lazily loaded models and datasets."""
    return _state(request.config).workspace


@pytest.fixture(scope="session")
def candidate(mlgate_workspace: Workspace) -> ModelUnderTest:
    """The candidate model under test."""
    return mlgate_workspace.model("candidate")


@pytest.fixture(scope="session")
def baseline(mlgate_workspace: Workspace) -> ModelUnderTest:
    """The production model; tests that need it are skipped when none is configured."""
    model = mlgate_workspace.model("baseline")
    if model is None:
        pytest.skip("no baseline configured (first model): not applicable")
    return model


def _dataset_fixture(name: str) -> Any:
    def fixture(mlgate_workspace: Workspace) -> Dataset:
        return mlgate_workspace.dataset(name)

    fixture.__doc__ = f"The '{name}' dataset from [tool.mlgate.datasets]."
    return pytest.fixture(scope="session", name=name)(fixture)


def _dataset_fixtures(settings: Settings) -> types.ModuleType:
    """A fixture for holdout, reference, current and every other configured dataset name."""
    module = types.ModuleType("pytest_mlgate_datasets")
    names = [*STANDARD_DATASETS, *(n for n in settings.datasets if n.isidentifier() and n not in STANDARD_DATASETS)]
    for name in names:
        setattr(module, f"dataset_{name}", _dataset_fixture(name))
    return module


@pytest.fixture
def mlgate(request: pytest.FixtureRequest, mlgate_workspace: Workspace) -> MlGate:
    """The per-gate check recorder: ``mlgate.at_least(...)``, ``mlgate.no_regression(...)``..."""
    from pytest_mlgate.gates import MlGate

    recorder = MlGate(request.node.nodeid, mlgate_workspace)
    request.node.stash[RECORDER] = recorder
    return recorder


@pytest.fixture(scope="session")
def staging(mlgate_workspace: Workspace) -> Iterator[StagingServer]:
    """The candidate served by ``[tool.mlgate.staging] command`` on a free 127.0.0.1 port, healthy;
    stopped with its child processes at the end of the session (also on failure or interrupt)."""
    from pytest_mlgate.serving.staging import serve_candidate

    candidate = mlgate_workspace.model("candidate")
    if not candidate.live:
        pytest.skip(f"staging server: not applicable, model 'candidate' is {candidate.model!r} (nothing to serve)")
    with serve_candidate(mlgate_workspace) as server:
        yield server


@pytest.fixture(scope="session")
def shadow(mlgate_workspace: Workspace) -> ShadowRun:
    """A sample of the requests recorded in ``[tool.mlgate.shadow] log``, replayed to the candidate
    and to the production model (baseline) in-process; gate it with ``mlgate.shadow_agreement``."""
    from pytest_mlgate.monitoring.shadow import shadow_run

    return shadow_run(mlgate_workspace)
