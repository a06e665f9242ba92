"""The smoke profile's teacher: a small open_clip CLIP pretrained contrastively on the synthetic world's
image–caption pairs (a separate pretraining split), deterministic from a seed, saved as an open_clip folder.

It plays the role LAION pretraining plays for ConvNeXt-XXL: it learns which words go with which visual attributes,
so that class names made of attribute words give a zero-shot classifier that is well above chance but imperfect.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import open_clip
import torch
import torch.nn.functional as F

from .data.synthetic import SYNTHETIC_VERSION, TWIN_GROUP, pretraining_pairs
from .data.transforms import paper_train_transform
from .data.views import derive_seed, seeded_view
from .environment import environment
from .files import atomic_torch_save, write_json
from .paths import recipe_key
from .logs import quiet_root_logger
from .models import MINI_TEACHER, Teacher, load_teacher
from .prompts import encode_text_truncated
from .progress import Progress


@dataclass(frozen=True)
class PretrainSpec:
    """Size and recipe of the miniature teacher's pretraining (CPU-sized; its time is recorded in pretraining.json)."""

    pairs: int = 10000  # in twin groups of 4 (`data.synthetic.twin_class`); the recipe chosen on a validation world
    epochs: int = 6  # (studies/results/teacher-design.md)
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.1
    warmup_steps: int = 30
    draw_size: int = 64
    seed: int = 0
    image_size: int | None = None  # None: the model config's 48 px; another size changes the ViT's input (design studies)
    augment: bool = False  # True: each pair's image through one random view of the Stage 2 training transform
    # (tried as pretraining v6: with the same budget the teacher learned far less; teacher-design.md)
    version: int = 5  # bump when the world or the recipe changes, so old caches are not reused


def _pixels(pairs, preprocess, augment: Callable | None = None, seed: int = 0) -> torch.Tensor:
    """The pairs' images as the teacher's input; with `augment`, pair k through one seeded random view of it."""
    if augment is None:
        return torch.stack([preprocess(image) for image, _ in pairs])
    return torch.stack([seeded_view(augment, image, derive_seed(seed, k, 3)) for k, (image, _) in enumerate(pairs)])


def pretrain_mini_clip(spec: PretrainSpec = PretrainSpec(), progress: bool | None = None) -> tuple[torch.nn.Module, dict]:
    """Train `pand-mini-clip` from scratch with the symmetric InfoNCE (CLIP) loss; return the model and a log."""
    torch.manual_seed(spec.seed)
    with quiet_root_logger():  # "no pretrained weights": training from scratch is the point here
        model, _, preprocess = open_clip.create_model_and_transforms(MINI_TEACHER, pretrained=None,
                                                                     force_image_size=spec.image_size)
    tokenizer = open_clip.get_tokenizer(MINI_TEACHER)
    pairs = pretraining_pairs(spec.pairs, spec.draw_size, spec.seed, progress=progress)
    size = model.visual.image_size
    size = size[0] if isinstance(size, (tuple, list)) else size
    augment = paper_train_transform(size, round(size * 256 / 224)) if spec.augment else None
    images = _pixels(pairs, preprocess, augment, spec.seed)
    tokens = tokenizer([c for _, c in pairs])
    steps_per_epoch = math.ceil(len(pairs) / spec.batch_size)
    total = spec.epochs * steps_per_epoch
    opt = torch.optim.AdamW(model.parameters(), lr=spec.lr, weight_decay=spec.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / spec.warmup_steps) * 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    gen = torch.Generator().manual_seed(spec.seed)
    model.train()
    log = []
    t0 = time.perf_counter()
    bar = Progress(range(spec.epochs), "pretraining the miniature teacher (epochs)", progress=progress)
    for epoch in bar:
        groups = torch.randperm(len(pairs) // TWIN_GROUP, generator=gen)  # whole twin groups stay in one batch
        order = (groups[:, None] * TWIN_GROUP + torch.arange(TWIN_GROUP)).flatten()
        flips = torch.rand(len(pairs), generator=gen) < 0.5
        running = 0.0
        for start in range(0, len(order), spec.batch_size):
            idx = order[start : start + spec.batch_size]
            x = images[idx]
            x = torch.where(flips[idx, None, None, None], x.flip(-1), x)  # mirrored birds read the same
            img = F.normalize(model.encode_image(x), dim=-1)
            txt = F.normalize(encode_text_truncated(model, tokens[idx]), dim=-1)
            logits = model.logit_scale.exp() * img @ txt.t()
            target = torch.arange(len(idx))
            loss = (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target)) / 2
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            with torch.no_grad():
                model.logit_scale.clamp_(0, math.log(100))
            running += loss.item() * len(idx)
        log.append({"epoch": epoch, "loss": running / len(pairs), "logit_scale": float(model.logit_scale.detach().exp())})
        bar.set_postfix(loss=f"{log[-1]['loss']:.3f}")
    return model.eval(), {"spec": asdict(spec), "history": log, "train_time_s": time.perf_counter() - t0,
                          "environment": environment()}


def mini_teacher_folder(cache: Path, spec: PretrainSpec = PretrainSpec()) -> Path:
    """Where the miniature teacher of `spec` is cached: its name shows the recipe version, the drawing, the seed, and
    ends in a key of every field of `spec` (`paths.recipe_key`)."""
    size = "" if spec.image_size is None else f"-{spec.image_size}px"
    return cache / "teachers" / f"{MINI_TEACHER}-v{spec.version}-w{SYNTHETIC_VERSION}{size}-s{spec.seed}-{recipe_key(spec)}"


def save_mini_teacher(model: torch.nn.Module, log: dict, folder: Path, spec: PretrainSpec) -> Path:
    """Write `model` as an open_clip folder (config, weights, `pretraining.json`); the weights last, so their
    presence marks the folder complete."""
    folder.mkdir(parents=True, exist_ok=True)
    model_cfg = open_clip.get_model_config(MINI_TEACHER)
    if spec.image_size is not None:
        model_cfg["vision_cfg"]["image_size"] = spec.image_size
    cfg = {"model_cfg": model_cfg,
           "preprocess_cfg": {"mean": list(open_clip.OPENAI_DATASET_MEAN), "std": list(open_clip.OPENAI_DATASET_STD)}}
    (folder / "open_clip_config.json").write_text(json.dumps(cfg, indent=2))
    write_json(folder / "pretraining.json", log)
    atomic_torch_save(model.state_dict(), folder / "open_clip_pytorch_model.bin")
    return folder


def mini_teacher_dir(cache: Path, spec: PretrainSpec = PretrainSpec(), progress: bool | None = None) -> Path:
    """The cached open_clip folder (open_clip_config.json + weights) of the pretrained miniature teacher;
    trained and written on first use."""
    folder = mini_teacher_folder(cache, spec)
    if (folder / "open_clip_pytorch_model.bin").exists():
        return folder
    model, log = pretrain_mini_clip(spec, progress)
    return save_mini_teacher(model, log, folder, spec)


def load_mini_teacher(cache: Path, device: str | torch.device = "cpu", progress: bool | None = None) -> Teacher:
    """The pretrained miniature teacher through the same loader as any open_clip checkpoint (a local folder)."""
    return load_teacher(MINI_TEACHER, str(mini_teacher_dir(cache, progress=progress)), device=device)
