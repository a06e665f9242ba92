"""The GPU suite (`benchmarks/gpu_suite.py`) on the CPU: its dry run runs every part at tiny sizes and writes a JSON that
names every part's numbers or why it has none; the budget skips parts and says so; targets are never computed from a
dry run, and are computed (booleans) from a GPU-shaped record."""

from __future__ import annotations

import copy
import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "benchmarks" / "gpu_suite.py"
PARTS = ("step", "memory", "data_path", "bank_build", "stage1", "end_to_end")


def _suite_module():
    spec = importlib.util.spec_from_file_location("gpu_suite", SUITE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _run(out: Path, *extra: str) -> tuple[dict, float]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, str(SUITE), "--dry-run", "--out", str(out), *extra], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    wall = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text()), wall


@pytest.fixture(scope="module")
def dry(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("gpu_suite") / "dry.json")


@pytest.mark.slow
def test_dry_run_measures_every_part_quickly(dry):
    r, wall = dry
    assert wall < 120, f"the dry run took {wall:.0f} s (must stay under two minutes)"
    assert r["benchmark"] == "gpu_suite" and r["dry_run"] is True and r["device"] == "cpu" and r["gpu"] is None
    assert r["finished"] is True and r["skipped"] == [] and r["failed"] == []
    assert {r["parts"][p]["part"] for p in PARTS} == {1, 2, 3, 4, 5, 6}
    for p in PARTS:
        assert r["parts"][p]["status"] == "measured", (p, r["parts"][p].get("reason"))
    step = r["parts"]["step"]
    for student in ("resnet18", "mobilenet_v2"):
        for precision in ("fp32", "bf16"):
            times = step["students"][student][precision]
            assert set(times) == {"ce", "pand_bank", "pand_online"}
            for t in times.values():
                assert t["median_s"] > 0 and t["p10_s"] <= t["median_s"] <= t["p90_s"] and t["images_per_s"] > 0
                assert t["peak_memory_bytes"] is None  # no CUDA: null, never a made-up number
            assert step["ratios_to_ce"][student][precision]["ce"] == 1.0
    mem = r["parts"]["memory"]["modes"]["resnet18"]["bf16"]["pand_bank"]
    assert mem["peak_bytes"] is None and mem["fits_16gb_colab"] is None
    assert r["parts"]["bank_build"]["images_per_s"] > 0 and r["parts"]["bank_build"]["bank_build_s_projected"] > 0
    s1 = r["parts"]["stage1"]
    assert s1["truncated"]["sequence_length"] < s1["full"]["sequence_length"] and s1["truncated"]["step_s"] > 0
    dp = r["parts"]["data_path"]
    assert dp["cpu_path_images_per_s"] > 0 and dp["device_path_images_per_s"] > 0 and dp["workers"] >= 1
    e2e = r["parts"]["end_to_end"]
    assert e2e["epochs_run"] == len(e2e["epoch_time_s"]) == 2 and all(t > 0 for t in e2e["epoch_time_s"])
    assert e2e["config"]["method"] == "pand" and e2e["config"]["teacher_mode"] == "bank"
    assert set(r["summary"]["can_feed"]["resnet18 bf16 ce"]) == {"step_images_per_s", "cpu_path", "device_path"}
    proj = r["summary"]["projection"]
    assert proj["projected"] is True and "300 x stage2_epoch_s" in proj["formula"] and proj["total_s"] > 0


@pytest.mark.slow  # the dry run is a benchmark run (12 s): every test that reads it is in the slow tier
def test_dry_run_never_computes_targets(dry):
    r, _ = dry
    assert all(r["targets"][k] is None for k in ("pand_bank_le_1.15x_ce_bf16", "cub_reproduction_le_15_min",
                                                 "device_data_path_feeds_step"))


@pytest.mark.slow
def test_targets_are_booleans_from_a_gpu_record(dry):
    suite = _suite_module()
    r = copy.deepcopy(dry[0])
    r.update(dry_run=False, device="cuda", gpu={"name": "NVIDIA H100 80GB HBM3"})
    bf16 = r["parts"]["step"]["ratios_to_ce"]
    for student in bf16:
        bf16[student]["bf16"]["pand_bank"] = 1.1
    _, targets = suite.summarise(r)
    assert targets["pand_bank_le_1.15x_ce_bf16"] is True
    assert isinstance(targets["cub_reproduction_le_15_min"], bool)
    assert isinstance(targets["device_data_path_feeds_step"], bool)
    bf16["resnet18"]["bf16"]["pand_bank"] = 1.2
    assert suite.summarise(r)[1]["pand_bank_le_1.15x_ce_bf16"] is False
    r["parts"]["end_to_end"] = {"part": 6, "status": "skipped", "reason": "budget"}
    summary, targets = suite.summarise(r)
    assert summary["projection"] is None and targets["cub_reproduction_le_15_min"] is None


@pytest.mark.slow
def test_zero_budget_skips_every_part_and_says_why(tmp_path):
    r, _ = _run(tmp_path / "zero.json", "--budget-s", "0")
    assert r["skipped"] == list(_suite_module().PART_ORDER) and r["finished"] is True
    for p in PARTS:
        assert r["parts"][p]["status"] == "skipped" and "budget" in r["parts"][p]["reason"]
    assert r["summary"]["projection"] is None and r["teacher"] is None
    assert all(v is None for k, v in r["targets"].items() if k != "note")


def test_gpu_name_slug():
    assert _suite_module().slug("NVIDIA H100 80GB HBM3") == "nvidia-h100-80gb-hbm3"
