"""describe_accelerator: what it says on a CPU, and the fit rule on measured and estimated memory."""

from __future__ import annotations

import json

import torch

from pand_core.book import accelerator as devices


def test_cpu_runtime_says_there_is_no_gpu(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    text = devices.describe_accelerator()
    printed = capsys.readouterr().out.strip()
    assert text.startswith("No GPU") and " ".join(printed.split()) == text  # printed wrapped at 88 columns
    assert max(len(line) for line in printed.splitlines()) <= 88


def test_fit_on_estimates_labels_them_as_estimates():
    online, bank, basis = devices.recipe_fit(14.7)  # a 16 GB T4 as PyTorch sees it
    assert (online, bank) == (False, True) and "estimate" in basis
    assert devices.recipe_fit(79.0)[:2] == (True, True)
    assert devices.recipe_fit(8.0)[:2] == (False, False)


def test_measured_peaks_take_precedence(tmp_path):
    rec = {"parts": {"memory": {"modes": {"resnet18": {"fp32": {"pand_online": {"peak_gib": 20.0},
                                                                "pand_bank": {"peak_gib": 9.0}, "ce": {"peak_gib": 4.0}},
                                                       "bf16": {"pand_online": {"peak_gib": 99.0}}}}}}}
    (tmp_path / "gpu-test.json").write_text(json.dumps(rec))
    peaks = devices.measured_recipe_peaks(tmp_path)
    assert peaks == {"pand_online": 20.0, "pand_bank": 9.0}
    online, bank, basis = devices.recipe_fit(22.0, peaks)
    assert (online, bank) == (True, True) and basis.startswith("measured")
    assert devices.recipe_fit(15.0, peaks)[:2] == (False, True)
    assert devices.measured_recipe_peaks(tmp_path / "missing") == {}


def test_describe_a_gpu(monkeypatch):
    class Props:
        name, total_memory = "Tesla T4", int(14.7 * 2**30)

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda i: Props())
    monkeypatch.setattr(devices, "measured_recipe_peaks", lambda: {})
    text = devices.describe_accelerator(print_result=False)
    assert "Tesla T4, 14.7 GiB" in text and "TEACHER_MODE = 'bank'" in text and "estimate" in text
    assert "TEACHER = 'convnext_xxlarge'" in text and "ViT-B-32" in text  # the cheap alternative is named


def test_the_recommended_teacher_follows_the_memory_and_exists_in_open_clip():
    import open_clip

    assert devices.recommend(None)["PROFILE"] == "smoke"
    big, t4, small = devices.recommend(79.0), devices.recommend(14.7), devices.recommend(8.0)
    assert (big["TEACHER"], big["TEACHER_MODE"]) == ("convnext_xxlarge", "online")
    assert (t4["TEACHER"], t4["TEACHER_MODE"]) == ("convnext_xxlarge", "bank")
    assert (small["TEACHER"], small["TEACHER_WEIGHTS"], small["TEACHER_MODE"]) == ("ViT-B-32", "openai", "online")
    for rec in (big, t4, small):  # every recommendation names a real open_clip model and one of its tags
        assert rec["TEACHER_WEIGHTS"] in open_clip.list_pretrained_tags_by_model(rec["TEACHER"])


def test_the_measured_figures_ship_with_the_package():
    """`describe_accelerator()` and the costs page read `paths.MEASURED_DIR`: a folder inside the package whose JSON files
    the package data lists, so a pip install (Colab) carries them."""
    from pathlib import Path

    import pytest

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    import pand_core
    from pand_core.infra.paths import MEASURED_DIR
    from pand_core.report import collect_benchmarks

    package = Path(pand_core.__file__).resolve().parent
    assert MEASURED_DIR.parent == package and collect_benchmarks(MEASURED_DIR)
    globs = tomllib.loads((package.parent / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["pand_core"]
    for path in MEASURED_DIR.glob("*.json"):
        assert any(path.relative_to(package).match(g) for g in globs), path.name


def test_a_benchmark_result_is_written_with_its_environment(tmp_path, capsys):
    from pand_core.infra.environment import write_benchmark
    from pand_core.infra.paths import MEASURED_DIR

    path = write_benchmark({"benchmark": "x", "value": 1.5}, "x-cpu", str(tmp_path / "x.json"))
    record = json.loads(path.read_text())
    assert record["value"] == 1.5 and record["environment"]["device"] in ("cpu", "cuda") and "torch" in record["environment"]
    assert capsys.readouterr().out.strip() == f"wrote {path}"
    assert not (MEASURED_DIR / "x-cpu.json").exists()  # `out` given: nothing written beside the shipped measurements
