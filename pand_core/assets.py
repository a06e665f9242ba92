"""Where a run's inputs come from: the data root, teacher weights and student start its config implies (on the smoke
profile, the miniature's: `miniature.defaults`). A stage calls `run_assets(cfg)` once, at its top; the profile and the
cache folder are read from the config there, and nowhere below."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .config import MINI_STUDENT, CalibrateConfig, DistillConfig
from .infra.errors import ConfigError


def data_home(cache: str | Path | None = None) -> Path:
    """The one default home of the data sets: `$PAND_DATA`, else `<cache>/data` (`cache` defaulting to
    `paths.default_cache()`). `data download` puts a data set there and every stage looks there when no data root
    is given.

    Args:
        cache: The cache folder; None: `paths.default_cache()`.
    """
    if os.environ.get("PAND_DATA"):
        return Path(os.environ["PAND_DATA"]).expanduser()
    if cache is None:
        from .infra.paths import default_cache

        cache = default_cache()
    return Path(cache) / "data"


@dataclass(frozen=True)
class RunAssets:
    """What a run reads, resolved from its config: the data root and the teacher's weights (None: random, or no
    teacher named by the profile's project models).

    Args:
        data_root: The data set's folder.
        teacher_weights: What `load_teacher` gets as `pretrained`: a tag, a local file or folder, or None.
    """

    data_root: Path
    teacher_weights: str | None


def run_assets(cfg: CalibrateConfig | DistillConfig) -> RunAssets:
    """The data root and teacher weights `cfg` implies: its own, else the profile's (the book's world and the shipped
    teacher on smoke), with `cfg.cache` as the cache folder.

    Args:
        cfg: A Stage 1 or Stage 2 config with its `cache` set (`make_config` sets it).
    """
    if cfg.cache is None:
        raise ConfigError("this config has no cache folder: make it with `make_config`, which sets `cache` "
                          "($PAND_CACHE, else ~/.cache/pand), or pass cache=FOLDER.")
    cache = Path(cfg.cache)
    return RunAssets(resolve_data_root(cfg.profile, cfg.dataset, cfg.data_root, cache),
                     resolve_teacher_weights(cfg.profile, cfg.teacher, cfg.teacher_weights, cache))


def resolve_data_root(profile: str, dataset: str, data_root: str | None, cache: Path | None = None) -> Path:
    """`data_root` if given; else the book's world on the smoke profile's `cub`; else `data_home(cache)`.

    Args:
        profile: "smoke" or "paper".
        dataset: The data set's name.
        data_root: An explicit data root, or None.
        cache: The cache folder (the book's world, `data_home`); None: `paths.default_cache()`.
    """
    if data_root is not None:
        return Path(data_root).expanduser()
    if profile == "smoke" and dataset == "cub":
        from .miniature.defaults import world_root

        return world_root(cache)
    return data_home(cache)


def resolve_teacher_weights(profile: str, teacher: str, weights: str | None, cache: Path | None = None) -> str | None:
    """On the smoke profile, a project teacher without explicit weights gets the project's weights (the shipped
    `pand-mini-clip`, or the random test model `pand-tiny-clip`, written once under `cache`); anything else is passed
    on unchanged."""
    if weights is None and profile == "smoke":
        from .miniature.defaults import teacher_weights

        return teacher_weights(teacher, cache)
    return weights


def resolve_student_pretrained(profile: str, student: str, pretrained: bool | str, image_size: int,
                               cache: Path | None = None) -> bool | str:
    """On the smoke profile (and for `pand-mini-resnet` anywhere), `pretrained=True` means the miniature's ImageNet:
    a state-dict path (`miniature.defaults.student_start`, pretrained once under `cache` for a size not shipped).
    Anything else is passed on unchanged (True: torchvision's ImageNet weights, False: random, a path: that file)."""
    if pretrained is True and (profile == "smoke" or student == MINI_STUDENT):
        from .miniature.defaults import student_start

        return student_start(student, image_size, cache)
    return pretrained
