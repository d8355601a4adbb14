"""Files ``mlgate init`` writes, kept in one place: CI templates and the recommended gate suite.

The CI templates here are also the example project's (``example_project/ci/``), rendered with
:func:`ci_template`; a test keeps the two identical.
"""

from __future__ import annotations

from importlib import resources

CI_FILES = {"github": "github-actions.yml", "gitlab": "gitlab-ci.yml", "jenkins": "Jenkinsfile"}


def ci_template(ci: str, *, directory: str = ".", install: str = "pytest-mlgate", prepare: str | None = None) -> str:
    """The CI file for ``ci`` (github, gitlab or jenkins) for a project in ``directory`` of the repository.

    ``install`` is what ``pip install`` gets; ``prepare`` an optional script run before the gate
    (the example trains its models with ``train.py``).
    """
    text = resources.files(__package__).joinpath(CI_FILES[ci]).read_text(encoding="utf-8")
    lines, keep = [], True
    for line in text.splitlines(keepends=True):
        if "@@prepare-begin" in line or "@@prepare-end" in line:
            keep = "@@prepare-end" in line or prepare is not None
            continue
        if keep:
            lines.append(line)
    prefix = "" if directory in ("", ".") else directory.rstrip("/") + "/"
    text = "".join(lines)
    for token, value in (("dir", directory or "."), ("prefix", prefix), ("install", install),
                         ("prepare", prepare or "")):
        text = text.replace(f"@@{token}@@", value)
    return text
