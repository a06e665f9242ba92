"""Stage 1 building block (the method page, Stage 1): CoOp context vectors in front of each class prompt, on a frozen CLIP."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.lr_scheduler import CosineAnnealingLR

from ..config import PROMPT_PRECISIONS, CalibrateConfig, check_schedule
from ..infra.errors import ConfigError, MissingFileError
from ..infra.files import atomic_torch_save, safe_load
from ..infra.meter import EpochMeter
from ..infra.progress import Progress
from ..models.text_tower import TextTower

STAGE1_ADVICE = "no anchors were written — lower the learning rate (lr) and run again."


class PromptLearner(nn.Module):
    """Learned context `[SOS] v_1…v_n <template(class)> [EOS]`, shared by all classes; `.ctx` is the only parameter.

    Calling it returns the L2-normalised class text features `[C, D]` (the Stage 1 anchors).
    With `truncate=True` the sequence is cut after the longest EOT position, which is exact:
    the mask is causal and only the EOT state is read. As in CoOp, the text tower it runs is frozen here
    (`requires_grad=False` on its weights), whatever state the model came in: no gradient reaches the teacher.

    Args:
        clip_model: A pand_core `Teacher` or a raw open_clip model with its own text transformer.
        tokenizer: The model's tokenizer (strings to token ids).
        classnames: The C class names, one prompt each.
        template: The class part of each prompt; `{}` is replaced by the class name.
        n_ctx: The number of learned context tokens (ignored when `ctx_init` is given).
        ctx_init: Words whose token embeddings start the context (their count sets n_ctx); None: N(0, 0.02²).
        truncate: Cut the sequence after the longest EOT position.
    """

    def __init__(
        self,
        clip_model: nn.Module,
        tokenizer: Callable[[Sequence[str]], torch.Tensor],
        classnames: Sequence[str],
        template: str = "{}",
        n_ctx: int = 16,
        ctx_init: str | None = None,
        truncate: bool = True,
    ) -> None:
        super().__init__()
        if "{}" not in template:
            raise ConfigError(f"template must contain '{{}}' for the class name, got {template!r}")
        if not classnames:
            raise ConfigError("classnames is empty")
        self._text = TextTower(clip_model)
        self._text.freeze()
        self.classnames, self.template, self.truncate = list(classnames), template, truncate
        embedding = self._text.token_embedding
        device = embedding.weight.device

        if ctx_init is not None:
            init_tokens = tokenizer([ctx_init]).to(device)
            n_ctx = int(self._text.pool_index(init_tokens)[0]) - 1  # tokens between SOS and EOT
            if n_ctx < 1:
                raise ConfigError(f"ctx_init {ctx_init!r} has no tokens")
            with torch.no_grad():
                ctx = embedding(init_tokens)[0, 1 : 1 + n_ctx].float().clone()
            placeholder = ctx_init
        else:
            if n_ctx < 1:
                raise ConfigError(f"n_ctx must be >= 1, got {n_ctx}")
            ctx = torch.empty(n_ctx, embedding.weight.shape[1], device=device).normal_(0.0, 0.02)
            placeholder = " ".join(["X"] * n_ctx)
        self.n_ctx, self.ctx_init = n_ctx, ctx_init
        self.ctx = nn.Parameter(ctx)

        prompts = [f"{placeholder} {template.format(name)}" for name in self.classnames]
        tokens = tokenizer(prompts).to(device)
        pool_index = self._text.pool_index(tokens)
        encode = getattr(tokenizer, "encode", None)  # open_clip's SimpleTokenizer: BPE ids without SOS/EOT
        if encode is not None:
            too_long = [p for p in prompts if len(encode(p)) + 2 > tokens.shape[1]]
            if too_long:
                raise ConfigError(
                    f"{len(too_long)} prompt(s) exceed the text context of {tokens.shape[1]} tokens, e.g. "
                    f"{too_long[0]!r}; use fewer context tokens (n_ctx) or a shorter template."
                )
        with torch.no_grad():
            emb = embedding(tokens).float()
        self.register_buffer("tokens", tokens, persistent=False)
        self.register_buffer("pool_idx", pool_index, persistent=False)
        self.register_buffer("token_prefix", emb[:, :1], persistent=False)  # SOS
        self.register_buffer("token_suffix", emb[:, 1 + n_ctx :], persistent=False)  # template, class, EOS, pads
        self.seq_len = int(pool_index.max()) + 1 if truncate and self._text.pool_type in ("argmax", "eos") else tokens.shape[1]

    def embedded_prompts(self) -> torch.Tensor:
        """Token embeddings `[C, L, W]` with the learned context inserted after SOS."""
        ctx = self.ctx.unsqueeze(0).expand(len(self.classnames), -1, -1)
        x = torch.cat([self.token_prefix, ctx, self.token_suffix], dim=1)
        return x[:, : self.seq_len]

    def forward(self) -> torch.Tensor:
        """Class text features t_c `[C, D]`, L2-normalised."""
        return F.normalize(self._text(self.embedded_prompts(), self.pool_idx).float(), dim=-1)


# ------------------------------------------------------------------------------------ Stage 1 training


def stage1_optimizer(learner: PromptLearner, cfg: CalibrateConfig) -> tuple[torch.optim.SGD, CosineAnnealingLR]:
    """Stage 1's optimiser: SGD(lr, momentum, weight_decay) on `learner.ctx` alone, cosine to 0 over `cfg.epochs`.

    Args:
        learner: The prompt learner whose `ctx` is trained.
        cfg: The Stage 1 config; its lr, momentum, weight_decay and epochs are read.
    """
    opt = torch.optim.SGD([learner.ctx], lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    return opt, CosineAnnealingLR(opt, T_max=cfg.epochs, eta_min=0.0)


def stage1_logits(feats: torch.Tensor, text: torch.Tensor, logit_scale: float) -> torch.Tensor:
    """Stage 1's logits s1 · f · t_cᵀ `[B, C]` in fp32, also inside an autocast region: at s1 = 100 a bf16 product
    would round them to 8 significant bits (0.25 apart near 40), 8× coarser than the original's fp16."""
    with torch.autocast(feats.device.type, enabled=False):
        return logit_scale * feats.float() @ text.float().t()


def prompt_autocast_dtype(precision: str, device: torch.device | str) -> torch.dtype | None:
    """The autocast dtype of Stage 1's text encoder for `precision` on `device`, None for fp32: "auto" is fp16 on
    CUDA, as the original's 16-mixed, and fp32 elsewhere (CPUs emulate fp16 slowly); "bf16" and "fp16" apply on any
    device (CPU autocast included)."""
    if precision not in PROMPT_PRECISIONS:
        raise ConfigError(f"prompt_precision must be one of {', '.join(PROMPT_PRECISIONS)}, got {precision!r}")
    if precision == "auto":
        return torch.float16 if torch.device(device).type == "cuda" else None
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def make_prompt_scaler(precision: str, device: torch.device | str) -> torch.amp.GradScaler | None:
    """The dynamic loss scaler of the fp16 path (the original's `precision='16-mixed'` used one), else None."""
    fp16 = prompt_autocast_dtype(precision, device) is torch.float16
    return torch.amp.GradScaler(torch.device(device).type) if fp16 else None


def train_one_epoch(
    learner: PromptLearner,
    feats: torch.Tensor,
    labels: torch.Tensor,
    logit_scale: float,
    opt: torch.optim.Optimizer,
    order: torch.Tensor,
    batch_size: int,
    grad_clip: float,
    epoch: int = 0,
    precision: str = "auto",
    scaler: torch.amp.GradScaler | None = None,
) -> dict[str, float]:
    """One Stage 1 epoch: a step of CE(s1 · f · t_cᵀ), gradient norm clipped at `grad_clip`, per batch of `order`;
    its mean loss and training accuracy (%), read once after the last step (`meter.EpochMeter`, as Stage 2's).

    `precision` (`prompt_autocast_dtype`): the text encoder under that autocast; fp16 (also "auto" on CUDA) is the
    original's 16-mixed, the logits under the autocast too and the loss scaled by `scaler` (unscaled before clipping,
    a step with non-finite gradients skipped, as Lightning does); otherwise the logits are fp32 (`stage1_logits`).
    Raises `NonFiniteLossError` naming the first step whose loss was not finite.

    Args:
        learner: The prompt learner being trained.
        feats: The training images' normalised teacher features f `[N, D]`, on the learner's device.
        labels: Their class indices `[N]`.
        logit_scale: s1, the teacher's logit scale.
        opt: The optimiser over `learner.ctx` (`stage1_optimizer`).
        order: A permutation of the N rows, cut into batches in that order.
        batch_size: Rows per step.
        grad_clip: The largest gradient norm of `ctx`.
        epoch: The 0-based epoch, named in a non-finite-loss error.
        precision: "auto", "fp32", "bf16" or "fp16" (`cfg.prompt_precision`).
        scaler: The fp16 loss scaler (`make_prompt_scaler`); required when the steps run in fp16.
    """
    device = learner.ctx.device
    dtype = prompt_autocast_dtype(precision, device)
    fp16 = dtype is torch.float16
    if fp16 and scaler is None:
        raise ConfigError(f"prompt_precision={precision!r} on {device.type} trains in fp16 and needs its loss scaler "
                          "(make_prompt_scaler).")
    meter = EpochMeter(device, "Stage 1", STAGE1_ADVICE)
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        with torch.autocast(device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext():
            text = learner()
            if fp16:  # the original's logits, in the autocast's fp16
                logits = logit_scale * feats[idx] @ text.t()
        if not fp16:
            logits = stage1_logits(feats[idx], text, logit_scale)
        loss = F.cross_entropy(logits.float(), labels[idx])
        opt.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_([learner.ctx], grad_clip)
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            torch.nn.utils.clip_grad_norm_([learner.ctx], grad_clip)
            opt.step()
        meter.add(loss, {}, logits, labels[idx])
    meter.check(epoch)
    return meter.read()


def train_prompts(
    learner: PromptLearner,
    feats: torch.Tensor,
    labels: torch.Tensor,
    logit_scale: float,
    cfg: CalibrateConfig,
    eval_feats: torch.Tensor | None = None,
    eval_labels: torch.Tensor | None = None,
    progress: bool | None = None,
    on_epoch: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Fit `learner.ctx` by cross-entropy of `logit_scale · f · t_cᵀ` on precomputed image features with the
    recipe fields of `cfg` (the method page, Stage 1): one record per epoch (epoch, lr, loss, train_acc, eval_acc if eval data, in %).

    With `cfg.early_stop_patience` > 0 it returns early, `patience` epochs after the best eval accuracy. The steps run
    at `cfg.prompt_precision` (`train_one_epoch`); the eval accuracy is computed in fp32 in every case.

    Args:
        learner: The prompt learner being trained.
        feats: The training images' normalised teacher features `[N, D]`.
        labels: Their class indices `[N]`.
        logit_scale: s1, the teacher's logit scale.
        cfg: The Stage 1 config: the recipe fields, `prompt_precision`, and `seed` (the batch order).
        eval_feats: Held-out features whose accuracy is recorded each epoch; required with early stopping.
        eval_labels: Their class indices.
        progress: Draw a progress bar; None: only on a terminal (`progress_enabled`).
        on_epoch: Called with each epoch's record as soon as it is made.
    """
    check_schedule(cfg)
    if cfg.early_stop_patience and (eval_feats is None or eval_labels is None):
        raise ConfigError("early_stop_patience needs eval_feats and eval_labels to watch.")
    device = learner.ctx.device
    feats, labels = feats.to(device), labels.to(device)
    opt, sched = stage1_optimizer(learner, cfg)
    scaler = make_prompt_scaler(cfg.prompt_precision, device)
    gen = torch.Generator().manual_seed(cfg.seed)
    history = []
    best_acc, best_epoch = -1.0, 0
    bar = Progress(range(cfg.epochs), "Stage 1: prompts (epochs)", progress=progress, leave=False)
    for epoch in bar:
        order = torch.randperm(len(feats), generator=gen).to(device)
        lr = opt.param_groups[0]["lr"]
        stats = train_one_epoch(learner, feats, labels, logit_scale, opt, order, cfg.batch_size, cfg.grad_clip, epoch,
                                cfg.prompt_precision, scaler)
        record = {"epoch": epoch, "lr": lr, "loss": stats["loss"], "train_acc": stats["train_acc"]}
        sched.step()
        if eval_feats is not None and eval_labels is not None:
            with torch.no_grad():
                text = learner()
                pred = (eval_feats.to(device) @ text.t()).argmax(-1)
                record["eval_acc"] = 100.0 * (pred == eval_labels.to(device)).float().mean().item()
        history.append(record)
        bar.set_postfix(loss=f"{record['loss']:.3f}", acc=f"{record['train_acc']:.1f}")
        watched = record.get("eval_acc", -1.0)
        if on_epoch is not None:
            on_epoch(record)
        if cfg.early_stop_patience:
            if watched > best_acc:
                best_acc, best_epoch = watched, epoch
            elif epoch - best_epoch >= cfg.early_stop_patience:
                break
    return history


# ----------------------------------------------------------------------------------------- anchors I/O


def save_anchors(path: str | Path, anchors: torch.Tensor, meta: dict) -> Path:
    """Write anchors `[C, D]` (float32, L2-normalised) with their metadata to one file, atomically; return its path.

    Args:
        path: The file to write (conventionally `anchors.pt` in the Stage 1 run folder).
        anchors: The class anchors `[C, D]`; normalised again as they are saved.
        meta: Stored beside them; `classnames`, when present, must have C entries; `num_classes` and `dim` are added.
    """
    anchors = F.normalize(anchors.detach().float().cpu(), dim=-1)
    if "classnames" in meta and len(meta["classnames"]) != anchors.shape[0]:
        raise ValueError(f"{len(meta['classnames'])} class names for {anchors.shape[0]} anchors")
    return atomic_torch_save({"anchors": anchors, "meta": dict(meta, num_classes=anchors.shape[0], dim=anchors.shape[1])}, path)


def load_anchors(
    path: str | Path,
    num_classes: int | None = None,
    dim: int | None = None,
    teacher: dict | None = None,
) -> tuple[torch.Tensor, dict]:
    """Read an anchors file safely (`weights_only=True`) and refuse one whose class count, dimension
    or teacher (name and pretrained) differ from what the caller expects, listing every difference.

    Args:
        path: An anchors file written by `save_anchors`.
        num_classes: The expected class count C; None: not checked.
        dim: The expected embedding dimension D; None: not checked.
        teacher: The expected teacher (as `Teacher.describe()`); its `name` and `pretrained` keys are compared.
    """
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"anchors file not found: {path}; run Stage 1 (prompt calibration) first.")
    blob = safe_load(path, "anchors")
    anchors, meta = blob["anchors"], blob["meta"]
    diffs = []
    if num_classes is not None and anchors.shape[0] != num_classes:
        diffs.append(f"classes: file has {anchors.shape[0]}, expected {num_classes}")
    if dim is not None and anchors.shape[1] != dim:
        diffs.append(f"embedding dim: file has {anchors.shape[1]}, expected {dim}")
    if teacher is not None:
        for key in ("name", "pretrained"):
            have = meta.get("teacher", {}).get(key)
            if key in teacher and have != teacher[key]:
                diffs.append(f"teacher {key}: file has {have!r}, expected {teacher[key]!r}")
    if diffs:
        raise ConfigError(f"anchors {path} do not match this setup:\n  " + "\n  ".join(diffs))
    return anchors, meta
