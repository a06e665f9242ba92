"""Why the better anchors do not make a better student on the miniature (issue 28): what Stage 1's anchors change in
the teacher's Stage 2 targets, measured on the students' own training views.

    python studies/anchor_diagnosis.py --runs RUNS --seeds 0 1 ... [--out studies/results/anchor-diagnosis]
    python studies/anchor_diagnosis.py --plot-only   # redraw the .png from the .json; nothing is measured again

For every seed of a finished study in RUNS: the teacher bank of that seed (the 8 stored views per training image
that every method trains on), the hand-prompt anchors and the seed's Stage 1 anchors. Of each anchor set: the
teacher's top-1 accuracy on those views, its mean top and true-class probability, the entropy of the text-KD target
softmax(Z^t/T), the mean cosine between two classes' anchors, and the share of NLRD's k = 3 neighbours (groups of 16,
as the smoke recipe searches them) that the two anchor sets agree on. Nothing here trains or changes the method.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from pand_core.stages import split_for, teacher_for  # noqa: E402
from pand_core.config import make_config  # noqa: E402
from pand_core.data import paper_train_transform  # noqa: E402
from pand_core.data.views import AugmentedViews  # noqa: E402
from pand_core.infra.environment import environment  # noqa: E402
from pand_core.method.diagnostics import (anchor_similarity, neighbour_agreement, target_mass_on,  # noqa: E402
                                          target_statistics, teacher_logits)
from pand_core.miniature.world import synthetic_classes  # noqa: E402
from pand_core.models.features import build_bank  # noqa: E402
from pand_core.report.results import t_interval  # noqa: E402
from pand_core.stage1.prompts import load_anchors  # noqa: E402

STATS = ("accuracy", "top_probability", "true_class_probability", "kd_target_entropy", "twin_mass")


def one_attribute_apart(n_classes: int) -> torch.Tensor:
    """`[C, C]` mask of the book world's species pairs that differ in exactly one attribute (the fine-grained twins)."""
    attrs = [(c.body, c.head, c.wing, c.tail) for c in synthetic_classes(n_classes)]
    return torch.tensor([[sum(x != y for x, y in zip(a, b)) == 1 for b in attrs] for a in attrs])


def diagnose_seed(seed: int, runs: str) -> dict:
    """Every measure of one seed, for the hand and the calibrated anchors, and the seed's students' accuracies."""
    cfg = make_config("distill", "smoke", runs=runs, method="pand", seed=seed)
    train = split_for(cfg, "train")
    teacher = teacher_for(cfg)
    views = AugmentedViews(train, paper_train_transform(cfg.image_size, cfg.resize), seed, views=cfg.bank_views)
    bank = build_bank(teacher, views, cache_dir=cfg.cache, batch_size=cfg.batch_size, precision=cfg.teacher_precision)
    feats = bank.reshape(-1, bank.shape[-1])
    labels = torch.tensor(train.targets).repeat_interleave(cfg.bank_views)
    with torch.no_grad():
        hand = teacher.encode_text(train.prompts()).float().cpu()
    cal, _ = load_anchors(cfg.anchors, len(train.classnames))
    z_hand, z_cal = teacher_logits(feats, hand, cfg.scale), teacher_logits(feats, cal.float(), cfg.scale)
    twins = one_attribute_apart(len(train.classnames))
    out = {"seed": seed,
           "hand": dict(target_statistics(z_hand, labels, cfg.temperature), anchor_cosine=anchor_similarity(hand),
                        twin_mass=target_mass_on(z_hand, labels, twins, cfg.temperature)),
           "calibrated": dict(target_statistics(z_cal, labels, cfg.temperature), anchor_cosine=anchor_similarity(cal),
                              twin_mass=target_mass_on(z_cal, labels, twins, cfg.temperature)),
           "neighbour_agreement": neighbour_agreement(z_hand, z_cal, cfg.nlrd_group_size, cfg.nlrd_k, seed=seed),
           "chance_agreement": cfg.nlrd_k / (cfg.nlrd_group_size - 1)}
    students = {}
    for method in ("pand", "pand-no-psc", "pand-no-nlrd", "vl2lite"):
        res = Path(make_config("distill", "smoke", runs=runs, method=method, seed=seed).out) / "result.json"
        if res.exists():
            students[method] = json.loads(res.read_text())["test_acc_last"]
    out["students"] = students
    return out


def summary(rows: list[dict]) -> dict:
    """Mean and 95 % interval over seeds of each measure and of the calibrated − hand difference."""
    out = {}
    for key in (*STATS, "anchor_cosine"):
        for side in ("hand", "calibrated"):
            out[f"{side}:{key}"] = t_interval([r[side][key] for r in rows])
        out[f"diff:{key}"] = t_interval([r["calibrated"][key] - r["hand"][key] for r in rows])
    out["neighbour_agreement"] = t_interval([r["neighbour_agreement"] for r in rows])
    paired = [(r["calibrated"]["kd_target_entropy"] - r["hand"]["kd_target_entropy"],
               r["students"]["pand"] - r["students"]["pand-no-psc"]) for r in rows
              if {"pand", "pand-no-psc"} <= set(r["students"])]
    out["entropy_change_vs_student_correlation"] = (statistics.correlation(*zip(*paired)) if len(paired) > 2 else None)
    return out


LABELS = {"accuracy": "teacher top-1 on the training views (%)", "top_probability": "mean top probability",
          "true_class_probability": "mean true-class probability",
          "kd_target_entropy": "entropy of the text-KD target softmax(Z/T) (nats)",
          "twin_mass": "text-KD target's mass on the species one attribute away",
          "anchor_cosine": "mean cosine between two classes' anchors"}


def markdown(rows: list[dict], s: dict, note: str) -> str:
    def iv(r: dict, fmt: str = ".3f", sign: str = "") -> str:
        lo, hi = r["ci95"]
        return f"{r['mean']:{sign}{fmt}} [{lo:{sign}{fmt}}, {hi:{sign}{fmt}}]"

    lines = ["| on the students' training views | hand anchors | calibrated anchors (Stage 1) | calibrated − hand |",
             "|---|---|---|---|"]
    for key, label in LABELS.items():
        fmt = ".1f" if key == "accuracy" else ".3f"
        lines.append(f"| {label} | {iv(s['hand:' + key], fmt)} | {iv(s['calibrated:' + key], fmt)} | "
                     f"{iv(s['diff:' + key], fmt, '+')} |")
    chance = rows[0]["chance_agreement"]
    lines += [f"| NLRD neighbours (k = 3 in groups of 16) the two anchor sets share | — | — | "
              f"{iv(s['neighbour_agreement'], '.3f')} (chance {chance:.2f}) |", ""]
    corr = s.get("entropy_change_vs_student_correlation")
    if corr is not None:
        lines += [f"Over the seeds, the correlation of the change in target entropy with the seed's pand − pand-no-psc "
                  f"is {corr:+.2f}.", ""]
    lines.append(note)
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], path: Path) -> None:
    """The figure of the per-seed records `rows` at the book's page width and style
    (`pand_core.report.figures.anchor_diagnosis_figure`); the provenance is in the .md beside it, not in the image."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pand_core.report.figures import anchor_diagnosis_figure
    from pand_core.report.style import apply_style

    with plt.rc_context():
        apply_style()
        fig = anchor_diagnosis_figure(rows)
        fig.savefig(path)
        plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", help="the finished study's runs folder (not needed with --plot-only)")
    p.add_argument("--seeds", nargs="+", type=int, help="the study's seeds (not needed with --plot-only)")
    p.add_argument("--out", default="studies/results/anchor-diagnosis")
    p.add_argument("--plot-only", action="store_true",
                   help="redraw OUT.png from the records in OUT.json; nothing is measured again")
    args = p.parse_args(argv)
    out = Path(args.out)
    if args.plot_only:
        plot(json.loads(out.with_suffix(".json").read_text())["seeds"], out.with_suffix(".png"))
        print("wrote", out.with_suffix(".png"))
        return 0
    if not args.runs or not args.seeds:
        p.error("--runs and --seeds are required unless --plot-only")
    t0 = time.perf_counter()
    rows = [diagnose_seed(s, args.runs) for s in args.seeds]
    s = summary(rows)
    env = environment()
    note = (f"Generated by `python studies/anchor_diagnosis.py --seeds {args.seeds[0]}..{args.seeds[-1]}` "
            f"({len(rows)} seeds) in {time.perf_counter() - t0:.0f} s ({env.get('cpu_count')} CPU cores, "
            f"{env.get('device')}, torch {env.get('torch')}); intervals are Student-t over seeds.")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"seeds": rows, "summary": s, "note": note, "environment": env},
                                                   indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(rows, s, note))
    plot(rows, out.with_suffix(".png"))
    print(markdown(rows, s, note))
    return 0


if __name__ == "__main__":
    sys.exit(main())
