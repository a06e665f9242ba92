"""`pand-mini-resnet`: the miniature's student, a narrow four-stage ResNet for small images.

A study of 7 methods × several seeds on a laptop's CPU needs a student much cheaper than ResNet-18, even on the
miniature's 32 px images. This network keeps
ResNet-18's design — a stem, four stages of torchvision `BasicBlock`s that halve the resolution and double the
width, global average pooling, a linear classifier `fc` — with a 3×3 stride-1 stem (no max-pool, as CIFAR ResNets
have for small images), one block per stage and widths 16/32/64/128 (a 128-d pooled feature): 0.31 M parameters
and 16 M multiply–adds per 32 px image, against ResNet-18's 11.2 M and 37 M. It is registered
as a student name like `resnet18`, and its weights load from a plain state-dict file through the same path as
any torchvision student.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models.resnet import BasicBlock

from ..config import MINI_STUDENT


class MiniResNet(nn.Module):
    """Stem conv3×3 → stages of `BasicBlock`s (stride 2 from the second stage on) → average pool → `fc`."""

    def __init__(self, num_classes: int = 1000, widths: tuple[int, ...] = (16, 32, 64, 128),
                 blocks: tuple[int, ...] = (1, 1, 1, 1)) -> None:
        super().__init__()
        w0 = widths[0]
        self.stem = nn.Sequential(nn.Conv2d(3, w0, 3, 1, 1, bias=False), nn.BatchNorm2d(w0), nn.ReLU(inplace=True))
        layers, c_in = [], w0
        for stage, (width, n) in enumerate(zip(widths, blocks)):
            for j in range(n):
                stride = 2 if (j == 0 and stage > 0) else 1
                down = None
                if stride != 1 or c_in != width:
                    down = nn.Sequential(nn.Conv2d(c_in, width, 1, stride, bias=False), nn.BatchNorm2d(width))
                layers.append(BasicBlock(c_in, width, stride, down))
                c_in = width
        self.layers = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c_in, num_classes)
        for m in self.modules():  # torchvision ResNet's initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.layers(self.stem(x))).flatten(1))


def get_student_network(name: str, num_classes: int | None = None) -> nn.Module:
    """A randomly initialised classifier network: `pand-mini-resnet` here, any other name from torchvision;
    `num_classes=None` keeps the architecture's default head (1000 classes)."""
    import torchvision

    extra = {} if num_classes is None else {"num_classes": num_classes}
    if name == MINI_STUDENT:
        return MiniResNet(**extra)
    return torchvision.models.get_model(name, weights=None, **extra)
