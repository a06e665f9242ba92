"""The paper profile's code path, run here before a user runs it on a GPU: the notebooks with `PROFILE = "paper"` and
the batch reproduction `python -m pand_core.pipeline --profile paper`, on a small CUB-layout tree fetched through the
local download mirror into `$PAND_CACHE/data` (no data root named anywhere), a small open_clip teacher saved as a
local weights file (random weights), the student's "ImageNet" checkpoint in torch's hub cache (random weights, read
by torchvision's own `pretrained=True` path) and the schedules shortened through the notebooks' parameters.

What differs from a user's paper run is only the size: the teacher is `pand-tiny-clip` instead of ConvNeXt-XXL, the
tree has 3 classes, the schedules 2 epochs. Profile, recipe (224 px, batch 128, online teacher, AdamW, the paper's
transforms), loaders, download cell, accelerator check and page code are the paper's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import nbformat
import pytest
import torch
import torchvision

from pand_core.assets import data_home
from pand_core.data import download as dl
from pand_core.data import load_dataset
from pand_core.miniature.world import SyntheticSpec, make_synthetic_cub
from pand_core.models import TINY_TEACHER, load_teacher
from pand_core.config import DEFAULT_METHODS
from pand_core.book.execute import NotebookJob, run_notebook

from mirror import Server, serve  # noqa: E402  (tests/mirror.py)

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
TREE = SyntheticSpec(n_classes=3, train_per_class=4, test_per_class=2, image_size=64)


@pytest.fixture(scope="module")
def paper_world(tmp_path_factory) -> dict[str, str]:
    """The environment of a paper-profile session: data downloaded through the mirror into `$PAND_CACHE/data`, the
    teacher file, the student checkpoint in `$TORCH_HOME`. Returns the environment variables a user would set."""
    base = tmp_path_factory.mktemp("paper")
    make_synthetic_cub(base / "tree", TREE, progress=False)
    cache, torch_home = base / "cache", base / "torch"
    server = Server()
    server.thread.start()
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("PAND_CACHE", str(cache))
            mp.delenv("PAND_DATA", raising=False)
            mp.setenv(dl.MIRROR_ENV, server.url)
            serve(mp, server, "cub", base / "tree")
            root = dl.download("cub", data_home(), progress=False)  # the mirror, into where every stage looks
            assert Path(root) == cache / "data" and len(load_dataset("cub", cache / "data", "train")) == 12
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.manual_seed(0)
        teacher = load_teacher(TINY_TEACHER, None)
    torch.save(teacher.model.state_dict(), base / "teacher.pt")
    url = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.url
    hub = torch_home / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    torch.save(torchvision.models.resnet18().state_dict(), hub / url.rsplit("/", 1)[1])
    return {"PAND_CACHE": str(cache), "TORCH_HOME": str(torch_home), "PAND_TEACHER": TINY_TEACHER,
            "PAND_TEACHER_WEIGHTS": str(base / "teacher.pt"), "PAND_STAGE1_EPOCHS": "2", "PAND_STAGE2_EPOCHS": "2",
            "base": str(base)}


def _user_env(paper_world: dict[str, str], monkeypatch, runs: Path) -> None:
    for key, value in paper_world.items():
        if key != "base":
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("PAND_PROFILE", "paper")
    monkeypatch.setenv("PAND_RUNS", str(runs))
    monkeypatch.setenv("PAND_DOWNLOAD", "1")  # the download cell runs, and finds the finished download
    for key in ("PAND_DATA", dl.MIRROR_ENV, "PAND_DATASET", "PAND_METHOD", "PAND_STUDENT", "PAND_TEACHER_MODE"):
        monkeypatch.delenv(key, raising=False)


def _outputs(path: Path) -> str:
    nb = nbformat.read(str(path), as_version=4)
    return "\n".join(o.get("text", "") if isinstance(o.get("text"), str) else "".join(o.get("text", []))
                     for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


def test_the_paper_notebooks_run_on_the_paper_profile(paper_world, monkeypatch, tmp_path):
    """The quickstart, Stage 1 and Stage 2 pages with `PROFILE = "paper"`: every cell runs (the accelerator check,
    the download cell, both stages online at 224 px), nothing is written to stderr (the book would reject it)."""
    runs = Path(paper_world["base"]) / "runs"  # the next test's pipeline continues in this folder
    _user_env(paper_world, monkeypatch, runs)
    out = tmp_path / "executed"
    for name in ("00_quickstart", "01_prompt_calibration", "03_distillation"):
        run_notebook(NotebookJob(name, "paper", {}), out, strict=True, live=False)
    quick = _outputs(out / "notebooks" / "00_quickstart-paper.ipynb")
    assert "cub: data in $PAND_CACHE/data" in quick  # DOWNLOAD = True found the download, fetched nothing
    assert ("No GPU" in quick) != torch.cuda.is_available()  # describe_accelerator ran
    cal = json.loads((runs / "paper" / "cub" / "calibrate-s0" / "result.json").read_text())
    assert cal["profile"] == "paper" and cal["epochs"] == 2 and cal["teacher"]["source"].startswith("file:")
    for method in ("ce", "pand"):
        run = runs / "paper" / "cub" / f"{method}-resnet18-s0"
        cfg = json.loads((run / "config.json").read_text())
        assert (cfg["profile"], cfg["image_size"], cfg["batch_size"], cfg["epochs"], cfg["data_root"]) == \
               ("paper", 224, 128, 2, None)
        assert cfg["teacher_mode"] == "online" and cfg["teacher"] == TINY_TEACHER
        assert json.loads((run / "result.json").read_text())["test_images_scored"] == 6


def test_the_batch_reproduction_runs_on_the_paper_profile(paper_world, tmp_path):
    """`python -m pand_core.pipeline --profile paper`, shortened by its flags: the plan, every method it schedules on
    the paper profile, the study summary and the book built from the executed pages. It runs in the runs folder the
    pages filled (as a user who tried the quickstart, then the whole reproduction): the runs they trained are the
    pipeline's own configurations, read and not trained again."""
    runs, html = Path(paper_world["base"]) / "runs", tmp_path / "html"
    before = {p.parent.name: p.stat().st_mtime_ns for p in (runs / "paper" / "cub").glob("*/result.json")}
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAND_")}
    env.update(PAND_CACHE=paper_world["PAND_CACHE"], TORCH_HOME=paper_world["TORCH_HOME"], PAND_PROGRESS="0")
    cmd = [sys.executable, "-m", "pand_core.pipeline", "--profile", "paper", "--teacher", TINY_TEACHER,
           "--teacher-weights", paper_world["PAND_TEACHER_WEIGHTS"], "--stage1-epochs", "2", "--stage2-epochs", "2",
           "--runs", str(runs), "--book", "--html", str(html)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads((runs / "paper" / "cub" / "summary.json").read_text())
    assert summary["student"] == "resnet18" and set(summary["methods"]) == set(DEFAULT_METHODS["paper"])
    for method in DEFAULT_METHODS["paper"]:
        result = json.loads((runs / "paper" / "cub" / f"{method}-resnet18-s0" / "result.json").read_text())
        assert result["profile"] == "paper" and result["epochs"] == 2, method
    if before:  # the pages' test ran first (alone, this test trains every run itself)
        assert set(before) == {"calibrate-s0", "ce-resnet18-s0", "pand-resnet18-s0"}
        assert {r: (runs / "paper" / "cub" / r / "result.json").stat().st_mtime_ns for r in before} == before
    jobs = json.loads((runs / "pipeline.json").read_text())["jobs"]
    assert [j["notebook"] for j in jobs] == ["00_quickstart", "06_your_own_data", "01_prompt_calibration",
                                             "03_distillation", "02_neighborhood_graph", "04_results", "05_costs"]
    for page in ("00_quickstart", "01_prompt_calibration", "02_neighborhood_graph", "03_distillation", "04_results"):
        assert (html / "notebooks" / f"{page}.html").exists(), page
