"""The student (a torchvision CNN or the miniature's network, its classifier re-made for the data set) and the align
head of the method page (Stage 2)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from ..config import MINI_STUDENT, check_student_weights, is_known_student
from ..infra.errors import ConfigError
from ..infra.files import safe_load
from .mini_resnet import get_student_network

# --------------------------------------------------------------------------------------------- student


class StudentOutput(NamedTuple):
    """What `Student.forward` returns for a batch of B images.

    Args:
        features: ĥ = h / ‖h‖ `[B, D_s]`, the input of the distillation terms.
        logits: z = W h + b `[B, C]`, from the un-normalised pooled feature.
        pooled: h `[B, D_s]`, the backbone's pooled feature.
    """

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
    (the distillation features never do).

    Args:
        backbone: The network without its classifier; maps images to pooled features `[B, feat_dim]`.
        feat_dim: D_s, the pooled feature size.
        num_classes: C, the new classifier's outputs.
        name: The architecture's name (e.g. `resnet18`), for metadata.
        dropout: Dropout probability before the classifier; 0: none.
    """

    def __init__(self, backbone: nn.Module, feat_dim: int, num_classes: int, name: str = "", dropout: float = 0.0) -> None:
        super().__init__()
        self.backbone, self.feat_dim, self.name = backbone, feat_dim, name
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.classifier = nn.Linear(feat_dim, num_classes)

    def forward(self, x: torch.Tensor) -> StudentOutput:
        """`StudentOutput(features, logits, pooled)` of a batch: ĥ = h / ‖h‖ `[B, D_s]`, z = W·dropout(h) + b
        `[B, C]` and h `[B, D_s]`, h the backbone's pooled feature (the method page, Stage 2).

        Args:
            x: A normalised image batch `[B, 3, H, W]`.
        """
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

    Args:
        name: A torchvision classifier name or `pand-mini-resnet`.
        num_classes: C, the new classifier's outputs.
        pretrained: True (torchvision's ImageNet weights), a state-dict path, or False (random weights).
        weights: The torchvision weights tag loaded when `pretrained` is True.
        keep_dropout: Keep the removed head's Dropout before the new classifier.
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
    """φ_v, φ_t: Linear(D_t→D_s) → ReLU → Linear(D_s→D_s); outputs L2-normalised (the method page, Stage 2).

    Args:
        teacher_dim: D_t, the teacher's embedding size.
        student_dim: D_s, the student's feature size.
    """

    def __init__(self, teacher_dim: int, student_dim: int) -> None:
        super().__init__()
        self.image, self.text = _mlp(teacher_dim, student_dim), _mlp(teacher_dim, student_dim)

    def forward(self, teacher_feat: torch.Tensor, anchors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """a_i = n(φ_v(f_i)) `[B, D_s]`, u_c = n(φ_t(Θ_c)) `[C, D_s]`.

        Args:
            teacher_feat: The teacher's image features f `[B, D_t]`.
            anchors: The class anchors Θ `[C, D_t]`.
        """
        return F.normalize(self.image(teacher_feat), dim=-1), F.normalize(self.text(anchors), dim=-1)
