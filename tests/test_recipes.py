"""Every Stage 2 method's recipe on the paper profile, pinned to the values it must have: PAND's own (method doc §4)
for the controlled rows, and the original code's `kda` recipe for the rows the paper's baselines came from."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
import torchvision

from pand_core.cli import build_parser
from pand_core.config import METHODS, make_config
from pand_core.config import SPLIT_SIZES
from pand_core.stage2.distill import lr_schedule, make_optimizer
from pand_core.infra.errors import ConfigError
from pand_core.models import build_student

# method: (weight decay, scheduler, KD scale, classifier dropout kept)
RECIPES = {
    "ce-original": (0.0, "StepLR(30, 0.5)", 1.0, True),
    "ce": (1e-4, "cosine(100, 1e-05)", 1.0, False),
    "kd": (1e-4, "cosine(100, 1e-05)", 1.0, False),
    "vl2lite-original": (0.0, "StepLR(30, 0.5)", 0.5, False),
    "vl2lite": (1e-4, "cosine(100, 1e-05)", 1.0, False),
    "pand-no-psc": (1e-4, "cosine(100, 1e-05)", 1.0, False),
    "pand-no-nlrd": (1e-4, "cosine(100, 1e-05)", 1.0, False),
    "pand": (1e-4, "cosine(100, 1e-05)", 1.0, False),
}


def _describe(sched) -> str:
    if isinstance(sched, torch.optim.lr_scheduler.StepLR):
        return f"StepLR({sched.step_size}, {sched.gamma})"
    assert isinstance(sched, torch.optim.lr_scheduler.CosineAnnealingLR)
    return f"cosine({sched.T_max}, {sched.eta_min})"


def test_every_method_has_a_pinned_recipe():
    assert set(RECIPES) == set(METHODS)


@pytest.mark.parametrize("method", list(RECIPES))
def test_recipe_of_each_method_on_the_paper_profile(method):
    wd, scheduler, kd_scale, dropout = RECIPES[method]
    cfg = make_config("distill", "paper", method=method)
    opt, sched = make_optimizer(cfg, [torch.nn.Parameter(torch.zeros(1))])
    assert type(opt) is torch.optim.AdamW and opt.defaults["lr"] == 1e-4 and opt.defaults["weight_decay"] == wd
    assert _describe(sched) == scheduler
    assert cfg.spec.kd_scale == kd_scale and cfg.spec.keep_dropout == dropout
    assert cfg.student_weights == "IMAGENET1K_V1" and cfg.epochs == 300
    assert cfg.batch_size == (512 if method == "ce-original" else 128)  # the original's no-teacher run: kd_data.yaml's 512


def test_an_explicit_batch_size_overrides_the_recipes_own():
    assert make_config("distill", "paper", method="ce-original", batch_size=128).batch_size == 128
    assert make_config("distill", "paper", method="ce", batch_size=64).batch_size == 64
    assert make_config("distill", "smoke", method="ce-original").batch_size == make_config("distill", "smoke").batch_size


def test_the_original_schedule_halves_every_30_epochs():
    lrs = lr_schedule(make_config("distill", "paper", method="ce-original"))
    assert len(lrs) == 300
    assert lrs[0] == lrs[29] == pytest.approx(1e-4) and lrs[30] == pytest.approx(5e-5) and lrs[299] == pytest.approx(1e-4 / 2 ** 9)


def test_mobilenet_keeps_its_dropout_only_in_the_original_ce_recipe():
    torch.manual_seed(0)
    kept = build_student("mobilenet_v2", 5, pretrained=False, keep_dropout=True)
    assert isinstance(kept.dropout, torch.nn.Dropout) and kept.dropout.p == 0.2  # torchvision's own head
    assert isinstance(build_student("mobilenet_v2", 5, pretrained=False).dropout, torch.nn.Identity)
    assert isinstance(build_student("resnet18", 5, pretrained=False, keep_dropout=True).dropout, torch.nn.Identity)
    x = torch.randn(2, 3, 64, 64)
    kept.train()
    a, b = kept(x), kept(x)
    assert not torch.equal(a.logits, b.logits)  # dropout acts on the logits' input ...
    kept.eval()
    c, d = kept(x), kept(x)
    assert torch.equal(c.logits, d.logits) and torch.allclose(c.features, d.features)  # ... and not at evaluation


def test_student_weights_tag_reaches_torchvision_and_is_checked(monkeypatch):
    asked = []

    def fake_get_model(name, weights=None):
        asked.append(weights)
        if weights is not None:
            raise RuntimeError("offline")
        return real(name, weights=None)

    real = torchvision.models.get_model
    monkeypatch.setattr(torchvision.models, "get_model", fake_get_model)
    with pytest.warns(UserWarning, match="unavailable"):
        build_student("mobilenet_v2", 3)
    assert asked[0] == "IMAGENET1K_V1"  # the original's pretrained=True, not torchvision's newer DEFAULT (V2)
    with pytest.raises(ConfigError, match=r"no ImageNet weights 'IMAGENET1K_V9'[\s\S]*IMAGENET1K_V1"):
        make_config("distill", "paper", method="pand", student="mobilenet_v2", student_weights="IMAGENET1K_V9")
    assert make_config("distill", "paper", method="pand", student_weights="DEFAULT").student_weights == "DEFAULT"


# ------------------------------------------------------------- the list of remaining deviations (book/_deviations.md)
DEVIATIONS = Path(__file__).resolve().parents[1] / "book" / "_deviations.md"


def test_the_deviation_list_is_shown_once_and_its_switches_exist():
    book = DEVIATIONS.parent
    showing = [p.name for p in sorted(book.glob("*.md")) if "```{include} _deviations.md" in p.read_text()]
    assert showing == ["deviations.md"]  # one page shows the table; the method and the guide link to it
    for page in ("method.md", "reproduction.md"):
        assert "](deviations.md)" in (book / page).read_text(), page
    text = DEVIATIONS.read_text()
    parser = build_parser()
    for command in ("calibrate", "distill"):  # every `--flag` in the table is a real option of a stage
        parser.parse_args([command, "--early-stop-patience", "50", "--select-on", "test"] if command == "calibrate"
                          else [command, "--early-stop-patience", "100", "--teacher-precision", "fp16"])
    flags = set(re.findall(r"--[a-z][a-z_-]+", text)) - {"--nproc_per_node"}  # torchrun's own
    known = {opt for action in parser._subparsers._group_actions[0].choices.values() for a in action._actions
             for opt in a.option_strings}
    assert flags and flags <= known, flags - known


def test_the_last_batch_sizes_quoted_in_the_deviation_list():
    """Item 9's remainders, derived from the splits' sizes by the trainer's own batching (one GPU of 128; 4 of 32)."""
    from pand_core.stage2.feeding import epoch_batches

    sizes = {k: SPLIT_SIZES[k.lower()].train for k in ("CUB", "Aircraft", "Pets", "Dogs")}
    one = {k: len(epoch_batches(n, 128, seed=0, epoch=0)[-1]) for k, n in sizes.items()}
    four = {k: len(epoch_batches(n, 32, seed=0, epoch=0, rank=3, world=4)[-1]) for k, n in sizes.items()}
    assert one == {"CUB": 106, "Aircraft": 6, "Pets": 96, "Dogs": 96}
    assert four == {"CUB": 27, "Aircraft": 2, "Pets": 24, "Dogs": 24}
    row = next(line for line in DEVIATIONS.read_text().splitlines() if line.startswith("| 9 |"))
    assert "106 (CUB), 6 (Aircraft), 96 (Pets, Dogs)" in row and "27, 2, 24, 24" in row



def test_the_test_images_the_original_scored_quoted_in_the_deviation_list():
    """Row 2: a test loader with drop_last on each of `world` GPUs (a DistributedSampler's ceil(N / world) images per
    GPU, batch / world a step) scores 5,760 of CUB's 5,794 test images at batch 128 and 5,632 at 512, on 1 or 4 GPUs."""
    import math

    def scored(n: int, batch: int, world: int) -> int:
        per_gpu, step = math.ceil(n / world), batch // world
        return world * (per_gpu // step) * step

    test = SPLIT_SIZES["cub"].test
    assert {scored(test, 128, w) for w in (1, 4)} == {5760} and {scored(test, 512, w) for w in (1, 4)} == {5632}
    row = next(line for line in DEVIATIONS.read_text().splitlines() if line.startswith("| 2 |"))
    assert "5,760 of 5,794 images at the batch of 128 and 5,632 at" in row
