"""The install path of the one-GPU recipe while the repository is not public: a wheel built from a clone holds the
library, the miniature's shipped weights, the model configs and the measured benchmarks, and works on its own."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_a_wheel_built_from_a_clone_carries_what_the_notebooks_need(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", str(REPO),
                    "-w", str(tmp_path / "dist")], check=True, capture_output=True)
    (wheel,) = (tmp_path / "dist").glob("pand_core-*-py3-none-any.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("pand_core/miniature/weights/pand-mini-clip/open_clip_pytorch_model.bin",
                   "pand_core/miniature/weights/pand-mini-resnet/weights.pt",
                   "pand_core/model_configs/pand-mini-clip.json", "pand_core/book/colab.py"):
        assert needed in names, needed
    assert any(n.startswith("pand_core/measured/") and n.endswith(".json") for n in names)
    # installed alone (no clone beside it), the shipped weights pass their hash check
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(tmp_path / "site"),
                    str(wheel)], check=True, capture_output=True)
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    out = subprocess.run([sys.executable, "-m", "pand_core.miniature", "check"], cwd=tmp_path, env=env,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    where = subprocess.run([sys.executable, "-c", "import pand_core; print(pand_core.__file__)"], cwd=tmp_path,
                           env=env, capture_output=True, text=True).stdout
    assert str(tmp_path / "site") in where
