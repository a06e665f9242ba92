"""What distillation buys at inference: parameters, MACs, weight-file size and batch-1 / batch-32 latency of the
teacher's image tower against the ResNet-18 and MobileNet-V2 students, in one process on one device; then a student
exported to TorchScript and ONNX and checked against PyTorch.

    python benchmarks/inference.py                      # CPU; the ConvNeXt-XXL tower is built with random weights
    python benchmarks/inference.py --device cuda
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings

import torch
from torch.utils.flop_counter import FlopCounterMode

from pand_core.infra.environment import write_benchmark
from pand_core.models.export import export_student
from pand_core.models import build_student, load_teacher


def latency(fn, x, reps: int, device: torch.device, warmup: bool = True) -> float:
    with torch.inference_mode():
        if warmup:
            fn(x)
        times = []
        for _ in range(reps):
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            fn(x)
            if device.type == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def macs(fn, x) -> float:
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        fn(x)
    return counter.get_total_flops() / 2 / x.shape[0]  # multiply–accumulates per image


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--teacher", default="convnext_xxlarge")
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--teacher-reps", type=int, default=1, help="timed repetitions for the (slow) teacher; with 1, batch 32 is timed cold")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    device = torch.device(args.device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        teacher = load_teacher(args.teacher, None, device=device)
    models = {
        f"teacher image tower ({args.teacher})": (teacher.model.visual, args.teacher_reps),
        "student resnet18": (build_student("resnet18", 200, pretrained=False).to(device).eval(), args.reps),
        "student mobilenet_v2": (build_student("mobilenet_v2", 200, pretrained=False).to(device).eval(), args.reps),
    }
    rows = {}
    for name, (model, reps) in models.items():
        fn = (lambda m: (lambda x: m(x)))(model)
        n_params = sum(p.numel() for p in model.parameters())
        storage = sum(p.numel() * p.element_size() for p in model.state_dict().values())
        row = {"params": n_params, "macs_per_image": macs(fn, torch.randn(1, 3, args.image_size, args.image_size, device=device)),
               "fp32_weights_bytes": storage}
        for b in (1, 32):
            x = torch.randn(b, 3, args.image_size, args.image_size, device=device)
            row[f"latency_batch{b}_s"] = latency(fn, x, reps, device, warmup=(b == 1 or reps > 1))  # the MAC count warmed up batch 1
        rows[name] = row
        print(f"{name:38s} {n_params / 1e6:8.1f} M params {row['macs_per_image'] / 1e9:8.2f} GMAC "
              f"{storage / 2**20:8.1f} MiB  batch 1: {1000 * row['latency_batch1_s']:9.1f} ms  "
              f"batch 32: {1000 * row['latency_batch32_s']:10.1f} ms", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        export = export_student(models["student resnet18"][0].cpu(), tmp, args.image_size)
    print(f"exported resnet18: TorchScript max |Δlogit| {export['torchscript_max_abs_err']:.1e}, "
          f"ONNX {export['onnx_max_abs_err']:.1e}")
    result = {"benchmark": "inference", "image_size": args.image_size, "device": str(device), "models": rows,
              "export_check": {k: v for k, v in export.items() if not k in ("torchscript", "onnx")},
              "note": "random weights (cost does not depend on them); latency = median of timed repetitions"}
    write_benchmark(result, f"inference-{device.type}", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
