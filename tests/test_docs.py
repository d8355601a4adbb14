"""The gate catalog: generated from the suite's code and the audit trail, in Markdown and HTML."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

from pytest_mlgate.cli import main

GATES = '''
import pytest

def test_auc_floor(mlgate):
    """The candidate ranks defaulters above payers well enough to lend on."""
    mlgate.at_least("roc_auc", {floor})

def test_no_regression(mlgate):
    mlgate.no_regression("roc_auc", max_relative_drop=0.02)

@pytest.mark.gate(severity="review", category="fairness", owner="credit-ops")
def test_selection_rate(mlgate):
    """Four-fifths rule between the sexes."""
    mlgate.fairness("sex", min_ratio=0.8)

@pytest.mark.gate(stage="monitor", severity="warn")
def test_live(candidate):
    assert True
'''
EXAMPLE = Path(__file__).resolve().parents[1] / "example_project"


def docs(project, capsys, *args: str) -> str:
    capsys.readouterr()
    assert main(["docs", *args, "--config", str(project.path / "pyproject.toml")]) == 0, capsys.readouterr().err
    return capsys.readouterr().out


def test_docs_list_every_gate_and_follow_a_threshold_change(project, capsys):
    project.configure(extra='approvers = ["lead@example.org"]')
    project.gates(GATES.format(floor=0.6))
    before = docs(project, capsys)
    assert "| test_auc_floor | push | block |  | risk-ml@example.org | not yet run | not yet run |" in before
    assert "| test_selection_rate | push | review | fairness | credit-ops |" in before
    assert "| test_live | monitor | warn |" in before  # every stage is documented, whatever runs now
    assert "The candidate ranks defaulters above payers well enough to lend on." in before
    assert "who may approve a failure: lead@example.org" in before
    assert not (project.path / "reports" / "mlgate-decision.json").exists()  # collecting ran nothing

    assert project.run("--mlgate-docs", "reports/gates.md").ret == 0
    after = (project.path / "reports" / "gates.md").read_text()
    assert "`roc_auc[holdout]`: >= 0.6 on holdout" in after and "`roc_auc[holdout]`: drop <= " in after
    assert "`selection_rate ratio[holdout, sex]`: >= 0.8 on holdout" in after
    assert "- last outcomes: passed (" in after and "| test_live | monitor | warn |" in after
    assert docs(project, capsys).split("\n", 3)[3] == after.split("\n", 3)[3]  # the command reads the same trail

    project.gates(GATES.format(floor=0.65))
    assert project.run("--mlgate-docs", "reports/gates.md").ret == 0
    changed = (project.path / "reports" / "gates.md").read_text()
    assert "`roc_auc[holdout]`: >= 0.65 on holdout" in changed and ">= 0.6 on" not in changed

    out = project.path / "catalog.html"
    assert main(["docs", "-o", str(out), "--config", str(project.path / "pyproject.toml")]) == 0
    html = out.read_text()
    assert "default-src 'none'" in html and "<script" not in html
    for name in ("test_auc_floor", "test_no_regression", "test_selection_rate", "test_live"):
        assert f">{name}</a>" in html
    assert "roc_auc[holdout]: &gt;= 0.65 on holdout" in html


def test_a_collection_error_is_one_line(project, capsys):
    project.gates("import not_a_module\n")
    assert main(["docs", "--config", str(project.path / "pyproject.toml")]) == 2
    assert "docs: collecting the gates failed (test_gates.py)" in capsys.readouterr().err


def test_docs_of_the_example_suite_list_every_gate_with_severity_and_owner(tmp_path):
    shutil.copytree(EXAMPLE / "gates", tmp_path / "gates")
    shutil.copy(EXAMPLE / "pyproject.toml", tmp_path / "pyproject.toml")
    expected = {}
    for path in (tmp_path / "gates").glob("test_*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                expected[node.name] = path.name
    # a fresh process, as from a shell: this test process has imported modules of the same names (tests/)
    done = subprocess.run([sys.executable, "-m", "pytest_mlgate.cli", "docs", "--config", str(tmp_path / "pyproject.toml")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    rows = {line.split(" | ")[0].lstrip("| ").split("[")[0]: line.split(" | ") for line in text.splitlines()
            if line.startswith("| test_")}
    assert set(expected) <= set(rows), set(expected) - set(rows)
    for name in expected:
        severity, owner = rows[name][2], rows[name][4]
        assert severity in ("block", "review", "warn") and owner, rows[name]
    assert rows["test_no_costlier_than_production"][2:5] == ["review", "business", "credit-ops"]
    assert "not yet run" in rows["test_no_costlier_than_production"][5]
    assert rows["test_dispute_rate"][1:3] == ["monitor", "block"]


def test_docs_after_an_xdist_run_list_the_gates_that_ran(project):
    project.gates(GATES.format(floor=0.6))
    assert project.run("-n", "2", "--mlgate-docs", "reports/gates.md").ret == 0
    text = (project.path / "reports" / "gates.md").read_text()
    for name in ("test_auc_floor", "test_no_regression", "test_selection_rate"):
        assert f"| {name} | push |" in text
    assert "`roc_auc[holdout]`: >= 0.6 on holdout" in text


def test_the_recommended_suite_is_one_text_in_the_readme_the_example_and_the_test_bench():
    """The README's "Recommended suite" block is the example's gate file, which the bench runs."""
    import re

    import test_bench_suite

    readme = (EXAMPLE.parent / "README.md").read_text()
    section = readme.split("\n## Recommended suite\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)
    suite = EXAMPLE / "gates" / "test_recommended.py"
    assert block == suite.read_text()
    assert test_bench_suite.SUITE == suite
