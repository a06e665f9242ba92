"""What this machine's GPU can run, for the notebooks' second cell (`describe_accelerator`), and the one-GPU
recipe's table of cards (`card_plan_markdown`): the teacher mode that fits a card's memory, and what a run costs."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import torch

from ..batch.jobs import TrainingJob, grid
from ..batch.estimates import ASSUMED_TFLOPS, estimate
from ..config import SPLIT_SIZES, DistillConfig, SplitSizes, make_config
from ..infra.paths import MEASURED_DIR


# What the paper recipe needs on one GPU (Stage 2, ResNet-18 student, batch 128, ConvNeXt-XXL CLIP teacher in fp32).
# No GPU run has measured it yet (benchmarks/gpu_suite.py part 2 writes pand_core/measured/gpu-<name>.json, shipped
# with the package); until one has, these are estimates from what is known exactly: the teacher has 1,200,576,385
# parameters (846,543,744 in the image tower; counted from open_clip's convnext_xxlarge config), 4.47 GiB in fp32, and
# stays on the GPU in both modes (distill() keeps it after the bank is built). Online, its no-grad forward on the
# student's 224 px view at batch 128 holds at least a stage-1 MLP hidden tensor of 128 x 1536 x 56 x 56 fp32 values
# (2.3 GiB) and that block's 0.57 GiB input, on top of the student's own training step (ResNet-18, 224 px, batch 128;
# not measured here). So online is estimated to need more than a 16 GB card's 15 GiB usable and is recommended from
# 22 GiB (what a 24 GB card shows); bank mode (student step + resident teacher weights) from 12 GiB.
TEACHER_PARAMS = 1_200_576_385
ONLINE_MIN_GIB_ESTIMATE = 22.0
BANK_MIN_GIB_ESTIMATE = 12.0


def measured_recipe_peaks(results_dir: str | Path | None = None) -> dict[str, float]:
    """Peak GiB of the fp32 `pand_online` / `pand_bank` steps measured by the GPU suite (largest over its students and
    result files); {} when no `gpu-*.json` with part 2 measured is there (default: `paths.MEASURED_DIR`, package data)."""
    folder = Path(results_dir) if results_dir is not None else MEASURED_DIR
    peaks: dict[str, float] = {}
    for path in sorted(folder.glob("gpu-*.json")) if folder.is_dir() else []:
        try:
            modes = json.loads(path.read_text())["parts"]["memory"]["modes"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        for by_precision in modes.values():
            for mode, m in (by_precision.get("fp32") or {}).items():
                if mode in ("pand_online", "pand_bank") and m.get("peak_gib") is not None:
                    peaks[mode] = max(peaks.get(mode, 0.0), float(m["peak_gib"]))
    return peaks


def recipe_fit(total_gib: float, peaks: dict[str, float] | None = None) -> tuple[bool, bool, str]:
    """(online fits, bank fits, the basis) for a GPU with `total_gib`: measured peaks (plus 0.5 GiB for the CUDA context)
    when given, else the estimated minimums above."""
    peaks = peaks or {}
    if "pand_online" in peaks and "pand_bank" in peaks:
        return (peaks["pand_online"] + 0.5 <= total_gib, peaks["pand_bank"] + 0.5 <= total_gib,
                f"measured peaks: online {peaks['pand_online']:.1f} GiB, bank {peaks['pand_bank']:.1f} GiB")
    return (total_gib >= ONLINE_MIN_GIB_ESTIMATE, total_gib >= BANK_MIN_GIB_ESTIMATE,
            f"estimate, not yet measured on a GPU: online from {ONLINE_MIN_GIB_ESTIMATE:.0f} GiB (a 24 GB "
            f"card), bank from {BANK_MIN_GIB_ESTIMATE:.0f} GiB (teacher weights {TEACHER_PARAMS * 4 / 2**30:.2f} GiB in fp32 in both modes)")


CHEAP_TEACHER = ("ViT-B-32", "openai")  # the cheap open_clip teacher for a small GPU (not the paper's)
CHEAP_TEACHER_MIN_GIB = 4.0  # ViT-B-32: 151 M parameters (0.6 GiB fp32) beside a ResNet-18 step at batch 128


def recommend(total_gib: float | None, peaks: dict[str, float] | None = None) -> dict:
    """The teacher, its weights and the teacher mode to use on a GPU with `total_gib` (None: no GPU), with the reason:
    the paper's ConvNeXt-XXL online where it fits, else with the bank, else the cheap ViT-B-32 teacher online.

    Args:
        total_gib: The GPU's memory in GiB; None: no GPU (the smoke profile is recommended).
        peaks: Measured peak GiB of the `pand_online` / `pand_bank` steps (`measured_recipe_peaks`); without both,
            the estimated minimums decide.
    """
    paper = {"TEACHER": DistillConfig.teacher, "TEACHER_WEIGHTS": DistillConfig.teacher_weights}
    cheap = {"TEACHER": CHEAP_TEACHER[0], "TEACHER_WEIGHTS": CHEAP_TEACHER[1], "TEACHER_MODE": "online"}
    if total_gib is None:
        return {"PROFILE": "smoke", "why": "The smoke profile (the miniature) runs on a CPU; the paper profile needs a "
                                           "GPU (on Colab: Runtime > Change runtime type > GPU)."}
    online, bank, basis = recipe_fit(total_gib, peaks)
    if online:
        return {**paper, "TEACHER_MODE": "online", "why": f"the paper's recipe fits ({basis})."}
    if bank:
        return {**paper, "TEACHER_MODE": "bank",
                "why": f"the online ConvNeXt-XXL at batch 128 is not expected to fit, the bank is ({basis}); building "
                       "the bank runs the teacher over every training image 8 times, hours on a small GPU. Cheaper, "
                       f"and a deviation from the paper: TEACHER = {CHEAP_TEACHER[0]!r}, TEACHER_WEIGHTS = "
                       f"{CHEAP_TEACHER[1]!r}, online."}
    if total_gib >= CHEAP_TEACHER_MIN_GIB:
        return {**cheap, "why": f"ConvNeXt-XXL is not expected to fit in either mode ({basis}); the cheap teacher "
                                "ViT-B-32 (openai) fits online; its numbers are not the paper's."}
    return {**cheap, "why": f"under {CHEAP_TEACHER_MIN_GIB:.0f} GiB even the cheap teacher may not fit at batch 128; "
                            "use a larger GPU."}


def describe_accelerator(print_result: bool = True) -> str:
    """One paragraph on this machine's GPU: its name and memory, and the parameters that fit it (`recommend`): the
    paper's teacher online or with the bank, or the cheap ViT-B-32 teacher; on a CPU, that there is no GPU.

    Args:
        print_result: Also print the paragraph, wrapped at 88 columns; it is returned either way.
    """
    if not torch.cuda.is_available():
        rec = recommend(None)
        text = "No GPU: this runtime has only a CPU. " + rec["why"]
    else:
        p = torch.cuda.get_device_properties(0)
        total = p.total_memory / 2**30
        rec = recommend(total, measured_recipe_peaks())
        settings = ", ".join(f"{k} = {v!r}" for k, v in rec.items() if k != "why")
        text = f"GPU: {p.name}, {total:.1f} GiB. Set {settings} in the parameters cell: {rec['why']}"
    if print_result:
        import textwrap

        print(textwrap.fill(text, 88))  # a notebook output that fits the book's page
    return text


# One CUB run on one card. Peak dense FP32 rate of each card (TFLOP/s) and its memory, from NVIDIA's data sheets (T4,
# L4, A100, H100 SXM): the teacher runs in fp32 (the original's Stage 2) and PyTorch's default keeps matmuls in fp32.
GPU_CARDS = (("T4", 16, 8.1), ("L4", 24, 30.3), ("A100 40 GB", 40, 19.5), ("A100 80 GB", 80, 19.5),
             ("H100 80 GB (SXM)", 80, 67.0))
H100_FP32_PEAK = 67.0  # the card ASSUMED_TFLOPS stands for: each card is assumed to sustain the same share of its peak


def card_tflops(peak: float) -> float:
    """The sustained rate assumed for a card: `ASSUMED_TFLOPS` scaled by its FP32 peak against the H100's."""
    return ASSUMED_TFLOPS * peak / H100_FP32_PEAK


def one_run_jobs(runs: str | Path, teacher_mode: str) -> list[TrainingJob]:
    """The quickstart's runs on the paper profile: Stage 1 and Stage 2 `ce` and `pand` on CUB-200, ResNet-18, seed 0."""
    return grid([dict(profile="paper", dataset="cub", methods=["ce", "pand"], seeds=[0], student="resnet18",
                      runs=runs, teacher_mode=teacher_mode)])


def card_plan_markdown() -> str:
    """The one-GPU recipe's table: for each card, the teacher mode that fits (`recommend`) and the
    estimated hours of Stage 1 and of Stage 2 `pand` online and from the bank; all counted-FLOP estimates."""
    rows = ["| GPU | memory | use | Stage 1 (h) | Stage 2 `pand`, teacher online (h) | Stage 2 `pand`, teacher "
            "from the bank (h) |", "|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as empty:
        jobs = {mode: {j.config.method if j.stage != "calibrate" else "stage1": j for j in one_run_jobs(empty, mode)}
                for mode in ("online", "bank")}
        for name, gb, peak in GPU_CARDS:
            gib = gb * 1e9 / 2**30
            online_fits, _, _ = recipe_fit(gib)
            hours = {mode: {k: estimate(j, card_tflops(peak)).seconds / 3600 for k, j in jobs[mode].items()}
                     for mode in jobs}
            online = f"{hours['online']['pand']:.1f}" if online_fits else "does not fit"
            rows.append(f"| {name} | {gb} GB | {recommend(gib).get('TEACHER_MODE', 'online')} | "
                        f"{hours['online']['stage1']:.1f} | {online} | {hours['bank']['pand']:.1f} |")
    cards = ", ".join(f"{name} {peak:g}" for name, _, peak in GPU_CARDS)
    cub, stage1, stage2 = SPLIT_SIZES["cub"], make_config("calibrate", "paper"), make_config("distill", "paper")
    return ("\n".join(rows) + "\n\n" + f"_Estimates, not measurements: FLOPs counted for CUB-200 ({cub.train:,} training "
            f"and {cub.test:,} test images, {cub.classes} classes, ConvNeXt-XXL in fp32, ResNet-18 at 224 px, the paper's "
            f"{stage1.epochs} Stage 1 and {stage2.epochs} Stage 2 epochs; the bank: {stage2.bank_views} teacher passes "
            f"over every training image, once) divided by an assumed "
            f"sustained rate: {ASSUMED_TFLOPS:g} TFLOP/s on an H100, and the same share of the peak FP32 rate on "
            f"every other card (peaks in TFLOP/s from NVIDIA's data sheets: {cards}). Matrix products stay in full "
            f"fp32 (PyTorch's default; TF32 is not switched on), which is why an L4 comes out faster than an A100 "
            f"here. Data loading and kernel efficiency are left out; the memory a mode needs is the estimate of "
            f"`describe_accelerator` (online from 22 GiB, the bank from 12 GiB). Generated by "
            f"`python studies/gpu_recipe.py`._\n")


def duration(seconds: float) -> str:
    """An estimate's length as a reader wants it: hours to one decimal from an hour, else whole minutes."""
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.0f} min" if seconds >= 60 else "under 1 min"


# The teachers a user of their own folder chooses between: (name, open_clip model and weights, mode, GiB it needs).
TEACHER_CHOICES = (("ConvNeXt-XXL (the paper's)", (DistillConfig.teacher, DistillConfig.teacher_weights), "online",
                    ONLINE_MIN_GIB_ESTIMATE),
                   ("ConvNeXt-XXL (the paper's)", (DistillConfig.teacher, DistillConfig.teacher_weights), "bank",
                    BANK_MIN_GIB_ESTIMATE),
                   (f"{CHEAP_TEACHER[0]} ({CHEAP_TEACHER[1]})", CHEAP_TEACHER, "online", CHEAP_TEACHER_MIN_GIB))
FOLDER_CARDS = ("T4", "L4", "H100 80 GB (SXM)")  # Colab's two cards and the card the assumed rate stands for


def folder_plan_markdown(sizes: SplitSizes, what: str) -> str:
    """For an image folder of `sizes`: per teacher and mode, the GPU memory it needs and the estimated time of
    Stage 1 and Stage 2 `pand` (ResNet-18, the paper's epochs) on three cards; counted-FLOP estimates, labelled.

    Args:
        sizes: The folder's training and test images and classes (`data.folder.folder_sizes`).
        what: How the table's note names the folder, e.g. "your folder" or "a folder the size of CUB-200".
    """
    cards = [c for c in GPU_CARDS if c[0] in FOLDER_CARDS]
    heads = [name if "GB" in name else f"{name} ({gb} GB)" for name, gb, _ in cards]
    rows = ["| teacher | mode | GPU memory it needs | " + " | ".join(heads) + " |", "|---|---|---|" + "---|" * len(cards)]
    for name, (model, weights), mode, need in TEACHER_CHOICES:
        stage1 = TrainingJob("stage1", "calibrate", make_config("calibrate", "paper", teacher=model,
                                                                teacher_weights=weights))
        stage2 = TrainingJob("pand", "distill", make_config("distill", "paper", method="pand", teacher=model,
                                                            teacher_weights=weights, teacher_mode=mode))
        cells = []
        for _, gb, peak in cards:
            if gb * 1e9 / 2**30 < need:
                cells.append("does not fit")
                continue
            s1, s2 = (estimate(j, card_tflops(peak), sizes).seconds for j in (stage1, stage2))
            cells.append(f"{duration(s1)} + {duration(s2)}")
        rows.append(f"| {name} | {mode} | from {need:.0f} GiB | " + " | ".join(cells) + " |")
    stage1, stage2 = make_config("calibrate", "paper"), make_config("distill", "paper")
    return ("\n".join(rows) + "\n\n" + f"_Estimates, not measurements: Stage 1 + Stage 2 `pand` for {what} "
            f"({sizes.train:,} training and {sizes.test:,} test images, {sizes.classes} classes; ResNet-18 at 224 px, "
            f"the paper's {stage1.epochs} Stage 1 and {stage2.epochs} Stage 2 epochs; the bank: {stage2.bank_views} "
            f"teacher passes over every training image, once), FLOPs counted and divided by {ASSUMED_TFLOPS:g} TFLOP/s "
            f"on an H100 and the same share of each card's FP32 peak elsewhere; memory: the estimates of "
            f"`describe_accelerator`. The times grow with the number of images (Stage 1's also with the number of "
            f"classes); the memory does not._\n")

