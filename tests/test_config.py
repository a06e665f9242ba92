"""`config` sits at the bottom of the import graph: it validates names from plain registries and the libraries that
define them, never by importing model or data code; its registries agree with the code that owns the names."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pand_core import config
from pand_core.config import make_config
from pand_core.infra.errors import ConfigError


def test_making_the_smoke_configs_imports_no_model_or_data_code():
    code = ("import sys; from pand_core.config import make_config; make_config('calibrate', 'smoke'); "
            "make_config('distill', 'smoke'); print(' '.join(sorted(m for m in sys.modules if m.startswith("
            "('pand_core', 'torch', 'torchvision', 'open_clip')))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == ["pand_core", "pand_core.config", "pand_core.infra", "pand_core.infra.errors", "pand_core.infra.paths",
                      "pand_core.infra.seeds", "pand_core.infra.version"]


def test_the_command_line_and_its_help_load_no_torch():
    """`import pand_core.cli` and `python -m pand_core distill --help` build the parser from the plain registries:
    no torch, torchvision, open_clip or numpy (seconds saved on every `--help`); a stage imports them when it runs."""
    code = ("import sys, contextlib, io\nimport pand_core.cli as cli\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    for argv in ([], ['distill', '--help'], ['calibrate', '--help'], ['data', 'download', '--help']):\n"
            "        try:\n            cli.main(argv or ['--help'])\n        except SystemExit:\n            pass\n"
            "print(sorted(m for m in ('torch', 'torchvision', 'open_clip', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_name_registries_agree_with_the_code_that_owns_the_names():
    from pand_core import models
    from pand_core.models import mini_resnet as mininet
    from pand_core.data import DATASETS

    from pand_core.data.download import REGISTRY

    assert set(config.DATASET_NAMES) == set(DATASETS)
    assert config.DOWNLOADABLE_NAMES == tuple(REGISTRY)  # `--all` fetches what has an archive
    assert {p.stem for p in config.MODEL_CONFIG_DIR.glob("*.json")} == {models.TINY_TEACHER, models.MINI_TEACHER}
    assert [config.is_known_teacher(n) for n in (models.TINY_TEACHER, models.MINI_TEACHER, "convnext_xxlarge",
                                                  "ViT-B-32", "ViT-Z", "hf-hub:a/b", "x")] == [True] * 4 + [False, True, False]
    assert isinstance(mininet.get_student_network(config.MINI_STUDENT, 3), mininet.MiniResNet)
    assert [config.is_known_student(n) for n in (config.MINI_STUDENT, "resnet18", "mobilenet_v2", "resnet-18",
                                                  "pand-tiny-clip")] == [True, True, True, False, False]


@pytest.mark.parametrize("stage, field, value, message", [
    ("calibrate", "dataset", "birds", "unknown data set 'birds'; expected one of ['aircraft', 'cars', 'cub', 'dogs', 'folder', 'pets']"),
    ("calibrate", "teacher", "ViT-Z", "unknown teacher 'ViT-Z'"),
    ("distill", "student", "resnet-18", "unknown student 'resnet-18'"),
    ("distill", "student_weights", "IMAGENET1K_V9", "student resnet18 has no ImageNet weights 'IMAGENET1K_V9'"),
])
def test_make_config_refuses_unknown_names(stage, field, value, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        make_config(stage, "paper", **{field: value})


def test_the_cache_folder_is_resolved_once_into_the_config(tmp_path, monkeypatch):
    """`make_config` reads `$PAND_CACHE` once into `cfg.cache`; the stages below read the field, so changing the
    variable afterwards moves no run's caches; an explicit `cache` wins; a resumed run may find its cache elsewhere."""
    from pand_core.config import RESUME_IGNORES

    monkeypatch.setenv("PAND_CACHE", str(tmp_path / "a"))
    cfg = make_config("distill", "smoke")
    monkeypatch.setenv("PAND_CACHE", str(tmp_path / "b"))
    assert cfg.cache == str(tmp_path / "a") and make_config("calibrate", "smoke").cache == str(tmp_path / "b")
    assert make_config("distill", "smoke", cache=str(tmp_path / "c")).cache == str(tmp_path / "c")
    assert "cache" in RESUME_IGNORES


def test_the_runs_folder_is_passed_not_read_from_the_environment_below_the_edge(tmp_path, monkeypatch):
    """`make_config(runs=...)` decides the default run folder and the anchors it finds; `$PAND_RUNS` is only the
    default when no folder is passed (the command line's and the notebooks' edge)."""
    monkeypatch.setenv("PAND_RUNS", str(tmp_path / "env"))
    assert make_config("distill", "smoke", method="ce").out == str(tmp_path / "env" / "smoke" / "cub" / "ce-pand-mini-resnet-s0")
    anchors = tmp_path / "mine" / "smoke" / "cub" / "calibrate-s3" / "anchors.pt"  # Stage 1's, not looked for on disk
    cfg = make_config("distill", "smoke", runs=tmp_path / "mine", method="pand", seed=3)
    assert cfg.out == str(tmp_path / "mine" / "smoke" / "cub" / "pand-pand-mini-resnet-s3") and cfg.anchors == str(anchors)
    assert make_config("distill", "smoke", method="vl2lite").anchors is None  # hand prompts: no Stage 1
    assert make_config("calibrate", "smoke", runs=tmp_path / "mine").out == str(tmp_path / "mine" / "smoke" / "cub" / "calibrate-s0")
