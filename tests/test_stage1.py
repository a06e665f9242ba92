"""Stage 1 pieces: feature extraction, the calibration loop's recipe, anchors files, progress-bar policy."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F

from pand_core.config import CalibrateConfig, make_config
from pand_core.data import load_dataset
from pand_core.infra.errors import ConfigError, NonFiniteLossError
from pand_core.models.features import accuracy, extract_features, zero_shot_logits
from pand_core.stage1.prompts import PromptLearner, load_anchors, save_anchors, stage1_optimizer, train_prompts

NAMES = ["Black footed Albatross", "Laysan Albatross", "Chuck will Widow", "Bobolink"]


def test_extract_features_match_the_teacher(tiny_teacher, synthetic_root):
    ds = load_dataset("cub", synthetic_root, "test", transform=tiny_teacher.preprocess)
    feats, labels = extract_features(tiny_teacher, ds, batch_size=5, progress=False)
    assert feats.shape == (len(ds), tiny_teacher.embed_dim) and labels.tolist() == ds.targets
    direct = tiny_teacher.encode_image(torch.stack([ds[i][0] for i in range(3)]))
    assert torch.allclose(feats[:3], direct, atol=1e-5)


def test_accuracy_and_zero_shot_logits():
    f = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    t = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    logits = zero_shot_logits(f, t, 100.0)
    assert torch.equal(logits, 100.0 * f @ t.t())
    assert accuracy(logits, torch.tensor([0, 1, 1])) == pytest.approx(200 / 3)


def _toy_features(teacher, n_per_class=6, seed=0):
    """Image features that sit near the class features of a *hidden* context, so calibration has something to find."""
    g = torch.Generator().manual_seed(seed)
    target = PromptLearner(teacher, teacher.tokenizer, NAMES, "{}", n_ctx=4)
    with torch.no_grad():
        target.ctx.copy_(torch.randn(target.ctx.shape, generator=g))
        text = target()
    labels = torch.arange(len(NAMES)).repeat_interleave(n_per_class)
    feats = F.normalize(text[labels] + 0.05 * torch.randn(len(labels), text.shape[1], generator=g), dim=-1)
    return feats, labels


def test_calibration_follows_the_recipe_and_learns(tiny_teacher):
    feats, labels = _toy_features(tiny_teacher)
    torch.manual_seed(1)
    learner = PromptLearner(tiny_teacher, tiny_teacher.tokenizer, NAMES, "{}", n_ctx=4)
    with torch.no_grad():
        before = accuracy(zero_shot_logits(feats, learner(), 50.0), labels)
    cfg = CalibrateConfig(epochs=25, lr=0.5, batch_size=8, seed=0)
    hist = train_prompts(learner, feats, labels, 50.0, cfg, feats, labels, progress=False)
    assert [h["epoch"] for h in hist] == list(range(25))
    for h in hist:  # cosine annealing to 0, stepped per epoch, no warm-up
        assert h["lr"] == pytest.approx(0.5 * (1 + math.cos(math.pi * h["epoch"] / 25)) / 2, rel=1e-6)
    assert hist[-1]["loss"] < 0.5 * hist[0]["loss"]
    # the random context gets half the classes right; only learning the hidden context gets them all
    assert before <= 60.0 and hist[-1]["eval_acc"] == 100.0


def test_calibration_is_deterministic(tiny_teacher):
    feats, labels = _toy_features(tiny_teacher)
    runs = []
    for _ in range(2):
        torch.manual_seed(3)
        learner = PromptLearner(tiny_teacher, tiny_teacher.tokenizer, NAMES, "{}", n_ctx=4)
        runs.append(train_prompts(learner, feats, labels, 50.0, CalibrateConfig(epochs=3, batch_size=8), progress=False))
    assert runs[0] == runs[1]


def test_calibration_early_stop_counts_epochs_since_the_best_and_keeps_the_cosine_length(tiny_teacher):
    """Zero eval features give every class the same logit, so eval accuracy is constant: best at epoch 0, and with
    patience 3 the run stops after epoch 3. The learning rates are those of the full 10-epoch cosine."""
    feats, labels = _toy_features(tiny_teacher)
    torch.manual_seed(1)
    learner = PromptLearner(tiny_teacher, tiny_teacher.tokenizer, NAMES, "{}", n_ctx=4)
    cfg = CalibrateConfig(epochs=10, lr=0.5, batch_size=8, early_stop_patience=3)
    seen = []
    hist = train_prompts(learner, feats, labels, 50.0, cfg, torch.zeros_like(feats), labels, progress=False,
                         on_epoch=lambda r: seen.append(r.pop("eval_acc")))  # a callback may take the record's value
    assert [h["epoch"] for h in hist] == [0, 1, 2, 3] and len(set(seen)) == 1
    for h in hist:
        assert h["lr"] == pytest.approx(0.5 * (1 + math.cos(math.pi * h["epoch"] / 10)) / 2, rel=1e-6)
    with pytest.raises(ConfigError, match="eval_feats"):
        train_prompts(learner, feats, labels, 50.0, cfg, progress=False)
    with pytest.raises(ConfigError, match="early_stop_patience"):
        CalibrateConfig(early_stop_patience=-1).validate()
    with pytest.raises(ConfigError, match="early_stop_patience"):
        train_prompts(learner, feats, labels, 50.0, CalibrateConfig(early_stop_patience=-1), feats, labels, progress=False)


def test_calibration_config_validation(tiny_teacher):
    """A recipe that cannot run is refused by the config's validation and by the trainer itself."""
    feats, labels = _toy_features(tiny_teacher)
    learner = PromptLearner(tiny_teacher, tiny_teacher.tokenizer, NAMES, "{}", n_ctx=4)
    for field, value in (("epochs", 0), ("batch_size", 0), ("lr", -1)):
        with pytest.raises(ConfigError, match=field):
            CalibrateConfig(**{field: value}).validate()
        with pytest.raises(ConfigError, match=field):
            train_prompts(learner, feats, labels, 50.0, CalibrateConfig(**{field: value}), progress=False)
    assert CalibrateConfig() == CalibrateConfig(epochs=200, lr=0.002, momentum=0.9, weight_decay=0.0, batch_size=128, grad_clip=1.0)


def test_the_stage1_recipe_on_the_paper_profile(tiny_teacher):
    """Method doc §3: SGD 0.002, momentum 0.9, weight decay 0, cosine to 0 over 200 epochs, batch 128, clip 1.0."""
    cfg = make_config("calibrate", "paper")
    assert (cfg.epochs, cfg.lr, cfg.momentum, cfg.weight_decay, cfg.batch_size, cfg.grad_clip) == (200, 0.002, 0.9, 0.0, 128, 1.0)
    opt, sched = stage1_optimizer(PromptLearner(tiny_teacher, tiny_teacher.tokenizer, NAMES, "{}", n_ctx=4), cfg)
    assert type(opt) is torch.optim.SGD and len(opt.param_groups[0]["params"]) == 1
    assert (opt.defaults["lr"], opt.defaults["momentum"], opt.defaults["weight_decay"]) == (0.002, 0.9, 0.0)
    assert (sched.T_max, sched.eta_min) == (200, 0.0)


def test_a_non_finite_loss_stops_stage1_before_the_epoch_is_reported(tiny_teacher):
    """One NaN feature poisons its step's loss and, through the context, every later step of the epoch."""
    feats, labels = _toy_features(tiny_teacher)
    feats[9] = float("nan")
    learner = PromptLearner(tiny_teacher, tiny_teacher.tokenizer, NAMES, "{}", n_ctx=4)
    seen = []
    with pytest.raises(NonFiniteLossError, match=r"Stage 1 loss became non-finite at epoch 0, step [0-2] \(term\(s\): total\), found when steps 0–2 "
                                          r"were checked; no anchors were written"):
        train_prompts(learner, feats, labels, 50.0, CalibrateConfig(epochs=2, batch_size=8), feats, labels,
                      progress=False, on_epoch=seen.append)
    assert seen == []


def test_anchors_roundtrip_and_mismatch(tmp_path):
    a = torch.randn(4, 8)
    meta = {"classnames": NAMES, "teacher": {"name": "ViT-B-32", "pretrained": "openai"}}
    path = save_anchors(tmp_path / "anchors.pt", a, meta)
    loaded, m = load_anchors(path, num_classes=4, dim=8, teacher={"name": "ViT-B-32", "pretrained": "openai"})
    assert torch.allclose(loaded, F.normalize(a, dim=-1)) and m["classnames"] == NAMES and m["dim"] == 8
    with pytest.raises(ConfigError) as e:
        load_anchors(path, num_classes=200, dim=1024, teacher={"name": "convnext_xxlarge", "pretrained": "x"})
    msg = str(e.value)
    assert "classes: file has 4, expected 200" in msg and "embedding dim" in msg and "teacher name" in msg
    with pytest.raises(FileNotFoundError, match="run Stage 1"):
        load_anchors(tmp_path / "nope.pt")


def test_progress_bars_follow_flag_env_and_terminal(monkeypatch):
    from pand_core.infra.progress import progress_enabled

    monkeypatch.delenv("PAND_PROGRESS", raising=False)
    assert progress_enabled(True) is True and progress_enabled(False) is False
    assert progress_enabled() is False  # pytest captures stderr: not a terminal
    monkeypatch.setenv("PAND_PROGRESS", "1")
    assert progress_enabled() is True
    monkeypatch.setenv("PAND_PROGRESS", "0")
    assert progress_enabled() is False


def test_prompt_precision_resolves_per_device_and_refuses_unknown_names():
    from pand_core.stage1.prompts import make_prompt_scaler, prompt_autocast_dtype

    # auto: the original's fp16 on CUDA; fp32 on a CPU, which emulates fp16 (row 7 of the deviations)
    assert prompt_autocast_dtype("auto", "cpu") is None and prompt_autocast_dtype("auto", "cuda") is torch.float16
    assert prompt_autocast_dtype("fp32", "cuda") is None and prompt_autocast_dtype("bf16", "cpu") is torch.bfloat16
    assert prompt_autocast_dtype("fp16", "cpu") is torch.float16 and prompt_autocast_dtype("bf16", "cuda") is torch.bfloat16
    assert make_prompt_scaler("bf16", "cpu") is None and make_prompt_scaler("fp16", "cpu") is not None
    assert make_prompt_scaler("auto", "cpu") is None
    with pytest.raises(ConfigError, match="prompt_precision must be one of auto, fp32, bf16, fp16"):
        prompt_autocast_dtype("fp8", "cpu")
    with pytest.raises(ConfigError, match="prompt_precision must be one of"):
        CalibrateConfig(prompt_precision="half").validate()


@pytest.mark.parametrize("precision, logits_dtype", [("fp32", torch.float32), ("bf16", torch.float32),
                                                     ("fp16", torch.float16)])
def test_prompt_precision_rounds_the_text_encoder_and_only_fp16_the_logits(tiny_teacher, monkeypatch, precision,
                                                                           logits_dtype):
    """Row 7 of the deviations: bf16 (the project's GPU path, here under CPU autocast) keeps the logits fp32; fp16
    is the original's 16-mixed, logits in fp16 and the loss scaled. Every path learns the toy task."""
    from pand_core.infra.meter import EpochMeter

    seen = []
    real_add = EpochMeter.add
    monkeypatch.setattr(EpochMeter, "add", lambda self, total, terms, logits, labels:
                        (seen.append(logits.dtype), real_add(self, total, terms, logits, labels))[1])
    feats, labels = _toy_features(tiny_teacher)
    torch.manual_seed(1)
    learner = PromptLearner(tiny_teacher, tiny_teacher.tokenizer, NAMES, "{}", n_ctx=4)
    cfg = CalibrateConfig(epochs=25, lr=0.5, batch_size=8, seed=0, prompt_precision=precision)
    hist = train_prompts(learner, feats, labels, 50.0, cfg, feats, labels, progress=False)
    assert set(seen) == {logits_dtype} and learner.ctx.dtype == torch.float32
    assert hist[-1]["eval_acc"] == 100.0


def test_auto_precision_on_cpu_is_fp32_exactly_and_the_autocast_paths_round(tiny_teacher):
    feats, labels = _toy_features(tiny_teacher)
    runs = {}
    for precision in ("auto", "fp32", "bf16", "fp16"):
        torch.manual_seed(3)
        learner = PromptLearner(tiny_teacher, tiny_teacher.tokenizer, NAMES, "{}", n_ctx=4)
        cfg = CalibrateConfig(epochs=3, batch_size=8, prompt_precision=precision)
        runs[precision] = (train_prompts(learner, feats, labels, 50.0, cfg, progress=False), learner.ctx.detach())
    assert runs["auto"][0] == runs["fp32"][0] and torch.equal(runs["auto"][1], runs["fp32"][1])
    for rounded in ("bf16", "fp16"):
        assert not torch.equal(runs[rounded][1], runs["fp32"][1]), rounded


def test_fp16_steps_need_their_loss_scaler(tiny_teacher):
    from pand_core.stage1.prompts import stage1_optimizer, train_one_epoch

    feats, labels = _toy_features(tiny_teacher)
    learner = PromptLearner(tiny_teacher, tiny_teacher.tokenizer, NAMES, "{}", n_ctx=4)
    opt, _ = stage1_optimizer(learner, CalibrateConfig())
    with pytest.raises(ConfigError, match="needs its loss scaler"):
        train_one_epoch(learner, feats, labels, 50.0, opt, torch.arange(len(feats)), 8, 1.0, precision="fp16")


@pytest.mark.parametrize("device, changed", [("cpu", False), ("NVIDIA H100 80GB HBM3", True), (None, False)])
def test_a_stage1_run_from_before_prompt_precision_is_read_by_where_it_ran(tmp_path, device, changed):
    """On a CPU an old run trained in fp32, today's "auto"; on a GPU in bf16 with bf16 logits, which nothing today
    reproduces, so a finished GPU run of that time is refused instead of standing in for the fp16 default."""
    from pand_core.stages import finished as _finished
    from pand_core.config import PROMPT_PRECISION_BEFORE_ON_GPU, to_dict
    from pand_core.config import config_changes

    cfg = make_config("calibrate", "smoke", runs=tmp_path, seed=0)
    out = tmp_path / "old"
    out.mkdir()
    (out / "config.json").write_text(json.dumps({k: v for k, v in to_dict(cfg).items() if k != "prompt_precision"}))
    if device is not None:
        (out / "result.json").write_text(json.dumps({"stage": "calibrate", "environment": {"device": device}}))
    expected = [f"prompt_precision: {PROMPT_PRECISION_BEFORE_ON_GPU!r} != 'auto'"] if changed else []
    assert config_changes(out, to_dict(cfg)) == expected
    if changed:
        cfg.out = str(out)
        with pytest.raises(ConfigError, match="prompt_precision: 'bf16 autocast, logits included"):
            _finished(cfg)
