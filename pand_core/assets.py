"""Where a run's inputs come from: the data root, teacher weights and student weights a profile implies (on the
smoke profile, the miniature's: `miniature.inputs`)."""

from __future__ import annotations

import os
from pathlib import Path

from .config import MINI_STUDENT


def data_home() -> Path:
    """The one default home of the data sets: `$PAND_DATA`, else `$PAND_CACHE/data` (`paths.default_cache`).
    `data download` puts a data set there and every stage looks there when no data root is given."""
    from .paths import default_cache

    return Path(os.environ["PAND_DATA"]).expanduser() if os.environ.get("PAND_DATA") else default_cache() / "data"


def resolve_data_root(profile: str, dataset: str, data_root: str | None) -> Path:
    """`data_root` if given; else the book's world on the smoke profile's `cub`; else `data_home()`."""
    if data_root is not None:
        return Path(data_root).expanduser()
    if profile == "smoke" and dataset == "cub":
        from .miniature.inputs import world_root

        return world_root()
    return data_home()


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
