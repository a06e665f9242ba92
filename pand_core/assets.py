"""Where a run's inputs come from: the data root, teacher weights and student weights a profile implies."""

from __future__ import annotations

import os
from pathlib import Path

from .data.synthetic import SYNTHETIC_VERSION, SyntheticSpec, make_synthetic_cub
from .errors import ConfigError
from .files import atomic_torch_save
from .config import MINI_STUDENT
from .models import MINI_TEACHER, TINY_TEACHER, build_tiny_teacher
from .paths import default_cache

SMOKE_SPEC = SyntheticSpec()


def smoke_data_root(cache: Path | None = None, spec: SyntheticSpec = SMOKE_SPEC, progress: bool | None = None) -> Path:
    """The synthetic world of the smoke profile, created once in the cache (CUB layout)."""
    root = (cache or default_cache()) / f"synthetic-cub-v{SYNTHETIC_VERSION}-{spec.n_classes}c-{spec.image_size}px-s{spec.seed}"
    make_synthetic_cub(root, spec, progress=progress)
    return root


def smoke_teacher_weights(cache: Path | None = None, seed: int = 0) -> Path:
    """The smoke profile's tiny teacher, saved once as an open_clip-loadable state dict in the cache."""
    path = (cache or default_cache()) / "teachers" / f"{TINY_TEACHER}-seed{seed}.pt"
    if not path.exists():
        atomic_torch_save(build_tiny_teacher(seed=seed).model.state_dict(), path)
    return path


def resolve_data_root(profile: str, dataset: str, data_root: str | None) -> Path:
    """`data_root` if given; else the smoke world (smoke profile, cub) or `$PAND_DATA`; else a clear error."""
    if data_root is not None:
        return Path(data_root).expanduser()
    if profile == "smoke" and dataset == "cub":
        return smoke_data_root()
    if os.environ.get("PAND_DATA"):
        return Path(os.environ["PAND_DATA"]).expanduser()
    raise ConfigError(f"no data root for {dataset!r}: pass --data-root PATH (or set PAND_DATA).")


def resolve_teacher_weights(profile: str, teacher: str, weights: str | None) -> str | None:
    """On the smoke profile, a project teacher without explicit weights gets its cached weights: the miniature
    CLIP pretrained on the synthetic world (`pand-mini-clip`, trained on first use), or the random-weights
    test model (`pand-tiny-clip`)."""
    if weights is None and profile == "smoke":
        if teacher == MINI_TEACHER:
            from .miniclip import mini_teacher_dir

            return str(mini_teacher_dir(default_cache()))
        if teacher == TINY_TEACHER:
            return str(smoke_teacher_weights())
    return weights


def resolve_student_pretrained(profile: str, student: str, pretrained: bool | str, image_size: int) -> bool | str:
    """On the smoke profile, `pretrained=True` means the miniature's ImageNet: the student's upstream pretraining
    at `image_size` (`ministudent`, trained and cached on first use), returned as a state-dict path; anything
    else is passed on unchanged (True: torchvision's ImageNet weights, False: random, a path: that file)."""
    if pretrained is True and (profile == "smoke" or student == MINI_STUDENT):
        from .ministudent import UpstreamSpec, upstream_student_weights

        return str(upstream_student_weights(default_cache(), UpstreamSpec(arch=student, image_size=image_size)))
    return pretrained

