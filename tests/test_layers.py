"""The layers of `pand_core` (book -> experiments -> library -> config -> infra) and no import circles, as
`lint-imports` checks them from pyproject.toml (`make unit` runs it): the contract holds on this tree and breaks
on a copy with one import added that runs upward, even inside a function."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).parent / "lint-imports"

pytestmark = pytest.mark.skipif(not LINT.exists(), reason="import-linter is not installed (the dev extra)")


def _lint(root: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(root))  # the copy under test, not the installed package
    return subprocess.run([str(LINT), "--config", str(root / "pyproject.toml"), "--no-cache"], cwd=root, env=env,
                          capture_output=True, text=True)


def _copy(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "pand_core", tmp_path / "pand_core", ignore=shutil.ignore_patterns("__pycache__", "weights"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_layers_hold_and_nothing_imports_in_a_circle(tmp_path):
    proc = _lint(_copy(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 kept, 0 broken" in proc.stdout


def test_an_upward_import_inside_a_function_breaks_the_layers(tmp_path):
    root = _copy(tmp_path)
    paths = root / "pand_core" / "infra" / "paths.py"
    paths.write_text(paths.read_text() + "\n\ndef _upward():\n    from ..pipeline import make_plan\n\n"
                     "    return make_plan\n")
    proc = _lint(root)
    assert proc.returncode != 0
    assert "pand_core.infra is not allowed to import pand_core.pipeline" in proc.stdout
    assert "pand_core.infra.paths -> pand_core.pipeline" in proc.stdout


def test_a_circle_between_two_library_packages_is_refused(tmp_path):
    root = _copy(tmp_path)
    views = root / "pand_core" / "data" / "views.py"  # stage2 reads data: data reading stage2 closes a circle
    views.write_text(views.read_text() + "\n\ndef _circle():\n    from ..stage2 import distill\n\n    return distill\n")
    proc = _lint(root)
    assert proc.returncode != 0 and "No cycles are allowed in pand_core" in proc.stdout
