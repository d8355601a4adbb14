"""Without configuration the plugin costs nothing it need not: stdlib imports only; and report
files are created with the permissions the umask allows."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import json, sys
import pytest
code = pytest.main(["-q", "-p", "no:cacheprovider", *sys.argv[1:], "test_trivial.py"])
print("MODULES=" + json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
sys.exit(code)
"""


def loaded_modules(folder: Path, *args: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=folder, capture_output=True, text=True,
                          timeout=120, env={k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"})
    assert done.returncode == 0, done.stdout + done.stderr
    line = next(line for line in done.stdout.splitlines() if line.startswith("MODULES="))
    return set(json.loads(line.removeprefix("MODULES=")))


def test_without_mlgate_settings_the_plugin_imports_only_the_standard_library(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_trivial.py").write_text("def test_one():\n    assert True\n")
    with_plugin = loaded_modules(tmp_path)
    without = loaded_modules(tmp_path, "-p", "no:mlgate")
    extra = with_plugin - without - set(sys.stdlib_module_names) - {"pytest_mlgate"}
    assert "pytest_mlgate" in with_plugin and not extra, f"imported without any mlgate setting: {sorted(extra)}"
    # and the probe can tell: a configured run does load numpy
    (tmp_path / "pytest.ini").write_text("[pytest]\nmlgate_model = m\n")
    assert "numpy" in loaded_modules(tmp_path) - without


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_report_files_honour_the_umask(project, umask: int, mode: int) -> None:
    project.configure(extra='markdown = "reports/summary.md"\nhtml = "reports/gates.html"')
    project.gates("def test_ok(mlgate):\n    mlgate.at_least('accuracy', 0.5)\n")
    previous = os.umask(umask)
    try:
        project.run()
    finally:
        os.umask(previous)
    reports = project.path / "reports"
    for name in ("mlgate-decision.json", "gates.xml", "summary.md", "gates.html"):
        assert stat.S_IMODE((reports / name).stat().st_mode) == mode, name
    assert not list(reports.glob(".*.tmp"))
