"""Median time of one Stage 2 training step: student-only CE vs PAND with the online teacher vs PAND with the bank.
The step timed is the trainer's own (`distill.train_step`), with its teacher targets (`targets.OnlineTeacher`,
`targets.BankTargets`) and its device-side loss accounting.

    python benchmarks/step_time.py --size smoke            # the smoke profile's models and sizes (CPU: a minute)
    python benchmarks/step_time.py --size full --device cuda  # ConvNeXt-XXL CLIP (random weights), 224 px, batch 128

All three are measured in one process on the same device, on synthetic batches (data loading excluded), so
their ratios are comparable; absolute times depend on the machine. Writes one JSON to pand_core/measured/.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings

import torch

from pand_core.config import make_config
from pand_core.stage2.distill import build_stage2, train_step
from pand_core.infra.meter import EpochMeter
from pand_core.infra.environment import write_benchmark
from pand_core.miniature.world import SyntheticSpec
from pand_core.models import load_teacher
from pand_core.stage2.targets import BankTargets, OnlineTeacher

_SMOKE = make_config("distill", "smoke")
SIZES = {  # each size is a profile's own: teacher, student, image size, batch, NLRD group; the data set's classes
    "smoke": dict(teacher=_SMOKE.teacher, student=_SMOKE.student, image=_SMOKE.image_size, batch=_SMOKE.batch_size,
                  classes=SyntheticSpec().n_classes, profile="smoke"),
    "full": dict(teacher="convnext_xxlarge", student="resnet18", image=224, batch=128, classes=200, profile="paper"),
}


def sync(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA); no-op on the CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_steps(step, steps: int, warmup: int, device: torch.device) -> list[float]:
    """Wall seconds of each of `steps` calls of `step` (after `warmup` untimed ones), the device synchronised."""
    for _ in range(warmup):
        step()
    sync(device)
    out = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        sync(device)
        out.append(time.perf_counter() - t0)
    return out


def summarise_times(t: list[float]) -> dict:
    """Median, min, p10 and p90 (seconds; nearest-rank) of step times, and their count."""
    s = sorted(t)

    def q(p: float) -> float:
        return s[min(len(s) - 1, max(0, round(p * (len(s) - 1))))]

    return {"median_s": statistics.median(s), "min_s": s[0], "p10_s": q(0.1), "p90_s": q(0.9), "steps": len(s)}


MODES = {"ce": ("ce", "none"), "pand_bank": ("pand", "bank"), "pand_online": ("pand", "online")}


def measure_modes(teacher, *, student: str, image: int, batch: int, classes: int, group: int, amp: bool, steps: int,
                  warmup: int, device: torch.device, bank_images: int = 1000, bank_views: int = 8,
                  modes: dict = MODES, log=print) -> dict[str, dict]:
    """Time the trainer's own Stage 2 step (`distill.train_step` on a model from `build_stage2`, an `EpochMeter`, the
    targets `OnlineTeacher` / `BankTargets`) for each of `modes` (name -> (method, teacher_mode)) on one synthetic
    batch, in this process. `amp`: bf16 autocast, channels-last, bf16 teacher. Returns per mode `summarise_times`
    plus `images_per_s` (batch / median) and `peak_memory_bytes` (CUDA `max_memory_allocated` from building the
    mode's model to its last step; None off CUDA)."""
    cuda = device.type == "cuda"
    teacher.model.to(memory_format=torch.channels_last if amp and cuda else torch.contiguous_format)
    D = teacher.embed_dim
    anchors = torch.nn.functional.normalize(torch.randn(classes, D, device=device), dim=-1)
    batch_t = (torch.randn(batch, 3, image, image), torch.randint(0, classes, (batch,)),
               torch.randint(0, bank_images, (batch,)), torch.randint(0, bank_views, (batch,)))
    bank = torch.nn.functional.normalize(torch.randn(bank_images, bank_views, D), dim=-1)
    precision = "bf16" if amp else "fp32"
    out = {}
    for name, (method, mode) in modes.items():
        if cuda:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
        c = make_config("distill", "paper", method=method, batch_size=batch, nlrd_group_size=group, student=student,
                        student_pretrained=False, amp=amp, channels_last=amp, teacher_precision=precision)
        model, opt, _ = build_stage2(c, classes, D, device)
        targets = None
        if c.spec.teacher:
            targets = (BankTargets(bank, list(range(bank_images)), device, precision) if mode == "bank"
                       else OnlineTeacher(teacher, precision))
        meter = EpochMeter(device, "Stage 2 (timed)", "a timing run; nothing to resume.")
        t = time_steps(lambda: train_step(model, opt, c, targets, anchors, batch_t, 10, meter), steps, warmup, device)
        r = summarise_times(t)
        r["images_per_s"] = batch / r["median_s"]
        r["peak_memory_bytes"] = torch.cuda.max_memory_allocated(device) if cuda else None
        out[name] = r
        del model, opt, targets, meter
        log(f"{student} {precision} {name:12s} median {1000 * r['median_s']:9.2f} ms/step")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", choices=SIZES, default="smoke")
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--amp", action="store_true", help="bf16 autocast and channels-last (GPU)")
    p.add_argument("--batch", type=int, default=None, help="override the size's batch (e.g. a quick CPU check of --size full)")
    p.add_argument("--bank-views", type=int, default=8)
    p.add_argument("--bank-images", type=int, default=1000)
    p.add_argument("--out", default=None, help="JSON path (default: pand_core/measured/step_time-<size>-<device>.json)")
    args = p.parse_args(argv)
    size = dict(SIZES[args.size])
    size["group"] = make_config("distill", size.pop("profile")).nlrd_group_size
    if args.batch:
        size["batch"], size["group"] = args.batch, min(size["group"], args.batch)
    device = torch.device(args.device)
    torch.manual_seed(0)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        teacher = load_teacher(size["teacher"], None, device)  # random weights: the architecture's cost, not its accuracy
    D = teacher.embed_dim
    times = measure_modes(teacher, student=size["student"], image=size["image"], batch=size["batch"], classes=size["classes"],
                          group=size["group"], amp=args.amp, steps=args.steps, warmup=args.warmup, device=device,
                          bank_images=args.bank_images, bank_views=args.bank_views, log=lambda m: print(m, flush=True))
    ce = times["ce"]["median_s"]
    ratios = {k: v["median_s"] / ce for k, v in times.items()}
    print("ratios to the CE step: " + ", ".join(f"{k} {v:.3f}" for k, v in ratios.items()))
    result = {
        "benchmark": "stage2_step_time",
        "size": args.size,
        "sizes": dict(size, embed_dim=D, bank_views=args.bank_views),
        "amp": args.amp,
        "times": times,
        "ratios_to_ce": ratios,
        "note": "synthetic batches, data loading excluded; teacher with random weights (timing only)",
    }
    write_benchmark(result, f"step_time-{args.size}-{device.type}", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
