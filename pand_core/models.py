"""Teacher (frozen open_clip model), student (torchvision CNN) and the align head of the method page (Teacher, Stage 2)."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Callable, NamedTuple, Sequence

import open_clip
from open_clip import timm_model
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from .config import MINI_STUDENT, MODEL_CONFIG_DIR, check_student_weights, is_known_student, is_known_teacher
from .errors import ConfigError, TeacherUnavailableError
from .files import safe_load
from .logs import quiet_root_logger
from .miniature.network import get_student_network

log = logging.getLogger(__name__)

open_clip.add_model_config(MODEL_CONFIG_DIR)  # registers `pand-tiny-clip` beside open_clip's own configs

TINY_TEACHER = "pand-tiny-clip"  # random-weights test model: 32 px ViT, 64-d
MINI_TEACHER = "pand-mini-clip"  # the smoke profile's teacher (shipped, `miniature.artifacts`): 32 px ResNet tower, 128-d
PAPER_TEACHER = ("convnext_xxlarge", "laion2b_s34b_b82k_augreg_soup")
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")


# --------------------------------------------------------------------------------------------- teacher


@dataclass
class Teacher:
    """A frozen open_clip model in eval mode: normalised image/text features, its tokenizer and preprocessing."""

    model: nn.Module
    tokenizer: Callable[[Sequence[str]], torch.Tensor]
    preprocess: Callable
    name: str
    pretrained: str | None
    source: str  # where the weights came from: "tag:…", "file:…", "dir:…" or "random"

    @property
    def device(self) -> torch.device:
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
        return int(getattr(self.model, "context_length", 77))

    @property
    def image_size(self) -> int:
        size = getattr(self.model.visual, "image_size", 224)
        return int(size[0] if isinstance(size, (tuple, list)) else size)

    @property
    def accepts_any_size(self) -> bool:
        """True when the image tower pools globally and so takes a batch at any size as it is: open_clip's timm
        towers (ConvNeXt) without attention pooling. A ViT (position embedding), CLIP's ResNets (attention pooling
        over a fixed grid) and the miniature's towers need their own input size."""
        visual = self.model.visual
        if not isinstance(visual, timm_model.TimmModel):
            return False
        pool = getattr(visual.head, "pool", None)
        return not isinstance(pool, getattr(timm_model, "AbsAttentionPool2d", ()))  # absent without timm

    def tower_view(self, images: torch.Tensor) -> torch.Tensor:
        """The tensor the image tower receives for a batch `images`: the batch itself when the tower accepts it
        (the paper: the student's augmented 224 px view straight into ConvNeXt-XXL, whose native size is 256), else
        the batch resized bilinearly to the tower's own square size (the method page, Teacher)."""
        size = self.image_size
        if self.accepts_any_size or images.shape[-2:] == (size, size):
            return images
        return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)

    @torch.no_grad()
    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """L2-normalised image features `[B, D]`, float32, of `tower_view(images)`."""
        feats = self.model.encode_image(self.tower_view(images.to(self.device)))
        return F.normalize(feats.float(), dim=-1)

    @torch.no_grad()
    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        """L2-normalised text features `[N, D]` of raw strings, float32."""
        tokens = self.tokenizer(list(texts)).to(self.device)
        return F.normalize(self.model.encode_text(tokens).float(), dim=-1)

    def to(self, device: str | torch.device) -> "Teacher":
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
    """A small random-weights open_clip CLIP (`pand-tiny-clip`: 32 px ViT, 64-d), for tests and the smoke profile."""
    with quiet_root_logger(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.manual_seed(seed)
        return load_teacher(TINY_TEACHER, None, device=device)


# --------------------------------------------------------------------------------------------- student


class StudentOutput(NamedTuple):
    features: torch.Tensor  # ĥ = h / ‖h‖, feeds the distillation terms
    logits: torch.Tensor  # z = W h + b, from the un-normalised pooled feature
    pooled: torch.Tensor  # h


def _strip_classifier(net: nn.Module) -> tuple[int, float]:
    """Replace a torchvision classifier's last layer by Identity in place; return the pooled feature size and the
    dropout probability of a Dropout that stood before that layer in a removed head (0.0 if none)."""
    for attr in ("fc", "classifier", "head", "heads"):
        head = getattr(net, attr, None)
        if head is None:
            continue
        if isinstance(head, nn.Linear):
            setattr(net, attr, nn.Identity())
            return head.in_features, 0.0
        if isinstance(head, nn.Sequential):
            linears = [i for i, m in enumerate(head) if isinstance(m, nn.Linear)]
            if not linears:
                continue
            last = linears[-1]
            dim = head[last].in_features
            if all(isinstance(m, (nn.Dropout, nn.Linear)) for m in head) and len(linears) == 1:
                setattr(net, attr, nn.Identity())  # e.g. MobileNet-V2: Dropout + Linear -> pooled feature
                drops = [m.p for m in head if isinstance(m, nn.Dropout)]
                return dim, (drops[0] if drops else 0.0)
            head[last] = nn.Identity()
            return dim, 0.0
    raise ConfigError(f"cannot find the classifier of {type(net).__name__} to replace; use a torchvision classifier.")


class Student(nn.Module):
    """A torchvision backbone with its classifier removed plus a new linear classifier (the method page, Stage 2); with
    `dropout > 0` the logits see the pooled feature through Dropout(dropout), as torchvision's own head did
    (the distillation features never do)."""

    def __init__(self, backbone: nn.Module, feat_dim: int, num_classes: int, name: str = "", dropout: float = 0.0) -> None:
        super().__init__()
        self.backbone, self.feat_dim, self.name = backbone, feat_dim, name
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.classifier = nn.Linear(feat_dim, num_classes)

    def forward(self, x: torch.Tensor) -> StudentOutput:
        h = self.backbone(x).flatten(1)
        return StudentOutput(F.normalize(h, dim=-1), self.classifier(self.dropout(h)), h)


_CLASSIFIER_PREFIXES = ("fc.", "classifier.", "head.", "heads.")


def _load_backbone(net: nn.Module, state: dict, path: Path) -> None:
    """Load a torchvision state dict into `net`, except a classifier of another size (it is replaced anyway):
    a checkpoint trained on another label set (ImageNet's 1000, an upstream task's 16) loads; any other
    difference is refused with the keys named."""
    own = net.state_dict()
    other_head = {k for k, v in state.items() if k.startswith(_CLASSIFIER_PREFIXES) and k in own and v.shape != own[k].shape}
    state = {k: v for k, v in state.items() if k not in other_head}
    missing = [k for k in own if k not in state and k not in other_head]
    unexpected = [k for k in state if k not in own]
    wrong = [k for k in state if k in own and state[k].shape != own[k].shape]
    if missing or unexpected or wrong:
        raise ConfigError(f"student weights {path} do not fit a {type(net).__name__}: "
                          f"{len(missing)} missing, {len(unexpected)} unexpected, {len(wrong)} of another shape "
                          f"(e.g. {(missing + unexpected + wrong)[:3]}); pass a state dict of the same torchvision architecture.")
    net.load_state_dict(state, strict=False)


def build_student(name: str, num_classes: int, pretrained: bool | str = True, weights: str = "IMAGENET1K_V1",
                  keep_dropout: bool = False) -> Student:
    """torchvision classifier `name` (e.g. resnet18, mobilenet_v2) as a PAND student.

    `pretrained=True` loads the ImageNet weights tagged `weights` when they can be had (a clear warning otherwise):
    `IMAGENET1K_V1` is what the original's `pretrained=True` loaded, `DEFAULT` torchvision's newest. A path loads a
    local torchvision state dict, False starts from random weights. `keep_dropout` keeps the Dropout that the
    removed head had before its last layer (MobileNet-V2's 0.2), as the original's plain-CE run did.
    """
    if not is_known_student(name):
        raise ConfigError(f"unknown student {name!r}; expected a torchvision classifier such as resnet18 or "
                          f"mobilenet_v2, or {MINI_STUDENT}.")
    net = None
    if pretrained is True and name == MINI_STUDENT:
        raise ConfigError(f"{MINI_STUDENT} has no ImageNet weights; pass its upstream-pretrained state dict "
                          "(the shipped one: pand_core.miniature.artifacts.shipped_student_weights()) or pretrained=False.")
    if pretrained is True:
        check_student_weights(name, weights)
        try:
            net = torchvision.models.get_model(name, weights=weights)
        except Exception as e:  # offline, or no weights for this architecture
            warnings.warn(
                f"ImageNet weights for student {name} are unavailable ({type(e).__name__}: {e}); it starts from "
                "random weights and will score far below the paper. Pre-download them (torch hub cache, "
                "~/.cache/torch/hub/checkpoints) or pass a local state-dict file as `pretrained=`."
            )
    if net is None:
        net = get_student_network(name)
        if isinstance(pretrained, (str, Path)):
            if not Path(pretrained).is_file():
                raise ConfigError(f"student weights file not found: {pretrained}; pass a torchvision state-dict file.")
            _load_backbone(net, safe_load(pretrained, "student weights"), Path(pretrained))
    dim, dropout = _strip_classifier(net)
    return Student(net, dim, num_classes, name, dropout=dropout if keep_dropout else 0.0)


# ------------------------------------------------------------------------------------------ align head


def _mlp(d_in: int, d_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, d_out), nn.ReLU(inplace=True), nn.Linear(d_out, d_out))


class AlignHead(nn.Module):
    """φ_v, φ_t: Linear(D_t→D_s) → ReLU → Linear(D_s→D_s); outputs L2-normalised (the method page, Stage 2)."""

    def __init__(self, teacher_dim: int, student_dim: int) -> None:
        super().__init__()
        self.image, self.text = _mlp(teacher_dim, student_dim), _mlp(teacher_dim, student_dim)

    def forward(self, teacher_feat: torch.Tensor, anchors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """a_i = n(φ_v(f_i)) `[B, D_s]`, u_c = n(φ_t(Θ_c)) `[C, D_s]`."""
        return F.normalize(self.image(teacher_feat), dim=-1), F.normalize(self.text(anchors), dim=-1)
