"""Median time of one Stage 2 training step: student-only CE vs PAND with the online teacher vs PAND with the bank.

    python benchmarks/step_time.py --size smoke            # tiny teacher, ResNet-18, 32 px, batch 32 (CPU: minutes)
    python benchmarks/step_time.py --size full --device cuda  # ConvNeXt-XXL CLIP (random weights), 224 px, batch 128

All three are measured in one process on the same device, on synthetic batches (data loading excluded), so
their ratios are comparable; absolute times depend on the machine. Writes one JSON to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

from pand_core.config import make_config
from pand_core.distill import Stage2Model, make_optimizer, stage2_losses
from pand_core.models import AlignHead, build_student, build_tiny_teacher, load_teacher
from pand_core.runinfo import environment, write_json

SIZES = {
    "smoke": dict(teacher="pand-tiny-clip", image=32, batch=32, classes=12, group=16),
    "full": dict(teacher="convnext_xxlarge", image=224, batch=128, classes=200, group=32),
}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_steps(step, steps: int, warmup: int, device: torch.device) -> list[float]:
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
    p.add_argument("--out", default=None, help="JSON path (default: benchmarks/results/step_time-<size>-<device>.json)")
    args = p.parse_args(argv)
    size = dict(SIZES[args.size])
    if args.batch:
        size["batch"], size["group"] = args.batch, min(size["group"], args.batch)
    device = torch.device(args.device)
    torch.manual_seed(0)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        teacher = build_tiny_teacher(device=device) if args.size == "smoke" else load_teacher(size["teacher"], None, device)
    if args.amp and device.type == "cuda":
        teacher.model.to(memory_format=torch.channels_last)
    D, C, B = teacher.embed_dim, size["classes"], size["batch"]
    anchors = torch.nn.functional.normalize(torch.randn(C, D, device=device), dim=-1)
    x = torch.randn(B, 3, size["image"], size["image"], device=device)
    y = torch.randint(0, C, (B,), device=device)
    if args.amp:
        x = x.to(memory_format=torch.channels_last)
    bank = torch.nn.functional.normalize(torch.randn(args.bank_images, args.bank_views, D), dim=-1)
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if args.amp and device.type == "cuda"
                else torch.autocast("cpu", enabled=False))

    def make(method: str):
        c = make_config("distill", "paper", method=method, batch_size=B, nlrd_group_size=size["group"], student_pretrained=False)
        torch.manual_seed(0)
        student = build_student("resnet18", C, pretrained=False)
        head = AlignHead(D, student.feat_dim) if c.spec.feature_terms else None
        model = Stage2Model(student, head).to(device).train()
        if args.amp:
            model.to(memory_format=torch.channels_last)
        opt, _ = make_optimizer(c, model.parameters())
        return c, model, opt

    def step_fn(method: str, teacher_mode: str):
        c, model, opt = make(method)

        def step():
            f = None
            if c.spec.teacher:
                if teacher_mode == "bank":
                    idx = torch.randint(0, args.bank_images, (B,))
                    view = torch.randint(0, args.bank_views, (B,))
                    f = bank[idx, view].to(device, non_blocking=True)
                else:
                    with torch.inference_mode(), autocast:
                        f = teacher.encode_image(x)
                    f = f.clone().float()
            with autocast:
                out, aligned = model(x, f, anchors)
                total, _ = stage2_losses(c, out, y, f, anchors, aligned, epoch=10)
            opt.zero_grad(set_to_none=True)
            total.backward()
            opt.step()

        return step

    modes = {"ce": ("ce", "none"), "pand_bank": ("pand", "bank"), "pand_online": ("pand", "online")}
    times = {}
    for name, (method, mode) in modes.items():
        t = time_steps(step_fn(method, mode), args.steps, args.warmup, device)
        times[name] = {"median_s": statistics.median(t), "min_s": min(t), "steps": len(t)}
        print(f"{name:12s} median {1000 * times[name]['median_s']:9.2f} ms/step", flush=True)
    ce = times["ce"]["median_s"]
    ratios = {k: v["median_s"] / ce for k, v in times.items()}
    print("ratios to the CE step: " + ", ".join(f"{k} {v:.3f}" for k, v in ratios.items()))
    result = {
        "benchmark": "stage2_step_time",
        "size": args.size,
        "sizes": dict(size, embed_dim=D, student="resnet18", bank_views=args.bank_views),
        "amp": args.amp,
        "times": times,
        "ratios_to_ce": ratios,
        "note": "synthetic batches, data loading excluded; teacher with random weights (timing only)",
        "environment": environment(),
    }
    out = Path(args.out) if args.out else Path(__file__).parent / "results" / f"step_time-{args.size}-{device.type}.json"
    write_json(out, result)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
