"""The offline miniature, end to end so far: synthetic CUB-layout data → tiny teacher → teacher features →
hand-prompt zero-shot accuracy → Stage 1 prompt calibration (paper recipe, fewer epochs) → anchors + result.

    python -m pand_core.smoke [--out runs/quickstart] [--epochs 40]

Runs on 2 CPU cores in well under a minute. The tiny teacher has random weights (it is not pretrained yet), so
its zero-shot accuracy sits near chance; what calibration can learn from it is exactly what is reported.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import torch

from .data import load_dataset
from .data.synthetic import SyntheticSpec, make_synthetic_cub
from .errors import PandError
from .features import accuracy, extract_features, zero_shot_logits
from .models import build_tiny_teacher
from .prompts import CalibrationConfig, PromptLearner, save_anchors, train_prompts
from .runinfo import default_cache, environment, write_json


def run(out: str | Path = "runs/quickstart", epochs: int = 40, n_ctx: int = 16, seed: int = 0,
        spec: SyntheticSpec = SyntheticSpec(), progress: bool | None = None) -> dict:
    """Run the miniature and return its result dict (also written to `out/result.json`)."""
    cfg = CalibrationConfig(epochs=epochs, seed=seed)
    out = Path(out)
    torch.manual_seed(seed)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    data_root = default_cache() / f"synthetic-cub-{spec.n_classes}c-{spec.image_size}px-s{spec.seed}"
    make_synthetic_cub(data_root, spec, progress=progress)
    timings["data_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    teacher = build_tiny_teacher(seed=seed)
    train = load_dataset("cub", data_root, "train", transform=teacher.preprocess)
    test = load_dataset("cub", data_root, "test", transform=teacher.preprocess)
    f_train, y_train = extract_features(teacher, train, progress=progress)
    f_test, y_test = extract_features(teacher, test, progress=progress)
    timings["features_s"] = time.perf_counter() - t0

    hand = teacher.encode_text(train.prompts())
    hand_train = accuracy(zero_shot_logits(f_train, hand, teacher.logit_scale), y_train)
    hand_test = accuracy(zero_shot_logits(f_test, hand, teacher.logit_scale), y_test)

    t0 = time.perf_counter()
    learner = PromptLearner(teacher, teacher.tokenizer, train.classnames, train.template, n_ctx=n_ctx)
    history = train_prompts(learner, f_train, y_train, teacher.logit_scale, cfg, f_test, y_test, progress=progress)
    timings["stage1_s"] = time.perf_counter() - t0
    with torch.no_grad():
        anchors = learner()
    cal_test = accuracy(zero_shot_logits(f_test, anchors, teacher.logit_scale), y_test)

    anchors_path = save_anchors(out / "anchors.pt", anchors, {
        "classnames": train.classnames, "template": train.template, "n_ctx": n_ctx, "teacher": teacher.describe(),
        "dataset": "synthetic-cub", "epoch": epochs - 1, "test_acc": cal_test, "selected_on": "last epoch",
    })
    result = {
        "what": "smoke: synthetic data, tiny random-weights teacher, Stage 1 prompt calibration",
        "config": {"calibration": dataclasses.asdict(cfg), "n_ctx": n_ctx, "synthetic": dataclasses.asdict(spec)},
        "teacher": teacher.describe(),
        "data": {"root": str(data_root), "train": len(train), "test": len(test), "classes": len(train.classnames)},
        "metrics": {
            "chance_acc": 100.0 / len(train.classnames),
            "hand_prompt_train_acc": hand_train,
            "hand_prompt_test_acc": hand_test,
            "calibrated_train_acc": history[-1]["train_acc"],
            "calibrated_test_acc": cal_test,
        },
        "history": history,
        "anchors": str(anchors_path),
        "timings": timings,
        "environment": environment(),
    }
    write_json(out / "result.json", result)
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pand_core.smoke", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="runs/quickstart", help="output folder (default: runs/quickstart)")
    p.add_argument("--epochs", type=int, default=40, help="Stage 1 epochs (paper: 200; default 40)")
    p.add_argument("--n-ctx", type=int, default=16, help="learned context tokens (paper: 16)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    try:
        res = run(args.out, args.epochs, args.n_ctx, args.seed, progress=None)
    except PandError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    m, t = res["metrics"], res["timings"]
    print(f"PAND smoke run — {res['data']['classes']} synthetic classes, {res['data']['train']} train / "
          f"{res['data']['test']} test images, teacher {res['teacher']['name']} ({res['teacher']['source']})")
    print(f"  chance                         {m['chance_acc']:6.2f} %")
    print(f"  hand-prompt zero-shot  test    {m['hand_prompt_test_acc']:6.2f} %   (train {m['hand_prompt_train_acc']:.2f} %)")
    print(f"  calibrated prompts     test    {m['calibrated_test_acc']:6.2f} %   (train {m['calibrated_train_acc']:.2f} %)")
    print(f"  time: data {t['data_s']:.1f} s, features {t['features_s']:.1f} s, Stage 1 {t['stage1_s']:.1f} s")
    print(f"  wrote {Path(args.out) / 'result.json'} and {res['anchors']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
