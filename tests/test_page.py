"""A notebook opens in one line after its parameters cell (`book.page.open_page(globals())`): the cell's plain
assignments become the page's `RunParams`, its runs folder and clock start, and the paper profile fetches its data
first when `DOWNLOAD` is set."""

from __future__ import annotations

import os

from pand_core.book.page import open_page
from pand_core.params import RunParams


def test_the_parameters_cell_becomes_the_pages_run_params():
    cell = {"PROFILE": "paper", "DATASET": "pets", "DATA_ROOT": "/d", "SEED": 4, "TEACHER": "ViT-B-32",
            "TEACHER_WEIGHTS": "openai", "STUDENT": "mobilenet_v2", "TEACHER_MODE": "bank", "STAGE1_EPOCHS": 2,
            "STAGE2_EPOCHS": 3, "RUNS": "r", "METHOD": "pand", "os": os}  # other names are left alone
    assert RunParams.from_cell(cell) == RunParams("paper", "pets", "/d", 4, teacher="ViT-B-32",
                                                  teacher_weights="openai", student="mobilenet_v2",
                                                  teacher_mode="bank", stage1_epochs=2, stage2_epochs=3)
    assert RunParams.from_cell({"PROFILE": "smoke", "SEED": 1}) == RunParams("smoke", seed=1)  # absent: default


def test_open_page_points_the_runs_at_runs_and_fetches_only_when_asked(tmp_path, monkeypatch):
    fetched = []
    monkeypatch.setattr(RunParams, "fetch", lambda self: fetched.append(self.dataset))
    monkeypatch.setenv("PAND_RUNS", "elsewhere")
    page, params = open_page({"RUNS": str(tmp_path), "PROFILE": "smoke", "DOWNLOAD": True})
    assert page.runs == tmp_path and os.environ["PAND_RUNS"] == str(tmp_path) and params.profile == "smoke"
    assert fetched == []  # the smoke profile's world is drawn, not downloaded
    open_page({"RUNS": str(tmp_path), "PROFILE": "paper", "DATASET": "dogs", "DOWNLOAD": False})
    assert fetched == []
    open_page({"RUNS": str(tmp_path), "PROFILE": "paper", "DATASET": "dogs", "DOWNLOAD": True})
    assert fetched == ["dogs"]
