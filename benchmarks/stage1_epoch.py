"""Stage 1 cost: one prompt-learning step (text tower forward + backward over all classes, batch of cached image
features, gradient clip, SGD) with and without cutting the sequence after the last end-of-text token, in one process.
Each step is the trainer's own `prompts.train_one_epoch` over one batch, with the recipe of `config.CalibrateConfig`.

    python benchmarks/stage1_epoch.py --classes 8            # CPU: ConvNeXt-XXL text tower, 8 classes
    python benchmarks/stage1_epoch.py --classes 200 --device cuda

Class names are made of CUB-like words so that prompt lengths match the real data set. Writes JSON to
pand_core/measured/; the epoch time assumes CUB-200's training split (`SPLIT_SIZES["cub"]`) and batch 128.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
import warnings

import torch
import torch.nn.functional as F

from pand_core.config import CalibrateConfig
from pand_core.config import SPLIT_SIZES
from pand_core.infra.environment import write_benchmark
from pand_core.models import load_teacher
from pand_core.stage1.prompts import PromptLearner, make_prompt_scaler, prompt_autocast_dtype, stage1_optimizer, train_one_epoch

WORDS = ["Black", "footed", "Albatross", "Laysan", "Sooty", "Crested", "Auklet", "Least", "Parakeet", "Rhinoceros",
         "Brewer", "Blackbird", "Red", "winged", "Yellow", "headed", "Bobolink", "Indigo", "Bunting", "Lazuli"]


def classnames(n: int) -> list[str]:
    g = torch.Generator().manual_seed(0)
    return [" ".join(WORDS[int(i)] for i in torch.randint(0, len(WORDS), (2 + k % 3,), generator=g)) for k in range(n)]


def measure_stage1(teacher, classes: int, batch: int, steps: int, device: torch.device, log=print) -> dict:
    """Median seconds of one Stage 1 step (`prompts.train_one_epoch` over one batch of random image features, the
    recipe of `config.CalibrateConfig`) over `classes` CUB-like class names, with the truncated and the full text
    sequence (after one untimed step), and the CUB-200 epoch estimate (step × ⌈CUB's training images / batch⌉)."""
    names = classnames(classes)
    feats = F.normalize(torch.randn(batch, teacher.embed_dim, device=device), dim=-1)
    labels = torch.randint(0, classes, (batch,), device=device)
    one_batch = torch.arange(batch, device=device)  # an "epoch" of one step; it ends reading the step back
    recipe = CalibrateConfig(batch_size=batch)
    result = {}
    for truncate in (True, False):
        torch.manual_seed(0)
        learner = PromptLearner(teacher, teacher.tokenizer, names, "a photo of {}, a type of bird", 16, truncate=truncate)
        opt, _ = stage1_optimizer(learner, recipe)
        scaler = make_prompt_scaler(recipe.prompt_precision, device)
        times = []
        for _ in range(steps + 1):
            t0 = time.perf_counter()
            train_one_epoch(learner, feats, labels, teacher.logit_scale, opt, one_batch, recipe.batch_size, recipe.grad_clip,
                            precision=recipe.prompt_precision, scaler=scaler)
            times.append(time.perf_counter() - t0)
        step = statistics.median(times[1:])
        key = "truncated" if truncate else "full"
        result[key] = {"sequence_length": learner.seq_len, "step_s": step,
                       "autocast": str(prompt_autocast_dtype(recipe.prompt_precision, device) or torch.float32),
                       "cub_epoch_s_estimate": step * math.ceil(SPLIT_SIZES["cub"].train / batch)}
        del learner, opt
        log(f"{key:9s}: sequence {result[key]['sequence_length']:2d} tokens, {step:8.3f} s per step")
    result["speedup"] = result["full"]["step_s"] / result["truncated"]["step_s"]
    log(f"truncation speed-up: {result['speedup']:.2f}x")
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--teacher", default="convnext_xxlarge")
    p.add_argument("--classes", type=int, default=8)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    device = torch.device(args.device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        teacher = load_teacher(args.teacher, None, device=device)
    result = measure_stage1(teacher, args.classes, args.batch, args.steps, device, log=lambda m: print(m, flush=True))
    ratio = result.pop("speedup")
    payload = {"benchmark": "stage1_step", "teacher": args.teacher, "classes": args.classes, "batch": args.batch,
               "device": str(device), **result, "speedup": ratio,
               "note": "random weights; per-epoch figure = step time x 47 steps (CUB-200 train, batch 128)"}
    write_benchmark(payload, f"stage1-{args.classes}c-{device.type}", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
