"""What the smoke profile feeds a run: the book's world, the shipped teacher and the shipped student start.

`assets.resolve_*` call these on the smoke profile, with the run's cache folder (`cfg.cache`); without one they use
`paths.default_cache()`. Everything else about the miniature lives beside them.
"""

from __future__ import annotations

from pathlib import Path

from ..infra.files import atomic_torch_save, build_once
from ..infra.paths import default_cache
from .world import SYNTHETIC_VERSION, SyntheticSpec, make_synthetic_cub

BOOK_WORLD = SyntheticSpec()  # the book's world: seed 0 (design studies use other seeds: validation worlds)


def world_root(cache: Path | None = None, spec: SyntheticSpec = BOOK_WORLD, progress: bool | None = None) -> Path:
    """The book's synthetic world, drawn once into the cache (CUB layout); the folder that holds `CUB_200_2011/`."""
    extra = f"+{spec.extra_train_per_class}" if spec.extra_train_per_class else ""
    root = (cache or default_cache()) / (f"synthetic-cub-v{SYNTHETIC_VERSION}-{spec.n_classes}c-"
                                         f"{spec.train_per_class}{extra}x{spec.test_per_class}-{spec.image_size}px-"
                                         f"s{spec.seed}")
    make_synthetic_cub(root, spec, progress=progress)
    return root


def teacher_weights(teacher: str, cache: Path | None = None) -> str | None:
    """The project's weights of a project teacher: the shipped `pand-mini-clip` folder (hash-checked), or the
    random-weights test model `pand-tiny-clip` (written once to the cache); None for any other teacher."""
    from ..models import MINI_TEACHER, TINY_TEACHER, build_tiny_teacher

    if teacher == MINI_TEACHER:
        from .artifacts import shipped_teacher_dir

        return str(shipped_teacher_dir())
    if teacher == TINY_TEACHER:
        path = (cache or default_cache()) / "teachers" / f"{TINY_TEACHER}-seed0.pt"
        build_once(path, lambda: path if path.exists() else None,
                   lambda: atomic_torch_save(build_tiny_teacher(seed=0).model.state_dict(), path))
        return str(path)
    return None


def student_start(student: str, image_size: int, cache: Path | None = None) -> str:
    """The miniature's "ImageNet" start of `student` at `image_size`, as a state-dict path: the shipped
    `pand-mini-resnet` at 32 px (hash-checked), or for another student or size its upstream pretraining with the same
    recipe, trained once into the cache (`student.upstream_student_weights`)."""
    from ..config import MINI_STUDENT
    from .artifacts import SHIPPED_STUDENT_SIZE, shipped_student_weights
    from .student import UpstreamSpec, upstream_student_weights

    if student == MINI_STUDENT and image_size == SHIPPED_STUDENT_SIZE:
        return str(shipped_student_weights())
    return str(upstream_student_weights(cache or default_cache(), UpstreamSpec(arch=student, image_size=image_size)))
