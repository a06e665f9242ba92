"""The smoke profile's teacher: a small open_clip CLIP (a 32 px ResNet image tower) pretrained contrastively on
the synthetic world's image–caption pairs (a separate pretraining split), saved as an open_clip folder.

It plays the role LAION pretraining plays for ConvNeXt-XXL: it learns which words go with which visual attributes,
so that class names made of attribute words give a zero-shot classifier that is well above chance but imperfect.
Pretraining is deterministic from its seed on one machine, not across machines (floating-point differences grow
over a thousand optimiser steps), so the book's teacher is pretrained once and shipped (`artifacts`);
`mini_teacher_dir` pretrains and caches other recipes for design studies.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import open_clip
import torch
import torch.nn.functional as F

from .artifacts import half_state_dict, shipped_teacher_dir
from .steps import FirstSteps
from .world import SYNTHETIC_VERSION, TWIN_GROUP
from ..data.transforms import paper_train_transform
from ..data.views import seeded_view
from ..infra.seeds import stream_seed
from ..infra.environment import environment
from ..infra.files import atomic_torch_save, atomic_write, write_json
from ..infra.paths import recipe_key
from ..infra.logs import quiet_root_logger
from ..models import MINI_TEACHER, Teacher, load_teacher
from ..models.text_tower import encode_text_truncated
from ..infra.progress import Progress


@dataclass(frozen=True)
class PretrainSpec:
    """Size and recipe of the miniature teacher's pretraining (the recipe the book ships; designed on a validation
    world, studies/results/premise-design.md).

    Args:
        pairs: Image–caption pairs in the corpus, in twin groups of 4 (`world.twin_class`).
        epochs: Passes over the corpus.
        batch_size: Pairs per optimiser step.
        lr: AdamW's peak learning rate (linear warm-up, then cosine to 0).
        weight_decay: AdamW's weight decay.
        warmup_steps: Steps of the linear warm-up.
        draw_size: The side in pixels the corpus images are drawn at.
        seed: Fixes the corpus, the initial weights and the batch order.
        image_size: The image tower's input side; None: the model config's (32 px, the student's).
        augment: The share of pairs shown, each epoch, through a fresh view of the Stage 2 training transform.
        version: The recipe's version, part of the cache folder's name; bumped when the world or the recipe changes.
    """

    pairs: int = 20000  # in twin groups of 4 (`world.twin_class`)
    epochs: int = 10
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.1
    warmup_steps: int = 100
    draw_size: int = 64
    seed: int = 0
    image_size: int | None = None  # None: the model config's input size (32 px, the student's)
    augment: float = 0.75  # share of pairs shown, each epoch, through a fresh view of the Stage 2 training transform:
    # the corpus holds birds in every pose, light and colour cast the paper's augmentation produces, as a web corpus
    # does (a teacher pretrained on clean drawings only read the views at 19-20 %: studies/results/view-design.md)
    version: int = 9  # 8: 12 epochs, bilinear preprocessing; 9: 10 epochs, world v7's captions; bump when the world or the recipe changes, so old caches and shipped weights are not reused




def world_vocabulary(tokenizer) -> torch.Tensor:
    """Token ids of every word the miniature's texts use: the caption wordings with every attribute value, the class
    names and the CUB prompt template. Rows of other tokens in the teacher's embedding table are zero from the start
    and stay zero (their gradient is zero, decay keeps zero at zero): they would only carry random initial values,
    and zero rows cost the repository almost nothing once git compresses the shipped weights.

    Args:
        tokenizer: The teacher's open_clip tokenizer.
    """
    from ..data.cub import TEMPLATE
    from .world import BODY_COLOURS, CAPTION_FORMS, HEAD_COLOURS, TAIL_SHAPES, WING_PATTERNS, all_classes

    words = {"body": [b.lower() for b in BODY_COLOURS], "head": [h.lower() for h in HEAD_COLOURS],
             "wing": [w.lower() for w in WING_PATTERNS], "tail": ["fan", "fork"] + [t.lower() for t in TAIL_SHAPES]}
    texts = [form.format(**{k: v[i % len(v)] for k, v in words.items()}) for form in CAPTION_FORMS for i in range(4)]
    texts += [TEMPLATE.format(c.name) for c in all_classes()]
    return torch.unique(tokenizer(texts))


def _clean(image, size: int) -> torch.Tensor:
    from ..data.transforms import paper_test_transform

    return paper_test_transform(size)(image)


def pretrain_mini_clip(spec: PretrainSpec = PretrainSpec(), progress: bool | None = None,
                       max_steps: int | None = None) -> tuple[torch.nn.Module, dict]:
    """Train `pand-mini-clip` from scratch with the symmetric InfoNCE (CLIP) loss; return the model and a log
    (per-epoch loss, the first `LOG_FIRST_STEPS` step losses). `max_steps` stops early (the recipe check in the
    tests draws only the pairs those steps use).

    Args:
        spec: The pretraining recipe.
        progress: Draw a progress bar; None: only on a terminal.
        max_steps: Stop after this many optimiser steps; None: the whole recipe.
    """
    torch.manual_seed(spec.seed)
    with quiet_root_logger():  # "no pretrained weights": training from scratch is the point here
        model, _, _ = open_clip.create_model_and_transforms(MINI_TEACHER, pretrained=None,
                                                            force_image_size=spec.image_size)
    tokenizer = open_clip.get_tokenizer(MINI_TEACHER)
    with torch.no_grad():  # only the world's words get embedding rows (`world_vocabulary`)
        keep = torch.zeros(model.token_embedding.weight.shape[0], dtype=torch.bool)
        keep[world_vocabulary(tokenizer)] = True
        model.token_embedding.weight[~keep] = 0.0
    size = model.visual.image_size
    size = size[0] if isinstance(size, (tuple, list)) else size
    augment = paper_train_transform(size, round(size * 256 / 224))
    from .world import pretraining_pair

    cache: dict[int, tuple] = {}

    def pair(k: int):
        if k not in cache:
            image, caption = pretraining_pair(k, spec.draw_size, spec.seed)
            cache[k] = (image, _clean(image, size), tokenizer([caption])[0])
        return cache[k]

    steps_per_epoch = math.ceil(spec.pairs / spec.batch_size)
    total = spec.epochs * steps_per_epoch
    opt = torch.optim.AdamW(model.parameters(), lr=spec.lr, weight_decay=spec.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / spec.warmup_steps) * 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    gen = torch.Generator().manual_seed(spec.seed)
    model.train()
    log, steps_log = [], FirstSteps(max_steps)
    t0 = time.perf_counter()
    bar = Progress(range(spec.epochs), "pretraining the miniature teacher (epochs)", progress=progress)
    for epoch in bar:
        groups = torch.randperm(spec.pairs // TWIN_GROUP, generator=gen)  # whole twin groups stay in one batch
        order = (groups[:, None] * TWIN_GROUP + torch.arange(TWIN_GROUP)).flatten()
        augmented = torch.rand(spec.pairs, generator=gen) < spec.augment
        flips = torch.rand(spec.pairs, generator=gen) < 0.5
        running = seen = 0.0
        for start in range(0, len(order), spec.batch_size):
            idx = order[start : start + spec.batch_size].tolist()
            xs = []
            for k in idx:
                image, clean, _ = pair(k)
                if augmented[k]:
                    xs.append(seeded_view(augment, image, stream_seed("miniature-corpus-view", spec.seed, epoch, k)))
                else:
                    xs.append(clean.flip(-1) if flips[k] else clean)  # mirrored birds read the same
            x = torch.stack(xs)
            tokens = torch.stack([pair(k)[2] for k in idx])
            img = F.normalize(model.encode_image(x), dim=-1)
            txt = F.normalize(encode_text_truncated(model, tokens), dim=-1)
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
            seen += len(idx)
            if steps_log.record(loss.item()):
                break
        log.append({"epoch": epoch, "loss": running / seen, "logit_scale": float(model.logit_scale.detach().exp())})
        bar.set_postfix(loss=f"{log[-1]['loss']:.3f}")
        if steps_log.done:
            break
    return model.eval(), {"spec": asdict(spec), "history": log, "first_steps": steps_log.losses, "steps": steps_log.count,
                          "train_time_s": time.perf_counter() - t0, "environment": environment()}


def mini_teacher_folder(cache: Path, spec: PretrainSpec = PretrainSpec()) -> Path:
    """Where the miniature teacher of `spec` is cached: its name shows the recipe version, the drawing, the seed, and
    ends in a key of every field of `spec` (`paths.recipe_key`)."""
    size = "" if spec.image_size is None else f"-{spec.image_size}px"
    return cache / "teachers" / f"{MINI_TEACHER}-v{spec.version}-w{SYNTHETIC_VERSION}{size}-s{spec.seed}-{recipe_key(spec)}"


def save_mini_teacher(model: torch.nn.Module, log: dict, folder: Path, spec: PretrainSpec, half: bool = False) -> Path:
    """Write `model` as an open_clip folder (config, weights, `pretraining.json`); the weights last, so their
    presence marks the folder complete. `half`: floating-point tensors stored as fp16 (the shipped form)."""

    folder.mkdir(parents=True, exist_ok=True)
    model_cfg = open_clip.get_model_config(MINI_TEACHER)
    if spec.image_size is not None:
        model_cfg["vision_cfg"]["image_size"] = spec.image_size
    # the teacher's own preprocessing is the students' test view (bilinear resize of the whole image, as
    # `paper_test_transform`), the clean images of its pretraining: Stage 1 and the bank then read alike
    cfg = {"model_cfg": model_cfg,
           "preprocess_cfg": {"mean": list(open_clip.OPENAI_DATASET_MEAN), "std": list(open_clip.OPENAI_DATASET_STD),
                              "interpolation": "bilinear", "resize_mode": "squash"}}
    atomic_write(folder / "open_clip_config.json", lambda tmp: tmp.write_text(json.dumps(cfg, indent=2) + "\n"))
    write_json(folder / "pretraining.json", {**log, "stored_as": "fp16"} if half else log)
    state = half_state_dict(model.state_dict()) if half else model.state_dict()
    atomic_torch_save(state, folder / "open_clip_pytorch_model.bin")
    return folder


def mini_teacher_dir(cache: Path, spec: PretrainSpec = PretrainSpec(), progress: bool | None = None) -> Path:
    """The cached open_clip folder (open_clip_config.json + weights) of the pretrained miniature teacher;
    trained and written on first use."""
    folder = mini_teacher_folder(cache, spec)
    if (folder / "open_clip_pytorch_model.bin").exists():
        return folder
    model, log = pretrain_mini_clip(spec, progress)
    return save_mini_teacher(model, log, folder, spec)


def load_mini_teacher(device: str | torch.device = "cpu") -> Teacher:
    """The shipped miniature teacher (hash-checked) through the same loader as any local open_clip folder.

    Args:
        device: Where the model is built.
    """

    return load_teacher(MINI_TEACHER, str(shipped_teacher_dir()), device=device)
