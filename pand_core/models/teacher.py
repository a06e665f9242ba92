"""The teacher: a frozen open_clip model behind one small interface (the method page, Teacher), loaded from an open_clip
tag, a local file or folder, or built with random weights; the project's own configs registered beside open_clip's."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Callable, Sequence

import open_clip
from open_clip import timm_model
import torch
import torch.nn.functional as F
from torch import nn

from ..config import MODEL_CONFIG_DIR, is_known_teacher
from ..infra.errors import ConfigError, TeacherUnavailableError
from ..infra.logs import quiet_root_logger

log = logging.getLogger(__name__)

open_clip.add_model_config(MODEL_CONFIG_DIR)  # registers `pand-tiny-clip` beside open_clip's own configs

TINY_TEACHER = "pand-tiny-clip"  # random-weights test model: 32 px ViT, 64-d
MINI_TEACHER = "pand-mini-clip"  # the smoke profile's teacher (shipped, `miniature.artifacts`): 32 px ResNet tower, 128-d
PAPER_TEACHER = ("convnext_xxlarge", "laion2b_s34b_b82k_augreg_soup")
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")


# --------------------------------------------------------------------------------------------- teacher


@dataclass
class Teacher:
    """A frozen open_clip model in eval mode: normalised image/text features, its tokenizer and preprocessing.

    Args:
        model: The open_clip CLIP model, frozen and in eval mode.
        tokenizer: Turns a list of strings into token ids `[N, context_length]`.
        preprocess: open_clip's test-time image transform for this model.
        name: The open_clip model name (e.g. `convnext_xxlarge`).
        pretrained: The weights as asked for: a tag, a path, or None (random).
        source: Where the weights came from: "tag:…", "file:…", "dir:…" or "random".
    """

    model: nn.Module
    tokenizer: Callable[[Sequence[str]], torch.Tensor]
    preprocess: Callable
    name: str
    pretrained: str | None
    source: str  # where the weights came from: "tag:…", "file:…", "dir:…" or "random"

    @property
    def device(self) -> torch.device:
        """The device the model's weights are on."""
        return next(self.model.parameters()).device

    @cached_property
    def embed_dim(self) -> int:
        """Dimension D of the joint embedding (1024 for ConvNeXt-XXL)."""
        return int(self.encode_text(["a"]).shape[1])

    @property
    def logit_scale(self) -> float:
        """The teacher's own temperature, `logit_scale.exp()` (≈100 for LAION checkpoints)."""
        return float(self.model.logit_scale.detach().exp())

    @property
    def context_length(self) -> int:
        """Tokens per text prompt (the model's `context_length`; 77 when it has none)."""
        return int(getattr(self.model, "context_length", 77))

    @property
    def image_size(self) -> int:
        """The side in pixels of the square input the image tower was built for (224 when it names none)."""
        size = getattr(self.model.visual, "image_size", 224)
        return int(size[0] if isinstance(size, (tuple, list)) else size)

    @property
    def accepts_any_size(self) -> bool:
        """Whether the image tower pools globally and so takes a batch at any size as it is (open_clip's timm
        towers, ConvNeXt, without attention pooling). A ViT (position embedding), CLIP's ResNets (attention pooling
        over a fixed grid) and the miniature's towers need their own input size."""
        visual = self.model.visual
        if not isinstance(visual, timm_model.TimmModel):
            return False
        pool = getattr(visual.head, "pool", None)
        return not isinstance(pool, getattr(timm_model, "AbsAttentionPool2d", ()))  # absent without timm

    def tower_view(self, images: torch.Tensor) -> torch.Tensor:
        """The tensor the image tower receives for a batch `images`: the batch itself when the tower accepts it
        (the paper: the student's augmented 224 px view straight into ConvNeXt-XXL, whose native size is 256), else
        the batch resized bilinearly to the tower's own square size (the method page, Teacher).

        Args:
            images: A normalised image batch `[B, 3, H, W]`.
        """
        size = self.image_size
        if self.accepts_any_size or images.shape[-2:] == (size, size):
            return images
        return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)

    @torch.no_grad()
    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """L2-normalised image features `[B, D]`, float32, of `tower_view(images)`.

        Args:
            images: A normalised image batch `[B, 3, H, W]`, moved to the teacher's device.
        """
        feats = self.model.encode_image(self.tower_view(images.to(self.device)))
        return F.normalize(feats.float(), dim=-1)

    @torch.no_grad()
    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        """L2-normalised text features `[N, D]` of raw strings, float32.

        Args:
            texts: N strings, tokenized with the teacher's tokenizer.
        """
        tokens = self.tokenizer(list(texts)).to(self.device)
        return F.normalize(self.model.encode_text(tokens).float(), dim=-1)

    def to(self, device: str | torch.device) -> "Teacher":
        """Move the model to `device` in place; returns this teacher.

        Args:
            device: Where the model goes.
        """
        self.model.to(device)
        return self

    def describe(self) -> dict:
        """Identity of the teacher for metadata and mismatch checks."""
        return {"name": self.name, "pretrained": self.pretrained, "source": self.source, "embed_dim": self.embed_dim}


def _resolve_weights(name: str, pretrained: str | None) -> tuple[str, str | None, str]:
    """Decide how open_clip should load `pretrained`: returns (model_name, pretrained arg, source label)."""
    if pretrained is None:
        return name, None, "random"
    path = Path(pretrained).expanduser()
    if path.is_dir():
        if (path / "open_clip_config.json").exists():
            return f"local-dir:{path}", None, f"dir:{path}"
        found = sorted(p for p in path.iterdir() if p.suffix in WEIGHT_SUFFIXES)
        if len(found) != 1:
            raise TeacherUnavailableError(
                f"directory {path} should hold open_clip_config.json plus weights, or exactly one weights file "
                f"({', '.join(WEIGHT_SUFFIXES)}); found {[p.name for p in found] or 'none'}."
            )
        return name, str(found[0]), f"dir:{found[0]}"
    if path.is_file():
        return name, str(path), f"file:{path}"
    if open_clip.get_pretrained_cfg(name, pretrained):
        return name, pretrained, f"tag:{pretrained}"
    if any(sep in pretrained for sep in "/\\") or path.suffix in WEIGHT_SUFFIXES:
        raise TeacherUnavailableError(f"teacher weights file or directory not found: {path}.")
    tags = open_clip.list_pretrained_tags_by_model(name)
    raise TeacherUnavailableError(
        f"{pretrained!r} is neither a pretrained tag of open_clip model {name!r} (known tags: {tags or 'none'}) "
        "nor an existing weights file or directory."
    )


def load_teacher(
    name: str = PAPER_TEACHER[0],
    pretrained: str | None = PAPER_TEACHER[1],
    device: str | torch.device = "cpu",
    cache_dir: str | None = None,
) -> Teacher:
    """Build open_clip model `name` with weights from a tag, a local file, a local directory, or None (random).

    The model is frozen and in eval mode. A tag that is neither cached nor downloadable raises
    `TeacherUnavailableError` saying how to pre-download it or pass a local file.

    Args:
        name: An open_clip model name (open_clip's or `MODEL_CONFIG_DIR`'s), or an `hf-hub:` / `local-dir:` reference.
        pretrained: An open_clip pretrained tag of `name`, a weights file, a folder holding one weights file (or an
            `open_clip_config.json` with its weights), or None for random weights.
        device: Where the model is built.
        cache_dir: open_clip's download cache; None: its default (the Hugging Face cache).
    """
    if not is_known_teacher(name):
        raise ConfigError(f"unknown open_clip model {name!r}; see open_clip.list_models() for the valid names.")
    model_name, weights, source = _resolve_weights(name, pretrained)
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(
            model_name, pretrained=weights, device=device, cache_dir=cache_dir
        )
    except RuntimeError as e:
        if not source.startswith("tag:"):
            raise TeacherUnavailableError(f"cannot load teacher {name} from {source}: {e}") from e
        raise TeacherUnavailableError(
            f"teacher weights {name} / {pretrained} are not in the local cache and cannot be downloaded ({e}).\n"
            "Either pre-download them on a machine with network, e.g.\n"
            f"  python -c \"import open_clip; open_clip.create_model('{name}', pretrained='{pretrained}')\"\n"
            "(they land in the Hugging Face cache, ~/.cache/huggingface, which you can copy over), or pass a local "
            "weights file or a directory holding it as `pretrained=` (command line: --teacher-weights PATH)."
        ) from e
    model.eval().requires_grad_(False)
    log.info("teacher %s loaded from %s", name, source)
    if source == "random":
        warnings.warn(f"teacher {name} has random weights (pretrained=None): fine for tests, meaningless for results.")
    return Teacher(model, open_clip.get_tokenizer(model_name), preprocess, name, pretrained, source)


def build_tiny_teacher(seed: int = 0, device: str | torch.device = "cpu") -> Teacher:
    """A small random-weights open_clip CLIP (`pand-tiny-clip`: 32 px ViT, 64-d), for tests and the smoke profile.

    Args:
        seed: Seeds torch's global generator before the weights are drawn.
        device: Where the model is built.
    """
    with quiet_root_logger(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.manual_seed(seed)
        return load_teacher(TINY_TEACHER, None, device=device)
