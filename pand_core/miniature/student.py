"""The miniature's ImageNet: a student backbone pretrained on an upstream task of the synthetic world.

The paper's students start from ImageNet weights: generic visual features, learned on labels that are not the
fine-grained classes of the benchmark. The miniature's counterpart trains the student on **coarse attributes**
(body colour × head colour, 16 classes) of images drawn from a **separate upstream stream**, which the book's
train and test images never use. Wing pattern and tail shape — what separates the book's confusable species — are
never labels upstream, as CUB's species are not ImageNet classes. The result is saved as a plain torchvision state
dict and loaded with `build_student(name, C, pretrained=<file>)`: the path a user's own checkpoint takes.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .steps import FirstSteps
from .world import SYNTHETIC_VERSION, BODY_COLOURS, HEAD_COLOURS, all_classes, draw_bird
from ..data.transforms import CLIP_MEAN, CLIP_STD
from ..infra.environment import environment
from ..infra.files import atomic_torch_save, build_once, write_json
from ..infra.paths import recipe_key
from ..models.mini_resnet import get_student_network
from ..infra.progress import Progress
from ..infra.seeds import stream_tag

UPSTREAM_STREAM = stream_tag("miniature-upstream")  # the student's upstream images: a stream no other split uses
COARSE_CLASSES = [f"{body} body, {head} head" for body in BODY_COLOURS for head in HEAD_COLOURS]


@dataclass(frozen=True)
class UpstreamSpec:
    """Size and recipe of the student's upstream pretraining (CPU-sized; its time goes to pretraining.json).

    Args:
        arch: The student: a torchvision classifier name or `pand-mini-resnet`.
        images: Upstream training images.
        held_out: Further upstream images, scored after every epoch (the log's held-out accuracy).
        image_size: The side in pixels the images are resized to for training.
        draw_size: The side in pixels they are drawn at.
        epochs: Passes over the training images.
        batch_size: Images per optimiser step.
        lr: AdamW's peak learning rate (one-cycle schedule).
        weight_decay: AdamW's weight decay.
        seed: Fixes the images, the initial weights and the batch order.
        version: The recipe's version, part of the cache folder's name; bumped when the world or the recipe changes.
    """

    arch: str = "resnet18"
    images: int = 4000
    held_out: int = 500
    image_size: int = 48
    draw_size: int = 64
    epochs: int = 6
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.05
    seed: int = 0
    version: int = 3  # 3: first-step losses logged (the shipped student); bump when the world or the recipe changes, so old caches are not reused


def coarse_label(cls) -> int:
    """Index of (body colour, head colour) in `COARSE_CLASSES`."""
    return list(BODY_COLOURS).index(cls.body) * len(HEAD_COLOURS) + list(HEAD_COLOURS).index(cls.head)


def upstream_images(n: int, spec: UpstreamSpec, offset: int = 0, progress: bool | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """`n` normalised images `[n, 3, S, S]` of any species with their coarse labels, from the upstream stream."""
    combos = all_classes()
    mean, std = torch.tensor(CLIP_MEAN).view(3, 1, 1), torch.tensor(CLIP_STD).view(3, 1, 1)
    xs, ys = [], []
    for k in Progress(range(offset, offset + n), "drawing upstream images", progress=progress, leave=False):
        rng = np.random.default_rng([spec.seed, UPSTREAM_STREAM, k])
        cls = combos[int(rng.integers(len(combos)))]
        img = draw_bird(cls, spec.draw_size, rng).resize((spec.image_size, spec.image_size))
        xs.append((torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1) - mean) / std)
        ys.append(coarse_label(cls))
    return torch.stack(xs), torch.tensor(ys)




def pretrain_student(spec: UpstreamSpec = UpstreamSpec(), progress: bool | None = None,
                     max_steps: int | None = None) -> tuple[torch.nn.Module, dict]:
    """Train `spec.arch` (a torchvision classifier or `pand-mini-resnet`) from scratch on the coarse upstream task
    (AdamW, one-cycle, flips and shifts); return the network (its classifier has `len(COARSE_CLASSES)` outputs) and a
    log with held-out accuracy and the first `LOG_FIRST_STEPS` step losses.

    Args:
        spec: The upstream recipe.
        progress: Draw progress bars; None: only on a terminal.
        max_steps: Stop after this many optimiser steps (the recipe checks); None: the whole recipe.
    """
    torch.manual_seed(spec.seed)
    net = get_student_network(spec.arch, len(COARSE_CLASSES))
    x, y = upstream_images(spec.images, spec, progress=progress)
    x_held, y_held = upstream_images(spec.held_out, spec, offset=spec.images, progress=progress)
    steps = spec.epochs * math.ceil(len(x) / spec.batch_size)
    opt = torch.optim.AdamW(net.parameters(), lr=spec.lr, weight_decay=spec.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=spec.lr, total_steps=steps, pct_start=0.15)
    gen = torch.Generator().manual_seed(spec.seed)
    pad = spec.image_size // 8
    log, steps_log, t0 = [], FirstSteps(max_steps), time.perf_counter()
    for epoch in Progress(range(spec.epochs), "pretraining the miniature student (epochs)", progress=progress):
        net.train()
        order = torch.randperm(len(x), generator=gen)
        running = correct = seen = 0.0
        for start in range(0, len(x), spec.batch_size):
            idx = order[start : start + spec.batch_size]
            xb = x[idx]
            flip = torch.rand(len(idx), generator=gen) < 0.5
            xb = torch.where(flip[:, None, None, None], xb.flip(-1), xb)
            dx, dy = (int(v) for v in torch.randint(-pad, pad + 1, (2,), generator=gen))
            xb = torch.roll(xb, shifts=(dy, dx), dims=(2, 3))  # a random shift of the whole batch
            logits = net(xb)
            loss = F.cross_entropy(logits, y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            running += loss.item() * len(idx)
            correct += (logits.argmax(-1) == y[idx]).sum().item()
            seen += len(idx)
            if steps_log.record(loss.item()):
                break
        net.eval()
        with torch.no_grad():
            held = torch.cat([net(x_held[s : s + 256]).argmax(-1) for s in range(0, len(x_held), 256)])
        log.append({"epoch": epoch, "loss": running / seen, "train_acc": 100.0 * correct / seen,
                    "held_out_acc": 100.0 * (held == y_held).float().mean().item()})
        if steps_log.done:
            break
    return net.eval(), {"spec": asdict(spec), "task": COARSE_CLASSES, "history": log,
                        "first_steps": steps_log.losses, "steps": steps_log.count,
                        "train_time_s": time.perf_counter() - t0, "environment": environment()}


def upstream_student_weights(cache: Path, spec: UpstreamSpec = UpstreamSpec(), progress: bool | None = None) -> Path:
    """The cached torchvision state dict of the upstream-pretrained student (`weights.pt`, with `pretraining.json`
    beside it); trained and written on first use."""
    folder = (cache / "students" / f"{spec.arch}-upstream-v{spec.version}-w{SYNTHETIC_VERSION}-{spec.image_size}px"
                                   f"-s{spec.seed}-{recipe_key(spec)}")
    weights = folder / "weights.pt"

    def pretrain() -> Path:
        net, log = pretrain_student(spec, progress)
        write_json(folder / "pretraining.json", log)
        return atomic_torch_save(net.state_dict(), weights)  # last: its presence marks the folder complete

    return build_once(weights, lambda: weights if weights.exists() else None, pretrain)  # concurrent jobs: once
