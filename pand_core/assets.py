"""Where a run's inputs come from: the data root, teacher weights and student weights a profile implies (on the
smoke profile, the miniature's: `miniature.inputs`)."""

from __future__ import annotations

import os
from pathlib import Path

from .config import MINI_STUDENT
from .errors import ConfigError


def resolve_data_root(profile: str, dataset: str, data_root: str | None) -> Path:
    """`data_root` if given; else the book's world (smoke profile, cub) or `$PAND_DATA`; else a clear error."""
    if data_root is not None:
        return Path(data_root).expanduser()
    if profile == "smoke" and dataset == "cub":
        from .miniature.inputs import world_root

        return world_root()
    if os.environ.get("PAND_DATA"):
        return Path(os.environ["PAND_DATA"]).expanduser()
    raise ConfigError(f"no data root for {dataset!r}: pass --data-root PATH (or set PAND_DATA).")


def resolve_teacher_weights(profile: str, teacher: str, weights: str | None) -> str | None:
    """On the smoke profile, a project teacher without explicit weights gets the project's weights (the shipped
    `pand-mini-clip`, or the random test model `pand-tiny-clip`); anything else is passed on unchanged."""
    if weights is None and profile == "smoke":
        from .miniature.inputs import teacher_weights

        return teacher_weights(teacher)
    return weights


def resolve_student_pretrained(profile: str, student: str, pretrained: bool | str, image_size: int) -> bool | str:
    """On the smoke profile (and for `pand-mini-resnet` anywhere), `pretrained=True` means the miniature's ImageNet:
    a state-dict path (`miniature.inputs.student_start`). Anything else is passed on unchanged (True: torchvision's
    ImageNet weights, False: random, a path: that file)."""
    if pretrained is True and (profile == "smoke" or student == MINI_STUDENT):
        from .miniature.inputs import student_start

        return student_start(student, image_size)
    return pretrained
