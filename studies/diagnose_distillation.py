"""Why do distilled students end below both the teacher and CE on the miniature? (issue 12's first question)

    python studies/diagnose_distillation.py --seeds 0 1 --out studies/results/diagnosis.json

Trains Stage 2 on the smoke world with the smoke recipe (teacher bank, so the runs are cheap) under a few
controls, then measures on the untouched train/test images (test transform):

- `probe`: logistic regression on the student's pooled features h (train → test), and the same on the teacher's f;
- `rank`: effective rank (exp of the entropy of the normalised singular values) of the student's ĥ and of the
  aligned teacher features a = n(φ_v(f)) over the training images, and the share of their variance that lies
  between classes (1.0: features are class means; 0.0: class carries no variance);
- `head_grad`: on one training batch at the last epoch's α, the norm of the gradient that α·CE and β·L_nlrd each
  send to the classifier weights W;
- `ce_steps`: Σ over optimiser steps of α, the cross-entropy "step mass" the head receives, for the paper's CUB
  recipe and for this run (both computed from the schedule, no training).

Controls: `ce`; `pand` as the paper; `pand` with the align head frozen at its initialisation (`--frozen-head`
suspect); `pand` from a student whose backbone was first trained by `ce` on the same training images (an
informative start: does distillation keep or destroy features it is given?). Nothing here changes the method.

The book shows its output on the first world (12 classes, ResNet-18 from scratch at 48 px, 8 epochs), produced at
commit cda3c61 and kept as `studies/results/diagnosis-first-world.{json,md}`; run today, it measures the present
smoke profile.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from pand_core.stage2 import distill as distill_mod
from pand_core.config import make_config
from pand_core.data import paper_test_transform
from pand_core.config import SPLIT_SIZES
from pand_core.infra.environment import environment
from pand_core.method.losses import ce_step_mass, loss_weights, nlrd_loss
from pand_core.models import AlignHead
from pand_core.stages import load_student, split_for, teacher_for


def effective_rank(x: torch.Tensor) -> float:
    """exp(H(σ/Σσ)) of the centred matrix's singular values: 1 for a rank-one cloud, D for an isotropic one."""
    s = torch.linalg.svdvals(x - x.mean(0))
    p = s / s.sum().clamp_min(1e-12)
    return float(torch.exp(-(p * p.clamp_min(1e-12).log()).sum()))


def between_class_share(x: torch.Tensor, y: torch.Tensor) -> float:
    """Variance of the class means (weighted by class size) over the total variance, summed over dimensions."""
    total = ((x - x.mean(0)) ** 2).sum(1).mean()
    means = torch.stack([x[y == c].mean(0) for c in y.unique()])
    counts = torch.stack([(y == c).sum() for c in y.unique()]).float()
    between = (counts[:, None] * (means - x.mean(0)) ** 2).sum() / counts.sum()
    return float(between / total.clamp_min(1e-12))


def probe(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor) -> dict:
    """Linear-probe accuracy (%) of standardised features, L2-regularised logistic regression (scikit-learn)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(train_x.numpy())
    clf = LogisticRegression(max_iter=2000, C=1.0).fit(scaler.transform(train_x.numpy()), train_y.numpy())
    return {"train": 100.0 * clf.score(scaler.transform(train_x.numpy()), train_y.numpy()),
            "test": 100.0 * clf.score(scaler.transform(test_x.numpy()), test_y.numpy())}


@torch.no_grad()
def student_features(student, dataset) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    hs, feats, ys = [], [], []
    for x, y in torch.utils.data.DataLoader(dataset, batch_size=64):
        out = student(x)
        hs.append(out.pooled)
        feats.append(out.features)
        ys.append(torch.as_tensor(y))
    return torch.cat(hs), torch.cat(feats), torch.cat(ys)


def measure(run_dir: Path, teacher, cfg, anchors: torch.Tensor | None, data: dict) -> dict:
    student, _ = load_student(run_dir)
    ckpt = torch.load(run_dir / "checkpoint_last.pt", weights_only=True)
    h_tr, hn_tr, y_tr = student_features(student, data["train"])
    h_te, _, y_te = student_features(student, data["test"])
    out = {"probe": probe(h_tr, y_tr, h_te, y_te),
           "student": {"effective_rank": effective_rank(hn_tr), "between_class_share": between_class_share(hn_tr, y_tr)},
           "result": json.loads((run_dir / "result.json").read_text())}
    keys = [k for k in ckpt["model"] if k.startswith("head.")]
    if keys:
        head = AlignHead(teacher.embed_dim, student.feat_dim)
        head.load_state_dict({k[len("head."):]: ckpt["model"][k] for k in keys})
        with torch.no_grad():
            a, _ = head(data["f_train"], anchors)
        out["aligned_teacher"] = {"effective_rank": effective_rank(a), "between_class_share": between_class_share(a, y_tr)}
        out["l1_student_vs_aligned"] = float((hn_tr - a).abs().mean())
    if cfg.spec.nlrd:  # gradient that α·CE and β·L_nlrd send to the classifier weights, one batch, last epoch's α
        student.train()
        x, y = next(iter(torch.utils.data.DataLoader(data["train_batch"], batch_size=len(data["train_batch"]))))
        alpha = loss_weights(cfg.epochs - 1, cfg.epochs)[0]
        grads = {}
        for name in ("ce", "nlrd"):
            student.zero_grad()
            o = student(x)
            if name == "ce":
                loss = alpha * F.cross_entropy(o.logits, y)
            else:
                zt = cfg.scale * data["f_train"][: len(y)] @ anchors.t()  # the same images' teacher rows
                loss = cfg.beta * nlrd_loss(o.logits, zt, cfg.nlrd_k, cfg.nlrd_group_size)
            loss.backward()
            grads[name] = float(student.classifier.weight.grad.norm())
        out["head_grad"] = {"alpha": alpha, **grads, "ce_share": grads["ce"] / (grads["ce"] + grads["nlrd"])}
        student.eval()
    return out


class FrozenAlignHead(AlignHead):
    """The align head at its initialisation, never trained (the control for the 'both sides move' suspect)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.requires_grad_(False)


def save_backbone_as_torchvision(run_dir: Path, path: Path) -> Path:
    """The CE run's backbone as a torchvision state dict (classifier replaced by a random 1000-way fc, which the
    student build strips again), so that `build_student(pretrained=path)` loads it like a user's checkpoint."""
    import torchvision

    student, cfg = load_student(run_dir)
    net = torchvision.models.get_model(cfg.student, weights=None)
    state = {k[len("backbone."):]: v for k, v in student.state_dict().items() if k.startswith("backbone.")}
    state.update({k: v for k, v in net.state_dict().items() if k.startswith("fc.")})
    net.load_state_dict(state)
    torch.save(net.state_dict(), path)
    return path


def markdown(report: dict) -> str:
    """The diagnosis as a Markdown table (mean over seeds, every seed in brackets), for the book to include."""
    def col(rows, get):
        vals = [get(r) for r in rows]
        vals = [v for v in vals if v is not None]
        if not vals:
            return "—"
        digits = 2 if max(vals) <= 1 else 1
        return f"{sum(vals) / len(vals):.{digits}f} ({', '.join(f'{v:.{digits}f}' for v in vals)})"

    lines = ["| condition | test acc, last epoch | linear probe on h, test | eff. rank of ĥ | between-class share of ĥ "
             "| eff. rank of a | between-class share of a | CE share of the head's gradient |", "|---|---|---|---|---|---|---|---|"]
    for name, rows in report["conditions"].items():
        lines.append(" | ".join([
            f"| {name}", col(rows, lambda r: r["test_acc_last"]), col(rows, lambda r: r["probe"]["test"]),
            col(rows, lambda r: r["student"]["effective_rank"]), col(rows, lambda r: r["student"]["between_class_share"]),
            col(rows, lambda r: r.get("aligned_teacher", {}).get("effective_rank")),
            col(rows, lambda r: r.get("aligned_teacher", {}).get("between_class_share")),
            col(rows, lambda r: r.get("head_grad", {}).get("ce_share"))]) + " |")
    t, m = report["teacher_probe"], report["ce_step_mass"]
    env = report["environment"]
    lines += ["", f"Teacher's own features: linear probe {t['train']:.1f} % on train, {t['test']:.1f} % on test; "
              f"effective rank {report['teacher']['effective_rank']:.1f}, between-class share "
              f"{report['teacher']['between_class_share']:.2f}. Cross-entropy step mass Σα over optimiser steps: "
              f"paper recipe on CUB {m['paper_cub']['mass']:.0f} ({m['paper_cub']['epochs']} epochs × "
              f"{m['paper_cub']['steps_per_epoch']} steps), smoke recipe {m['smoke']['mass']:.2f} "
              f"({m['smoke']['epochs']} × {m['smoke']['steps_per_epoch']}).",
              "", f"Generated by `studies/diagnose_distillation.py` (seeds {report['seeds']}; torch {env.get('torch')}, "
              f"{env.get('cuda') or env.get('device')}, {env.get('cpu_count')} CPU cores). Mean over seeds, every seed in brackets."]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    p.add_argument("--runs", default="studies/runs/diagnosis")
    p.add_argument("--out", default="studies/results/diagnosis.json")
    p.add_argument("--render", action="store_true", help="only rewrite the Markdown table from an existing --out JSON")
    args = p.parse_args()
    if args.render:
        report = json.loads(Path(args.out).read_text())
        report.setdefault("seeds", sorted({r["seed"] for rows in report["conditions"].values() for r in rows}))
        Path(args.out).with_suffix(".md").write_text(markdown(report))
        return
    torch.set_num_threads(max(1, torch.get_num_threads()))
    runs = Path(args.runs)
    report: dict = {"environment": environment(), "conditions": {}, "ce_step_mass": {}}
    base = make_config("distill", "smoke", method="pand", teacher_mode="bank")
    paper = make_config("distill", "paper", method="pand")
    paper_steps = math.ceil(SPLIT_SIZES["cub"].train / paper.batch_size)
    report["ce_step_mass"] = {
        "paper_cub": {"epochs": paper.epochs, "steps_per_epoch": paper_steps, "mass": ce_step_mass(paper.epochs, paper_steps)},
        "smoke": {"epochs": base.epochs, "steps_per_epoch": 192 // base.batch_size,
                  "mass": ce_step_mass(base.epochs, 192 // base.batch_size)},
    }
    teacher = teacher_for(base)
    data = {"train": split_for(base, "train", paper_test_transform(base.image_size)),
            "test": split_for(base, "test", paper_test_transform(base.image_size))}
    tr_t = split_for(base, "train", teacher.preprocess)
    te_t = split_for(base, "test", teacher.preprocess)
    from pand_core.models.features import extract_features

    f_tr, y_tr = extract_features(teacher, tr_t, progress=False)
    f_te, y_te = extract_features(teacher, te_t, progress=False)
    data["f_train"] = f_tr
    report["teacher_probe"] = probe(f_tr, y_tr, f_te, y_te)
    report["teacher"] = {"effective_rank": effective_rank(f_tr), "between_class_share": between_class_share(f_tr, y_tr)}

    from pand_core.stage1.calibrate import calibrate

    for seed in args.seeds:
        cal = make_config("calibrate", "smoke", seed=seed, out=str(runs / f"calibrate-s{seed}"))
        anchors_file = calibrate(cal, progress=False)["anchors"]
        conditions = {
            "ce": dict(method="ce"),
            "pand": dict(method="pand"),
            "pand-frozen-head": dict(method="pand", _frozen=True),
            "pand-from-ce-backbone": dict(method="pand", _init="ce"),
        }
        for name, kw in conditions.items():
            frozen, init = kw.pop("_frozen", False), kw.pop("_init", None)
            run_dir = runs / f"{name}-s{seed}"
            extra = {}
            if init:
                extra["student_pretrained"] = str(save_backbone_as_torchvision(runs / f"{init}-s{seed}",
                                                                               runs / f"{init}-s{seed}-backbone.pt"))
            cfg = make_config("distill", "smoke", teacher_mode="bank", seed=seed, out=str(run_dir), **kw, **extra)
            if cfg.spec.anchors == "learned":
                cfg.anchors = anchors_file
            original = distill_mod.AlignHead
            distill_mod.AlignHead = FrozenAlignHead if frozen else original
            t0 = time.perf_counter()
            try:
                distill_mod.distill(cfg, progress=False)
            finally:
                distill_mod.AlignHead = original
            anchors = None
            if cfg.spec.teacher:
                from pand_core.stage1.prompts import load_anchors

                anchors = load_anchors(cfg.anchors)[0] if cfg.spec.anchors == "learned" else teacher.encode_text(data["train"].prompts())
            # the probe batch: the first `batch_size` training images in order, their teacher rows alike
            ordered = torch.utils.data.Subset(data["train"], list(range(cfg.batch_size)))
            m = measure(run_dir, teacher, cfg, anchors, {**data, "train_batch": ordered})
            m["seconds"] = time.perf_counter() - t0
            report["conditions"].setdefault(name, []).append({"seed": seed, **{k: v for k, v in m.items() if k != "result"},
                                                             "test_acc_last": m["result"]["test_acc_last"]})
            print(f"seed {seed} {name:22s} test {m['result']['test_acc_last']:5.1f}  probe {m['probe']['test']:5.1f}  "
                  f"rank ĥ {m['student']['effective_rank']:5.1f}  between ĥ {m['student']['between_class_share']:.2f}"
                  + (f"  rank a {m['aligned_teacher']['effective_rank']:5.1f}  between a "
                     f"{m['aligned_teacher']['between_class_share']:.2f}" if "aligned_teacher" in m else "")
                  + (f"  ce share {m['head_grad']['ce_share']:.2f}" if "head_grad" in m else ""), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    report["seeds"] = args.seeds
    Path(args.out).write_text(json.dumps(report, indent=1))
    Path(args.out).with_suffix(".md").write_text(markdown(report))
    print(json.dumps({k: report[k] for k in ("ce_step_mass", "teacher_probe", "teacher")}, indent=1))


if __name__ == "__main__":
    main()
