"""The GPU suite: everything the CPU cannot measure, in one process on one GPU, inside a wall-clock budget.

    python benchmarks/gpu_suite.py                 # on a GPU: writes pand_core/measured/gpu-<gpu name>.json
    python benchmarks/gpu_suite.py --dry-run       # every part at tiny sizes on the CPU (a test runs it)

Parts, by number (the JSON keys them by name and number); they run in the order 1, 2, 4, 5, 3, 6 (`PART_ORDER`): the
parts that read the synthetic world (3, 6) come last, so that it is drawn in a background process meanwhile.
  1 step        Stage 2 step at the paper's sizes (ResNet-18 and MobileNet-V2, 224 px, batch 128, ConvNeXt-XXL CLIP
                with random weights): ce, pand with the bank, pand online; fp32 and bf16 + channels-last; through the
                trainer's own step (`benchmarks/step_time.measure_modes`). Ratios to ce in this process.
  2 memory      peak GPU memory of each of those modes (measured with part 1) and whether it fits a 16 GB Colab GPU.
  3 data_path   the CPU loader (os.cpu_count() workers) and the device path from the uint8 cache, at 224 px, on the
                synthetic CUB-sized world's training split (`data_path.measure_data_path`); whether each can feed
                the steps of part 1.
  4 bank_build  the teacher's image tower in bf16 (images/s) and the projected time of the recipe's bank (its
                `bank_views` views of every image of CUB's training split).
  5 stage1      Stage 1 seconds per epoch at CUB's classes, truncated and full text tower
                (`stage1_epoch.measure_stage1`).
  6 end_to_end  Stage 2 `pand` with the bank through `distill()` on a synthetic world of CUB's sizes (its classes, and
                CUB's train / test images a class, rounded; drawn at 256 px, trained at 224), test evaluation every
                epoch; measured epoch times and a projection of the whole recipe.

Before each part the budget is checked: a part whose usual cost would not fit in what is left is recorded as skipped
with the reason. The JSON is re-written after every part (and after every sub-measurement of part 1), so a killed
run leaves what it measured; parts not reached say "pending". A part that raises is recorded as failed with its
error, and the suite goes on. Targets are computed only from a GPU run (null on a dry run or when not measured).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path
from typing import Callable

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling benchmarks, run as a script or imported

from data_path import measure_data_path  # noqa: E402
from stage1_epoch import measure_stage1  # noqa: E402
from step_time import measure_modes, sync  # noqa: E402

from pand_core.infra.paths import MEASURED_DIR  # noqa: E402
from pand_core.config import CalibrateConfig, make_config  # noqa: E402
from pand_core.config import SPLIT_SIZES  # noqa: E402
from pand_core.infra.environment import environment  # noqa: E402
from pand_core.models.features import teacher_autocast  # noqa: E402
from pand_core.infra.files import write_json  # noqa: E402
from pand_core.models import build_tiny_teacher, load_teacher  # noqa: E402

CUB_TRAIN, CUB_TEST, CUB_CLASSES = SPLIT_SIZES["cub"]
PAPER_RECIPE = make_config("distill", "paper")  # the paper's Stage 2 recipe, from its one home (config.DistillConfig)
PAPER_EPOCHS, BANK_VIEWS = PAPER_RECIPE.epochs, PAPER_RECIPE.bank_views
COLAB_GIB = 15.0  # a 16 GB Colab T4 shows about 15 GiB to PyTorch
TARGETS = {"step_ratio": 1.15, "reproduction_s": 15 * 60}
PART_ORDER = ("step", "memory", "bank_build", "stage1", "data_path", "end_to_end")
PART_NUMBER = {"step": 1, "memory": 2, "data_path": 3, "bank_build": 4, "stage1": 5, "end_to_end": 6}
STUDENTS = ("resnet18", "mobilenet_v2")

# Sizes: "gpu" is the paper's; "dry" keeps every code path at sizes a 2-core CPU runs in well under two minutes.
# `cost_s` is each part's usual cost on an H100-class GPU (dry: on the CPU), checked against the budget before it runs.
SIZES = {
    "gpu": dict(teacher="convnext_xxlarge", image=224, resize=256, batch=128, classes=CUB_CLASSES, group=None,
                steps=20, warmup=5, bank_images=1000, bank_batches=6, stage1_steps=3, e2e_epochs=3,
                world=dict(n_classes=CUB_CLASSES, train_per_class=round(CUB_TRAIN / CUB_CLASSES),
                           test_per_class=round(CUB_TEST / CUB_CLASSES), image_size=256),
                cost_s=dict(step=200, memory=0, bank_build=25, stage1=30, data_path=40, end_to_end=150)),
    "dry": dict(teacher="pand-tiny-clip", image=32, resize=36, batch=8, classes=4, group=4,
                steps=1, warmup=1, bank_images=16, bank_batches=2, stage1_steps=1, e2e_epochs=2,
                world=dict(n_classes=4, train_per_class=4, test_per_class=3, image_size=40),
                cost_s=dict(step=3, memory=0, bank_build=1, stage1=2, data_path=3, end_to_end=5)),
}


def slug(name: str) -> str:
    """A file-name form of a device name: lower case, runs of other characters as one '-'."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def gpu_info(device: torch.device) -> dict | None:
    """Name, memory and compute capability of the CUDA device; None off CUDA."""
    if device.type != "cuda":
        return None
    p = torch.cuda.get_device_properties(device)
    return {"name": p.name, "total_memory_bytes": p.total_memory, "capability": f"{p.major}.{p.minor}",
            "multiprocessors": p.multi_processor_count}


class BudgetExceeded(Exception):
    """Raised from distill()'s epoch callback when the suite's budget is spent (the epochs done stay recorded)."""


class Suite:
    """The run's state: the JSON being written, the budget, the shared teacher and the background world."""

    def __init__(self, out: Path, budget_s: float, dry_run: bool, device: torch.device, log: Callable[[str], None]):
        self.t0 = time.perf_counter()
        self.out, self.budget_s, self.dry_run, self.device, self.log = out, budget_s, dry_run, device, log
        self.size = SIZES["dry" if dry_run else "gpu"]
        self.tmp = Path(tempfile.mkdtemp(prefix="pand-gpu-suite-"))
        self.teacher = None
        self.world_proc: subprocess.Popen | None = None
        self.world_root = self.tmp / "world"
        self.result = {
            "benchmark": "gpu_suite",
            "dry_run": dry_run,
            "device": str(device),
            "gpu": gpu_info(device),
            "environment": environment(),
            "budget_s": budget_s,
            "elapsed_s": 0.0,
            "finished": False,
            "sizes": {k: v for k, v in self.size.items() if k != "cost_s"},
            "teacher": None,
            "parts": {name: {"part": PART_NUMBER[name], "status": "pending", "reason": "not reached (yet)"}
                      for name in PART_ORDER},
            "skipped": [],
            "failed": [],
            "summary": {},
            "targets": {},
            "note": ("random weights everywhere (timing only); synthetic batches in parts 1, 2 and 4; "
                     + ("DRY RUN: tiny sizes on the CPU, no number here describes a GPU" if dry_run else
                        "measured in one process on one GPU")),
        }

    # ---------------------------------------------------------------------------------------------- bookkeeping
    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def left(self) -> float:
        return self.budget_s - self.elapsed()

    def write(self) -> None:
        """Re-compute the summary and the targets from what is measured, and write the JSON."""
        self.result["elapsed_s"] = round(self.elapsed(), 2)
        parts = self.result["parts"]
        self.result["skipped"] = [n for n in PART_ORDER if parts[n]["status"] == "skipped"]
        self.result["failed"] = [n for n in PART_ORDER if parts[n]["status"] == "failed"]
        self.result["summary"], self.result["targets"] = summarise(self.result)
        write_json(self.out, self.result)

    def run_part(self, name: str, fn: Callable[[dict], None]) -> None:
        """Run part `name` (`fn` fills its record, and may call `write` as it goes) unless the budget cannot hold its
        usual cost; record skipped / measured / partial / failed with the wall time it took."""
        rec = self.result["parts"][name]
        cost = self.size["cost_s"][name]
        if self.elapsed() + cost > self.budget_s:
            rec.update(status="skipped", reason=f"budget: {self.elapsed():.0f} s elapsed + this part's usual "
                                                f"{cost} s would pass the {self.budget_s:.0f} s budget")
            self.log(f"part {rec['part']} {name}: skipped ({rec['reason']})")
            self.write()
            return
        rec.update(status="running", reason=None)
        self.log(f"part {rec['part']} {name}: running ({self.elapsed():.0f} s elapsed)")
        t0 = time.perf_counter()
        try:
            fn(rec)
            if rec["status"] == "running":
                rec["status"] = "measured"
        except Exception as e:  # recorded, and the suite goes on to the next part
            rec.update(status="failed", reason=f"{type(e).__name__}: {e}", traceback=traceback.format_exc()[-4000:])
            self.log(f"part {rec['part']} {name}: FAILED {type(e).__name__}: {e}")
        rec["wall_s"] = round(time.perf_counter() - t0, 2)
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        self.write()

    def get_teacher(self):
        """The suite's one teacher (random weights), loaded on first use; its load time is recorded."""
        if self.teacher is None:
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.teacher = (build_tiny_teacher(device=self.device) if self.dry_run
                                else load_teacher(self.size["teacher"], None, self.device))
            sync(self.device)
            params = sum(p.numel() * p.element_size() for p in self.teacher.model.parameters())
            self.result["teacher"] = {"name": self.teacher.name, "weights": "random", "embed_dim": self.teacher.embed_dim,
                                      "input_px": self.teacher.image_size, "param_bytes": params,
                                      "load_s": time.perf_counter() - t0}
            self.log(f"teacher {self.teacher.name} loaded in {self.result['teacher']['load_s']:.1f} s")
        return self.teacher

    def start_world(self) -> None:
        """Draw the synthetic CUB-sized world in a background process (one CPU core) while the GPU parts run."""
        w = self.size["world"]
        code = ("import sys; from pand_core.miniature.world import SyntheticSpec, make_synthetic_cub; "
                f"make_synthetic_cub(sys.argv[1], SyntheticSpec(**{w!r}), progress=False)")
        self.world_t0 = time.perf_counter()
        self.world_log = self.tmp / "world.log"
        with open(self.world_log, "w") as log:  # a file, not a pipe: a chatty child can never block on it
            self.world_proc = subprocess.Popen([sys.executable, "-c", code, str(self.world_root)],
                                               stdout=log, stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parents[1])

    def wait_world(self) -> Path:
        """The world's root once drawn (waits for the background process, at most what the budget leaves)."""
        if self.world_proc is None:
            self.start_world()
        try:
            self.world_proc.wait(timeout=max(1.0, self.left()))
        except subprocess.TimeoutExpired:
            raise TimeoutError("the synthetic world was not drawn within the budget") from None
        if self.world_proc.returncode != 0:
            raise RuntimeError(f"drawing the synthetic world failed: {self.world_log.read_text()[-2000:]}")
        if "world" not in self.result:
            self.result["world"] = dict(self.size["world"], drawn_in_background_s=time.perf_counter() - self.world_t0)
        return self.world_root

    def close(self) -> None:
        if self.world_proc is not None and self.world_proc.poll() is None:
            self.world_proc.kill()
            self.world_proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


# ---------------------------------------------------------------------------------------------------- parts
def part_step(s: Suite, rec: dict) -> None:
    """Part 1 (and the measurements of part 2): every student × precision × mode through the trainer's step."""
    z, teacher = s.size, s.get_teacher()
    group = z["group"] or PAPER_RECIPE.nlrd_group_size
    rec.update(students={}, ratios_to_ce={}, image=z["image"], batch=z["batch"], classes=z["classes"],
               nlrd_group_size=group, steps=z["steps"], warmup=z["warmup"], bank_images=z["bank_images"],
               bank_views=BANK_VIEWS, cudnn_benchmark=torch.backends.cudnn.benchmark,
               note="the trainer's own step (distill.train_step, build_stage2, EpochMeter, OnlineTeacher/BankTargets) "
                    "on one synthetic batch, data loading excluded; spread = p10/p90 of the step times")
    per_group = z["cost_s"]["step"] / (len(STUDENTS) * 2)
    for student in STUDENTS:
        for amp in (False, True):
            precision = "bf16" if amp else "fp32"
            if s.elapsed() + per_group > s.budget_s:
                rec.setdefault("skipped_groups", []).append(f"{student} {precision}: budget")
                rec["status"] = "partial"
                continue
            try:
                times = measure_modes(teacher, student=student, image=z["image"], batch=z["batch"],
                                      classes=z["classes"], group=group, amp=amp, steps=z["steps"], warmup=z["warmup"],
                                      device=s.device, bank_images=z["bank_images"], bank_views=BANK_VIEWS, log=s.log)
            except torch.cuda.OutOfMemoryError as e:  # a finding (this mode does not fit), not the end of the part
                rec.setdefault("failed_groups", []).append(f"{student} {precision}: out of memory ({e})"[:500])
                rec["status"] = "partial"
                torch.cuda.empty_cache()
                continue
            rec["students"].setdefault(student, {})[precision] = times
            ce = times["ce"]["median_s"]
            rec["ratios_to_ce"].setdefault(student, {})[precision] = {m: t["median_s"] / ce for m, t in times.items()}
            s.write()
    teacher.model.to(memory_format=torch.contiguous_format)


def part_memory(s: Suite, rec: dict) -> None:
    """Part 2: the peak memory of each mode of part 1, and whether it fits a 16 GB Colab GPU (15 GiB usable)."""
    step = s.result["parts"]["step"]
    if not step.get("students"):
        rec.update(status="skipped", reason=f"measured with part 1 (step), which is {step['status']}")
        return
    modes = {}
    for student, by_precision in step["students"].items():
        for precision, times in by_precision.items():
            for mode, t in times.items():
                peak = t["peak_memory_bytes"]
                modes.setdefault(student, {}).setdefault(precision, {})[mode] = {
                    "peak_bytes": peak, "peak_gib": None if peak is None else peak / 2**30,
                    "fits_16gb_colab": None if peak is None else peak / 2**30 <= COLAB_GIB}
    rec.update(modes=modes, colab_usable_gib=COLAB_GIB,
               teacher_param_bytes=(s.result["teacher"] or {}).get("param_bytes"),
               note=("torch.cuda.max_memory_allocated from building each mode's model to its last step; the teacher's "
                     "weights stay resident in every mode (as in distill(), which keeps the teacher after the bank)"
                     if s.device.type == "cuda" else "not measured off CUDA (null)"))


def part_bank_build(s: Suite, rec: dict) -> None:
    """Part 4: the teacher's image tower at bf16 on batches of the paper's size; the recipe's bank's time projected."""
    z, teacher = s.size, s.get_teacher()
    x = torch.randn(z["batch"], 3, z["image"], z["image"], device=s.device)
    times = []
    with torch.inference_mode(), teacher_autocast("bf16", s.device):
        for k in range(z["bank_batches"] + 1):
            t0 = time.perf_counter()
            teacher.encode_image(x)
            sync(s.device)
            times.append(time.perf_counter() - t0)
    ips = z["batch"] / statistics.median(times[1:])
    images = BANK_VIEWS * CUB_TRAIN
    rec.update(precision="bf16", batch=z["batch"], image=z["image"], teacher_input_px=teacher.image_size,
               batches_timed=len(times) - 1, images_per_s=ips, bank_images=images,
               bank_build_s_projected=images / ips,
               note=f"projected, not measured: {BANK_VIEWS} views x {CUB_TRAIN} images / the tower's images/s "
                    "(teacher forward only; the views' CPU transforms are not included)")
    s.log(f"teacher image tower bf16: {ips:.0f} images/s; {BANK_VIEWS}-view bank projected {images / ips:.0f} s")


def part_stage1(s: Suite, rec: dict) -> None:
    """Part 5: Stage 1 seconds per step and per CUB epoch at CUB's classes, truncated and full text tower."""
    z, teacher = s.size, s.get_teacher()
    r = measure_stage1(teacher, z["classes"], z["batch"], z["stage1_steps"], s.device, log=s.log)
    rec.update(classes=z["classes"], batch=z["batch"], steps_timed=z["stage1_steps"], **r,
               epochs=CalibrateConfig().epochs,
               note=f"prompts.train_one_epoch over one batch; epoch = step x ceil({CUB_TRAIN} / batch)")


def part_data_path(s: Suite, rec: dict) -> None:
    """Part 3: images/s of the CPU loader and of the device path on the world's training split."""
    z = s.size
    root = s.wait_world()
    workers = os.cpu_count() or 1
    r = measure_data_path(s.device, workers, z["batch"], crop=z["image"], resize=z["resize"], root=root, log=s.log)
    rec.update(r, note=f"the synthetic world's training images ({z['world']['image_size']} px drawn; CUB's photos are "
                       "about 500x375, so its CPU decode costs more than this)")


def part_end_to_end(s: Suite, rec: dict) -> None:
    """Part 6: Stage 2 pand with the bank through distill() on the CUB-sized world, a few epochs; the projection."""
    from pand_core.data import load_dataset
    from pand_core.stage2.distill import distill
    from pand_core.stage1.prompts import save_anchors

    z = s.size
    root = s.wait_world()
    teacher = s.get_teacher()
    train = load_dataset("cub", root, "train")
    with torch.inference_mode():
        anchors = teacher.encode_text(train.prompts())
    anchors_path = save_anchors(s.tmp / "anchors.pt", anchors, {
        "classnames": train.classnames, "template": train.template, "dataset": "cub",
        "teacher": {"name": teacher.name, "pretrained": teacher.pretrained, "source": teacher.source},
        "selection": "hand prompts of the random-weights teacher (timing only, no Stage 1)"})
    name = teacher.name
    s.teacher = None  # distill() loads its own; free this one's memory
    del teacher
    if s.device.type == "cuda":
        torch.cuda.empty_cache()
    # The bank's views: the recipe's, fewer when the projected build would not leave time for the epochs.
    views = BANK_VIEWS
    bank = s.result["parts"]["bank_build"]
    if bank.get("images_per_s"):
        per_view = len(train) / bank["images_per_s"] * 3  # teacher + the views' single-worker CPU transforms, roughly
        views = max(1, min(BANK_VIEWS, int((s.left() - z["cost_s"]["end_to_end"]) / per_view)))
    gpu = s.device.type == "cuda"
    overrides = dict(method="pand", data_root=str(root), teacher=name, teacher_weights=None, teacher_mode="bank",
                     bank_views=views, teacher_precision="bf16" if gpu else "fp32", amp=gpu, channels_last=gpu,
                     student="resnet18", student_pretrained=False, epochs=z["e2e_epochs"], batch_size=z["batch"],
                     image_size=z["image"], resize=z["resize"], num_workers=os.cpu_count() if gpu else 0,
                     anchors=str(anchors_path), out=str(s.tmp / "run"), device=str(s.device),
                     cache=str(s.tmp / "cache"))  # views and bank of this run only
    if z["group"]:
        overrides["nlrd_group_size"] = z["group"]
    cfg = make_config("distill", "paper", **overrides)
    rec.update(config={k: v for k, v in overrides.items() if k not in ("data_root", "anchors", "out", "cache")},
               train_images=len(train))

    ends: list[float] = []

    def on_epoch(row: dict) -> None:
        ends.append(time.perf_counter())  # consecutive ends: an epoch's whole wall time, checkpoint writes included
        s.log(f"  epoch {row['epoch']}: {row['epoch_time_s']:.1f} s")
        if s.left() < 2 * row["epoch_time_s"]:
            raise BudgetExceeded(f"stopped after epoch {row['epoch']}: the budget would not hold another")

    t0 = time.perf_counter()
    try:
        distill(cfg, progress=False, on_epoch_end=on_epoch)
    except BudgetExceeded as e:
        rec["stopped"] = str(e)
        rec["status"] = "partial"
    total = time.perf_counter() - t0
    rows = [json.loads(line) for line in (s.tmp / "run" / "metrics.jsonl").read_text().splitlines() if line.strip()]
    epochs = [r["epoch_time_s"] for r in rows]
    if not epochs:
        raise RuntimeError("distill() finished no epoch")
    rec.update(epochs_run=len(epochs), epoch_time_s=epochs, test_acc=[r["test_acc"] for r in rows],
               epoch_wall_s=[b - a for a, b in zip(ends, ends[1:])], distill_wall_s=total,
               setup_s=(ends[0] - t0 - epochs[0]) if ends else total - sum(epochs),
               note="epoch_time_s from metrics.jsonl (one training epoch + the test evaluation); epoch_wall_s: between "
                    "consecutive epoch ends (also the checkpoint writes); setup_s: from distill()'s start to its first "
                    "epoch's (teacher load, anchors, views, the bank; also epoch 0's checkpoint write)")


def _get(d: dict, *keys):
    for k in keys:
        if not isinstance(d, dict) or d.get(k) is None:
            return None
        d = d[k]
    return d


def projection(result: dict) -> dict | None:
    """The whole CUB reproduction on this device, from the measurements: None until parts 4–6 have numbers."""
    p = result["parts"]
    e2e, bank, s1 = p["end_to_end"], p["bank_build"], p["stage1"]
    if not e2e.get("epoch_time_s") or not bank.get("images_per_s") or not _get(s1, "truncated", "cub_epoch_s_estimate"):
        return None
    times = e2e.get("epoch_wall_s") or e2e["epoch_time_s"]  # epochs after the first; else the first alone
    epoch_s = statistics.median(times) if e2e.get("epoch_wall_s") else times[0]
    load_s = _get(result, "teacher", "load_s") or 0.0
    views = e2e["config"]["bank_views"]
    bank_measured = max(0.0, e2e["setup_s"] - load_s) * BANK_VIEWS / views
    bank_s = max(bank["bank_build_s_projected"], bank_measured)
    features_s = (CUB_TRAIN + CUB_TEST) / bank["images_per_s"]
    s1_epochs = s1["epochs"]
    s1_epoch = s1["truncated"]["cub_epoch_s_estimate"]
    total = 2 * load_s + features_s + s1_epochs * s1_epoch + bank_s + PAPER_EPOCHS * epoch_s
    return {
        "formula": ("total_s = 2 x teacher_load_s + stage1_features_s + stage1_epochs x stage1_epoch_s + bank_build_s "
                    f"+ {PAPER_EPOCHS} x stage2_epoch_s; stage1_features_s = ({CUB_TRAIN} + {CUB_TEST}) / tower "
                    f"images/s (bf16); bank_build_s = max({BANK_VIEWS} x {CUB_TRAIN} / tower images/s, (end-to-end "
                    f"setup_s - teacher_load_s) x {BANK_VIEWS} / its bank views); "
                    "stage2_epoch_s = median end-to-end epoch_wall_s (epochs after the first: training + test evaluation + "
                    "checkpoint writes; with one epoch, its epoch_time_s)"),
        "teacher_load_s": load_s, "stage1_features_s": features_s, "stage1_epochs": s1_epochs,
        "stage1_epoch_s": s1_epoch, "bank_build_s": bank_s, "bank_build_s_from_end_to_end": bank_measured,
        "stage2_epochs": PAPER_EPOCHS, "stage2_epoch_s": epoch_s, "total_s": total, "total_min": total / 60,
        "projected": True,
    }


def summarise(result: dict) -> tuple[dict, dict]:
    """Derived numbers (step throughputs, what the data paths can feed, the projection) and the issue's targets:
    booleans only from a GPU run's measurements, None otherwise."""
    p = result["parts"]
    summary: dict = {}
    demand = {}
    for student, by_precision in (_get(p, "step", "students") or {}).items():
        for precision, times in by_precision.items():
            for mode in ("ce", "pand_bank"):
                if mode in times:
                    demand[f"{student} {precision} {mode}"] = times[mode]["images_per_s"]
    dp = p["data_path"]
    if demand and dp.get("cpu_path_images_per_s"):
        summary["can_feed"] = {k: {"step_images_per_s": v, "cpu_path": dp["cpu_path_images_per_s"] >= v,
                                   "device_path": dp["device_path_images_per_s"] >= v} for k, v in demand.items()}
    proj = projection(result)
    summary["projection"] = proj
    if proj is not None:
        summary["projection"]["note"] = "projected from the measurements above, not a measured reproduction"

    gpu = not result["dry_run"] and result["device"].startswith("cuda")
    ratios = {st: _get(p, "step", "ratios_to_ce", st, "bf16", "pand_bank") for st in STUDENTS}
    ratios = {k: v for k, v in ratios.items() if v is not None}
    fastest = max((v for k, v in demand.items() if " bf16 ce" in k), default=None)
    targets = {
        "pand_bank_le_1.15x_ce_bf16": (all(v <= TARGETS["step_ratio"] for v in ratios.values())
                                       if gpu and ratios else None),
        "pand_bank_ratio_bf16": ratios or None,
        "cub_reproduction_le_15_min": (proj["total_s"] <= TARGETS["reproduction_s"] if gpu and proj else None),
        "device_data_path_feeds_step": (dp["device_path_images_per_s"] >= fastest
                                        if gpu and fastest and dp.get("device_path_images_per_s") else None),
        "note": ("null: a dry run, never a target" if result["dry_run"] else
                 "null where not measured; the data-path target compares with the fastest bf16 ce step; the "
                 f"reproduction target is for an H100-class GPU (this one: {(result.get('gpu') or {}).get('name')})"),
    }
    return summary, targets


# ------------------------------------------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dry-run", action="store_true", help="every part at tiny sizes on the CPU (under two minutes)")
    p.add_argument("--budget-s", type=float, default=540.0, help="wall-clock budget checked before each part (s)")
    p.add_argument("--out", default=None, help="JSON path (default: pand_core/measured/gpu-<gpu name>.json; dry run: "
                                               "pand-gpu-suite-dry-run.json in the temporary folder)")
    args = p.parse_args(argv)
    if args.dry_run:
        device = torch.device("cpu")
        torch.set_num_threads(1)  # tiny sizes: one thread is as fast and leaves the machine's other cores alone
        out = Path(args.out) if args.out else Path(tempfile.gettempdir()) / "pand-gpu-suite-dry-run.json"
    else:
        if not torch.cuda.is_available():
            print("no CUDA device: the suite measures a GPU (use --dry-run to check it on the CPU)", file=sys.stderr)
            return 2
        device = torch.device("cuda")
        name = slug(torch.cuda.get_device_name(0))
        out = Path(args.out) if args.out else MEASURED_DIR / f"gpu-{name}.json"

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - suite.t0:6.1f} s] {msg}", flush=True)

    suite = Suite(out, args.budget_s, args.dry_run, device, log)
    torch.manual_seed(0)
    suite.write()
    try:
        if suite.elapsed() + suite.size["cost_s"]["end_to_end"] + 60 <= suite.budget_s:
            suite.start_world()  # one CPU core draws the world while the GPU parts run
        parts = {"step": part_step, "memory": part_memory, "bank_build": part_bank_build, "stage1": part_stage1,
                 "data_path": part_data_path, "end_to_end": part_end_to_end}
        for name in PART_ORDER:
            suite.run_part(name, lambda rec, f=parts[name]: f(suite, rec))
        suite.result["finished"] = True
        suite.write()
    finally:
        suite.close()
    r = suite.result
    log(f"wrote {out}: measured {[n for n in PART_ORDER if r['parts'][n]['status'] in ('measured', 'partial')]}, "
        f"skipped {r['skipped']}, failed {r['failed']}")
    if r["summary"].get("projection"):
        log(f"projected CUB reproduction: {r['summary']['projection']['total_min']:.1f} min")
    log("targets: " + json.dumps({k: v for k, v in r["targets"].items() if k != "note"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
