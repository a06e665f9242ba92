"""A notebook's or the pipeline's run parameters (profile, data, seed, teacher, student, schedule length) turned into
stage configs: the one place where `TEACHER = None` means "the profile's teacher" for every page alike."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from .config import PROFILE_OVERRIDES, CalibrateConfig, DistillConfig, make_config
from .infra.errors import ConfigError

RANDOM_WEIGHTS = ("none", "random")  # TEACHER_WEIGHTS values meaning "random weights" (tests; meaningless results)


@dataclass(frozen=True)
class RunParams:
    """What a parameters cell fixes for every run of its page; `None` leaves the profile's value.

    `teacher_weights`: an open_clip tag, a local weights file or folder, or "none" (random). Naming a `teacher` other
    than the profile's on the paper profile needs its weights too (e.g. `ViT-B-32` with `openai`): the paper's tag
    belongs to ConvNeXt-XXL only.

    Args:
        profile: "smoke" or "paper".
        dataset: "cub", "aircraft", "pets", "dogs" or "cars".
        data_root: The data set's folder; None: the profile's default.
        seed: The seed of every run of the page.
        teacher: The teacher's open_clip model name; None: the profile's.
        teacher_weights: An open_clip tag, a local weights file or folder, or "none" (random); None: the profile's.
        student: The Stage 2 student; None: the profile's.
        teacher_mode: "online" or "bank"; None: the profile's.
        stage1_epochs: Stage 1 epochs; None or 0: the profile's.
        stage2_epochs: Stage 2 epochs; None or 0: the profile's.
    """

    profile: str = "smoke"
    dataset: str = "cub"
    data_root: str | None = None
    seed: int = 0
    teacher: str | None = None
    teacher_weights: str | None = None
    student: str | None = None
    teacher_mode: str | None = None
    stage1_epochs: int | None = None
    stage2_epochs: int | None = None

    @classmethod
    def from_cell(cls, names: Mapping[str, Any]) -> "RunParams":
        """The parameters of a notebook's parameters cell (`PROFILE`, `DATASET`, `DATA_ROOT`, `SEED`, `TEACHER`,
        `TEACHER_WEIGHTS`, `STUDENT`, `TEACHER_MODE`, `STAGE1_EPOCHS`, `STAGE2_EPOCHS`); a name the cell lacks keeps
        the default.

        Args:
            names: The notebook's names, e.g. `globals()`.
        """
        fields = {f.name: names[f.name.upper()] for f in dataclasses.fields(cls) if f.name.upper() in names}
        return cls(**fields)

    def overrides(self, stage: str) -> dict[str, Any]:
        """The config fields this page sets for `stage`, without data set, root and seed.

        Args:
            stage: "calibrate" or "distill".
        """
        out: dict[str, Any] = {}
        if self.teacher is not None:
            default = PROFILE_OVERRIDES.get(self.profile, {}).get(stage, {}).get("teacher", CalibrateConfig.teacher)
            if self.teacher_weights is None and self.profile == "paper" and self.teacher != default:
                raise ConfigError(f"TEACHER = {self.teacher!r} needs TEACHER_WEIGHTS as well: an open_clip pretrained tag "
                                  "(e.g. 'openai' for ViT-B-32; open_clip.list_pretrained_tags_by_model lists them), a "
                                  "local weights file or folder, or 'none' for random weights.")
            out["teacher"] = self.teacher
        if self.teacher_weights is not None:
            out["teacher_weights"] = None if self.teacher_weights.lower() in RANDOM_WEIGHTS else self.teacher_weights
        epochs = self.stage1_epochs if stage == "calibrate" else self.stage2_epochs
        if epochs:
            out["epochs"] = int(epochs)
        if stage == "distill":
            if self.student is not None:
                out["student"] = self.student
            if self.teacher_mode is not None:
                out["teacher_mode"] = self.teacher_mode
        return out

    def calibrate(self, **extra: Any) -> CalibrateConfig:
        """The Stage 1 config of this page.

        Args:
            extra: Further config fields, e.g. `select_on="val"`; they win over the page's.
        """
        return make_config("calibrate", self.profile, dataset=self.dataset, data_root=self.data_root, seed=self.seed,
                           **{**self.overrides("calibrate"), **extra})

    def distill(self, method: str, **extra: Any) -> DistillConfig:
        """The Stage 2 config of `method` on this page; a method with learned anchors reads those of this page's
        Stage 1 run (`calibrate().out`, where `make_config` points it), whether or not that run has finished yet.

        Args:
            method: A name in `config.METHODS`.
            extra: Further config fields; they win over the page's.
        """
        return make_config("distill", self.profile, method=method, dataset=self.dataset, data_root=self.data_root,
                           seed=self.seed, **{**self.overrides("distill"), **extra})

    def fetch(self) -> Path:
        """Download this page's data set into its data root (`assets.data_home()` when none is named), unless a
        finished download is already there; return the root. The smoke profile's world is generated, not fetched."""
        from .assets import data_home, resolve_data_root
        from .data.download import download
        from .infra.paths import display_path

        if self.profile == "smoke" and self.dataset == "cub":
            return resolve_data_root(self.profile, self.dataset, self.data_root)
        root = Path(self.data_root).expanduser() if self.data_root else data_home()
        download(self.dataset, root)
        print(f"{self.dataset}: data in {display_path(root)}")
        return root

    def study_overrides(self) -> dict[str, dict[str, Any]]:
        """`run_study`'s `overrides` for the same runs (teacher mode and student travel as its own arguments)."""
        distill = {k: v for k, v in self.overrides("distill").items() if k not in ("student", "teacher_mode")}
        return {"calibrate": self.overrides("calibrate"), "distill": distill}

    def notebook_parameters(self) -> dict[str, Any]:
        """The parameters-cell names papermill sets for this page (only those that differ from None)."""
        names = {"TEACHER": self.teacher, "TEACHER_WEIGHTS": self.teacher_weights, "STAGE1_EPOCHS": self.stage1_epochs,
                 "STAGE2_EPOCHS": self.stage2_epochs}
        return {k: v for k, v in names.items() if v is not None}
