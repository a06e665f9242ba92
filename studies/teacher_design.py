"""Design measurements for the miniature teacher, on a *validation* world (never the book's test images).

    python studies/teacher_design.py --pairs 5000 --epochs 8 --out studies/results/teacher-design.jsonl

Pretrains `pand-mini-clip` with the given pretraining size and recipe, then measures its hand-prompt zero-shot
accuracy on a validation world: the same kind of world as the book's (classes, images per class), drawn with
another seed, so no decision taken here looks at the book's test split. Appends one JSON line per call.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from pand_core.data import load_dataset
from pand_core.miniature.world import SYNTHETIC_VERSION, SyntheticSpec, make_synthetic_cub, synthetic_classes
from pand_core.infra.environment import environment
from pand_core.models.features import extract_features, zero_shot_logits
from pand_core.miniature.teacher import PretrainSpec, mini_teacher_folder, pretrain_mini_clip, save_mini_teacher
from pand_core.models import MINI_TEACHER, Teacher
from pand_core.infra.paths import default_cache

import open_clip
import torch


def attrs(row: dict) -> str:
    a = row.get("attribute_acc_test")
    return "—" if a is None else f"{a['head']:.0f} / {a['wing']:.0f} / {a['tail']:.0f} %"


def views(row: dict) -> str:
    v = row.get("zero_shot_train_views")
    return "—" if v is None else f"{v:.1f} %"


def render(jsonl: Path) -> str:
    """All measurements so far as a Markdown table (one row per pretraining setting)."""
    rows = [json.loads(line) for line in jsonl.read_text().splitlines() if line.strip()]
    lines = ["| world / pretraining version | pretraining pairs × epochs | batch | teacher input | lr | final loss | zero-shot, validation train | zero-shot, validation test "
             "| test: head / wing / tail right | on Stage 2 views (paper transform) | chance | pretraining time |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        p, w = r["pretrain"], r["world"]
        lines.append(f"| v{r.get('world_version', 2)} / v{p['version']} | {p['pairs']} × {p['epochs']} | {p['batch_size']} | {p.get('image_size') or 48} px | {p['lr']:g} | {r['final_loss']:.2f} | {r['zero_shot_train']:.1f} % "
                     f"| {r['zero_shot_test']:.1f} % | {attrs(r)} | {views(r)} | {r['chance']:.1f} % | {r['pretrain_s'] / 60:.1f} min |")
    w = rows[-1]["world"] if rows else {}
    env = rows[-1]["environment"] if rows else {}
    lines += ["", f"Validation world: {w.get('n_classes')} classes, {w.get('train_per_class')} training and "
              f"{w.get('test_per_class')} test images per class, world seed {w.get('seed')} (the book's is 0). Generated "
              f"by `studies/teacher_design.py` ({env.get('cpu_count')} CPU cores, {env.get('device')}). Drawing v2: fan and fork "
              "tails are small triangles of one tone; v3: a wide pale fan against two long dark prongs; v4: a wide dark "
              "fan against two long dark prongs; v5: a wide teal fan against two long near-black prongs. Pretraining v6 shows "
              "each pair's image through one random view of the Stage 2 training transform (rotation, blur, colour "
              "jitter, crops). Stage 2 training views: the teacher's zero-shot accuracy on one such view of every "
              "validation training image at the student's 32 px. Pretraining v4 draws pairs in twin groups (`twin_class`) and keeps each "
              "group in one batch; earlier versions drew every pair's species independently."]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pairs", type=int, default=5000)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--augment", type=float, default=0.0,
                   help="share of pairs shown through a Stage 2 view each epoch (0: plain images, pretraining v5 and earlier)")
    p.add_argument("--image-size", type=int, default=None, help="the teacher's input size (default: its config's 48 px)")
    p.add_argument("--classes", type=int, default=24)
    p.add_argument("--train-per-class", type=int, default=30)
    p.add_argument("--test-per-class", type=int, default=20)
    p.add_argument("--world-seed", type=int, default=1, help="the validation world (the book's world is seed 0)")
    p.add_argument("--out", default="studies/results/teacher-design.jsonl")
    p.add_argument("--render", action="store_true", help="only rewrite the Markdown table from --out")
    args = p.parse_args()
    if args.render:
        Path(args.out).with_suffix(".md").write_text(render(Path(args.out)))
        return

    spec = SyntheticSpec(n_classes=args.classes, train_per_class=args.train_per_class,
                         test_per_class=args.test_per_class, seed=args.world_seed)
    root = make_synthetic_cub(Path(tempfile.mkdtemp(prefix="pand-valworld-")), spec)
    t0 = time.perf_counter()
    pre = PretrainSpec(pairs=args.pairs, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, image_size=args.image_size,
                       augment=args.augment)
    model, log = pretrain_mini_clip(pre)
    pretrain_s = time.perf_counter() - t0
    if pre == PretrainSpec():  # the book's recipe: keep it, so the smoke profile does not pretrain it again
        save_mini_teacher(model, log, mini_teacher_folder(default_cache(), pre), pre)
    preprocess = open_clip.image_transform(model.visual.image_size, is_train=False)
    teacher = Teacher(model, open_clip.get_tokenizer(MINI_TEACHER), preprocess, MINI_TEACHER, None, "pretrained here")
    row = {"pretrain": asdict(pre), "world": asdict(spec), "world_version": SYNTHETIC_VERSION, "pretrain_s": pretrain_s,
           "final_loss": log["history"][-1]["loss"], "logit_scale": log["history"][-1]["logit_scale"]}
    for split in ("train", "test"):
        data = load_dataset("cub", root.parent, split, preprocess)
        f, y = extract_features(teacher, data, progress=False)
        text = teacher.encode_text(data.prompts())
        pred = zero_shot_logits(f, text, teacher.logit_scale).argmax(-1)
        row[f"zero_shot_{split}"] = 100.0 * (pred == y).float().mean().item()
        classes = synthetic_classes(args.classes)  # which attribute does the teacher get wrong?
        row[f"attribute_acc_{split}"] = {a: 100.0 * sum(getattr(classes[int(p_)], a) == getattr(classes[int(t)], a)
                                                        for p_, t in zip(pred, y)) / len(y)
                                         for a in ("head", "wing", "tail")}
    # what Stage 2 shows the teacher: one random view of each training image, at the student's resolution
    from pand_core.config import make_config
    from pand_core.data import paper_train_transform
    from pand_core.data.views import AugmentedViews
    from pand_core.models.features import view_tensors

    stage2 = make_config("distill", "smoke")
    base = load_dataset("cub", root.parent, "train")
    views = view_tensors(AugmentedViews(base, paper_train_transform(stage2.image_size, stage2.resize), 0, views=1),
                         progress=False)
    pred = zero_shot_logits(teacher.encode_image(views[:, 0]), teacher.encode_text(base.prompts()),
                            teacher.logit_scale).argmax(-1)
    row["zero_shot_train_views"] = 100.0 * (pred == torch.tensor(base.targets)).float().mean().item()
    row["chance"] = 100.0 / args.classes
    row["environment"] = environment()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "a") as fh:
        fh.write(json.dumps(row) + "\n")
    Path(args.out).with_suffix(".md").write_text(render(Path(args.out)))
    print(json.dumps({k: v for k, v in row.items() if k != "environment"}, indent=1))


if __name__ == "__main__":
    main()
