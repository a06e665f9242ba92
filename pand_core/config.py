"""Run configurations for Stage 1 (calibrate) and Stage 2 (distill), the method switches, and named profiles.

`paper` holds the authors' recipe (the method page, Stages 1 and 2); `smoke` runs the same code on the synthetic world with the
miniature teacher (`pand-mini-clip`), offline on a CPU. A profile fills the defaults; command-line flags override single fields.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from .infra.errors import ConfigError
from .infra.paths import default_cache, runs_root
from .infra.seeds import SEEDING_VERSION

# The method's fixed numbers (the method page, Stage 2), written once: the loss functions' defaults and
# `DistillConfig`'s.
CLIP_SCALE = 1 / 0.07  # s: the CLIP logit scale of Z^t = s·f·Θᵀ, fixed
KD_TEMPERATURE = 2.0  # T of L_kd and of Hinton KD
NLRD_K = 3  # k: neighbours per sample in L_nlrd
NLRD_GROUP_SIZE = 32  # neighbours are searched within consecutive groups of this many samples (one GPU's batch)


@dataclass(frozen=True)
class MethodSpec:
    """What a Stage 2 method uses: teacher, which anchors, which loss terms, which optimiser recipe.

    Args:
        teacher: Whether the method distils from a teacher.
        anchors: The class anchors: "none", "hand" (the prompt template) or "learned" (Stage 1's).
        feature_terms: Add L_img + L_kd through the align head.
        nlrd: Add the NLRD term.
        hinton: Distil with Hinton KD on the logits instead.
        optimiser: "pand" (AdamW + cosine) or "original" (the original code's `kda` recipe: AdamW wd 0,
            StepLR(30, 0.5)).
        kd_scale: The factor on L_kd.
        keep_dropout: Keep the torchvision classifier's Dropout before the new classifier (MobileNet-V2).
        batch_size: The recipe's global batch on the paper profile where it is not the run default (128); None:
            the default.
    """

    teacher: bool
    anchors: str  # "none" | "hand" | "learned"
    feature_terms: bool  # L_img + L_kd through the align head
    nlrd: bool
    hinton: bool
    optimiser: str  # "pand" | "original" (the original code's `kda` recipe: AdamW wd 0, StepLR(30, 0.5))
    kd_scale: float = 1.0
    keep_dropout: bool = False  # keep the torchvision classifier's Dropout before the new classifier (MobileNet-V2)
    batch_size: int | None = None  # the recipe's global batch on the paper profile where it is not the run default (128)


METHODS: dict[str, MethodSpec] = {
    "ce": MethodSpec(False, "none", False, False, False, "pand"),
    # the original's no-teacher run at its data config's default batch, 512 (`configs/data/kd_data.yaml`, swept at that
    # default in `src/train.sh`); its commands set 128 only for PAND and VL2Lite
    "ce-original": MethodSpec(False, "none", False, False, False, "original", keep_dropout=True, batch_size=512),
    "kd": MethodSpec(True, "hand", False, False, True, "pand"),
    "vl2lite": MethodSpec(True, "hand", True, False, False, "pand"),
    "vl2lite-original": MethodSpec(True, "hand", True, False, False, "original", kd_scale=0.5),
    "pand-no-psc": MethodSpec(True, "hand", True, True, False, "pand"),
    "pand-no-nlrd": MethodSpec(True, "learned", True, False, False, "pand"),
    "pand": MethodSpec(True, "learned", True, True, False, "pand"),
}

# Table order: the registry's, with each method's `-original` recipe just before the controlled method it reproduces.
METHOD_ORDER = sorted(METHODS, key=lambda m: (list(METHODS).index(m.removesuffix("-original")), not m.endswith("-original")))
# What the studies and the pipeline run when not told. A study (`make study`): every method but `ce-original`. The
# pipeline, on both profiles: the paper's table, every method but `kd`, the project's own baseline (the paper has no
# counterpart; `make study` keeps it) — on smoke the study's methods without `kd`.
STUDY_METHODS = [m for m in METHODS if m != "ce-original"]
DEFAULT_METHODS = {"smoke": [m for m in STUDY_METHODS if m != "kd"], "paper": [m for m in METHOD_ORDER if m != "kd"]}
DEFAULT_SEEDS = {"smoke": [0, 1, 2], "paper": [0]}

# The PSC x NLRD ablation, read off the specs: the methods with PAND's feature terms and optimiser, keyed by
# (learned anchors?, NLRD?) -> vl2lite, pand-no-psc, pand-no-nlrd, pand.
ABLATION = {(spec.anchors == "learned", spec.nlrd): name for name, spec in METHODS.items()
            if spec.feature_terms and spec.optimiser == "pand" and spec.kd_scale == 1.0}

PROFILES = ("smoke", "paper")
# Where the prompts' class names come from (`data.authors_names`): the original code's fixed lists, or the data set's files.
CLASS_NAME_SOURCES = ("authors", "dataset")
PROMPT_PRECISIONS = ("auto", "fp32", "bf16", "fp16")  # Stage 1's text encoder (`stage1.prompts.prompt_autocast_dtype`)

# Name registries, plain data so that checking a name imports no model code. `data.DATASETS` has one loader per
# data set name; `models` registers MODEL_CONFIG_DIR's open_clip configs (pand-tiny-clip, pand-mini-clip).
DATASET_NAMES = ("cub", "aircraft", "pets", "dogs", "cars", "folder")  # folder: your own (data.folder)
DOWNLOADABLE_NAMES = ("cub", "aircraft", "pets", "dogs")  # `data.download.REGISTRY`'s (Stanford Cars: no live archive)


class SplitSizes(NamedTuple):
    """A data set's own counts: images in its training split (the one `data.splits.TRAIN_SPLIT` names), in its test split, and
    classes."""

    train: int
    test: int
    classes: int


# The one home of the data sets' split sizes (the published splits); every number derived from them reads it here.
SPLIT_SIZES = {
    "cub": SplitSizes(train=5994, test=5794, classes=200),
    "aircraft": SplitSizes(train=3334, test=3333, classes=100),
    "dogs": SplitSizes(train=12000, test=8580, classes=120),
    "pets": SplitSizes(train=3680, test=3669, classes=37),
    "cars": SplitSizes(train=8144, test=8041, classes=196),
}

MODEL_CONFIG_DIR = Path(__file__).parent / "model_configs"
TEACHER_REFERENCES = ("hf-hub:", "local-dir:")  # prefixes open_clip resolves itself
MINI_STUDENT = "pand-mini-resnet"


@dataclass
class CalibrateConfig:
    """Stage 1 run: data, teacher, prompt learner and the SGD recipe of the method page's Stage 1 (the recipe's one home:
    `prompts.train_prompts` reads epochs, lr, momentum, weight_decay, batch_size, grad_clip, early_stop_patience, seed).

    Args:
        dataset: "cub", "aircraft", "pets", "dogs", "cars", or "folder" (your own image folder, `data.folder`).
        data_root: The data set's folder; None: the profile's default (smoke: the synthetic world in the cache).
        class_names: "authors" (the original prompts' lists; they differ on Aircraft and Dogs) or "dataset".
        template: An image folder's prompt template (`{}`: the class name); None: its template.txt, else the paper's.
        teacher: The teacher's open_clip model name.
        teacher_weights: An open_clip tag, a local weights file or folder, or None (random; on smoke, the shipped ones).
        n_ctx: Learned context tokens in front of each class prompt.
        epochs: Training epochs: the cosine schedule's length, kept when the run stops early.
        lr: SGD's learning rate.
        momentum: SGD's momentum.
        weight_decay: SGD's weight decay.
        batch_size: Images per step.
        grad_clip: The largest gradient norm of the learned context.
        early_stop_patience: Stop after this many epochs without a better held-out accuracy (the original: 50, on
            the test split); 0: never.
        select_on: Which epoch's anchors are saved: "last", "val" (best on validation) or "test" (the original
            protocol, labelled as such).
        teacher_precision: The teacher's feature pass: "fp32" (as the original's Stage 1), "bf16" or "fp16".
        prompt_precision: The text encoder's autocast: "auto" (CUDA: fp16, the original's; else fp32), "fp32", "bf16"
            or "fp16".
        skip_bad_images: Leave unreadable images out (listed in run.log and result.json) instead of stopping.
        val_fraction: The share of train held out for `select_on="val"` on a data set without an official val split.
        seed: The run's seed.
        device: "auto", "cpu", "cuda[:N]" or "mps".
        out: The run folder; None: `<runs>/<profile>/<dataset>/calibrate-s<seed>` (set by `make_config`).
        cache: The cache folder (features, the miniature's world and weights); None: `$PAND_CACHE` (set by
            `make_config`).
        profile: "paper" or "smoke", the profile the config was made from.
    """

    dataset: str = "cub"
    data_root: str | None = None  # None: the profile's default (smoke: the synthetic world in the cache)
    class_names: str = "authors"  # "authors" (the original prompts' lists; differ on Aircraft and Dogs) | "dataset"
    template: str | None = None  # dataset "folder" only: its prompt; None: DIR/template.txt, else "a photo of a {}."
    teacher: str = "convnext_xxlarge"
    teacher_weights: str | None = "laion2b_s34b_b82k_augreg_soup"
    n_ctx: int = 16
    epochs: int = 200
    lr: float = 0.002
    momentum: float = 0.9
    weight_decay: float = 0.0
    batch_size: int = 128
    grad_clip: float = 1.0
    early_stop_patience: int = 0  # > 0: stop after this many epochs without a better held-out accuracy (original: 50, test)
    select_on: str = "last"  # "last" | "val" | "test" (the original protocol, labelled as such)
    teacher_precision: str = "fp32"  # teacher features: fp32 (as the original's Stage 1) | bf16 | fp16
    prompt_precision: str = "auto"  # Stage 1's autocast: auto (CUDA: fp16, the original's; else fp32) | fp32 | bf16 | fp16
    skip_bad_images: bool = False  # True: leave unreadable images out (listed in run.log and result.json)
    val_fraction: float = 0.1  # select_on == "val" on a data set without an official val split (Aircraft has one)
    seed: int = 0
    device: str = "auto"
    out: str | None = None  # None: $PAND_RUNS/<profile>/<dataset>/calibrate-s<seed>
    cache: str | None = None  # features, the miniature's world and weights; None: $PAND_CACHE (resolved by make_config)
    profile: str = "paper"

    def validate(self) -> "CalibrateConfig":
        """Raise `ConfigError` naming the first invalid field; return self."""
        _check_common(self)
        if self.n_ctx < 1:
            raise ConfigError(f"n_ctx must be >= 1, got {self.n_ctx}")
        if self.prompt_precision not in PROMPT_PRECISIONS:
            raise ConfigError(f"prompt_precision must be one of {', '.join(PROMPT_PRECISIONS)}, "
                              f"got {self.prompt_precision!r}")
        if self.select_on not in ("last", "val", "test"):
            raise ConfigError(f"select_on must be 'last', 'val' or 'test', got {self.select_on!r}")
        if self.select_on == "val" and not 0 < self.val_fraction < 1:
            raise ConfigError(f"val_fraction must be in (0, 1) when select_on='val', got {self.val_fraction}")
        return self


@dataclass
class DistillConfig:
    """Stage 2 run: method switch, data, models, losses and the AdamW recipe of the method page's Stage 2 (`make_optimizer`).

    Args:
        method: A name in `METHODS`, e.g. "pand", "vl2lite" or "ce".
        dataset: "cub", "aircraft", "pets", "dogs", "cars", or "folder" (your own image folder, `data.folder`).
        data_root: The data set's folder; None: the profile's default.
        class_names: "authors" (the original prompts' lists; they differ on Aircraft and Dogs) or "dataset".
        template: An image folder's prompt template (`{}`: the class name); None: its template.txt, else the paper's.
        student: A torchvision classifier name (e.g. resnet18, mobilenet_v2) or `pand-mini-resnet`.
        student_pretrained: Start from pretrained weights (ImageNet; on smoke, the miniature's upstream ones), not
            random ones.
        student_weights: The torchvision weights tag; `IMAGENET1K_V1` is the original's `pretrained=True`.
        teacher: The teacher's open_clip model name.
        teacher_weights: An open_clip tag, a local weights file or folder, or None (random; on smoke, the shipped ones).
        teacher_mode: "online" (the teacher on every batch, as the original) or "bank" (features of stored views).
        teacher_precision: The teacher's forward in both modes: "fp32" (the original's Stage 2), "bf16" or "fp16".
        bank_views: V, the stored views per training image in bank mode.
        anchors: The Stage 1 anchors file, required by methods with learned anchors (`make_config` sets the same
            seed's).
        epochs: Training epochs.
        batch_size: The global batch, divided over the DDP processes.
        lr: AdamW's learning rate.
        weight_decay: AdamW's weight decay (PAND's recipe; the original recipe uses 0).
        cosine_t_max: Epochs of the cosine's fall from `lr` to `cosine_eta_min`; it rises again after.
        cosine_eta_min: The cosine's lowest learning rate.
        step_size: StepLR's step in epochs (the original recipe: `vl2lite-original`, `ce-original`).
        step_gamma: StepLR's factor.
        temperature: T of the text-logit KD and of Hinton KD.
        scale: The logit scale s of the teacher logits Z^t = s·f·Θᵀ.
        nlrd_k: k, the NLRD neighbours per sample.
        nlrd_group_size: Samples per NLRD neighbour search (one GPU's batch); None: the whole batch.
        beta: β, the weight of the NLRD term.
        image_size: The side in pixels of the training crop and of the test images.
        resize: The side of the training transform's first, square resize.
        val_fraction: The stratified share of train held out for a validation-selected test accuracy; 0: none.
        early_stop_patience: Stop after this many epochs without a new best test accuracy (the original: 100);
            0: never.
        test_every: Score the test split every this many epochs and after the last one (1: every epoch, as the
            original); training is the same either way, only the per-epoch test curve and the best epoch thin out.
        augment: "cpu" (PIL transforms in loader workers) or "device" (a uint8 cache, augmented on the device).
        skip_bad_images: Leave unreadable images out (listed in run.log and result.json) instead of stopping.
        amp: bf16 autocast on CUDA.
        channels_last: The channels-last memory format for the student.
        num_workers: DataLoader worker processes.
        seed: The run's seed.
        seeding: The version of the run's random streams (`seeds.SEEDING_VERSION`).
        device: "auto", "cpu", "cuda[:N]" or "mps".
        out: The run folder; None: `<runs>/<profile>/<dataset>/<method>-<student>-s<seed>` (set by `make_config`).
        cache: The cache folder (views, banks, decoded images, the miniature's inputs); None: `$PAND_CACHE`.
        profile: "paper" or "smoke", the profile the config was made from.
    """

    method: str = "pand"
    dataset: str = "cub"
    data_root: str | None = None
    class_names: str = "authors"  # "authors" (the original prompts' lists; differ on Aircraft and Dogs) | "dataset"
    template: str | None = None  # dataset "folder" only: its prompt; None: DIR/template.txt, else "a photo of a {}."
    student: str = "resnet18"
    student_pretrained: bool = True
    student_weights: str = "IMAGENET1K_V1"  # torchvision weights tag: V1 is the original's `pretrained=True`
    teacher: str = "convnext_xxlarge"
    teacher_weights: str | None = "laion2b_s34b_b82k_augreg_soup"
    teacher_mode: str = "online"  # "online" (faithful) | "bank" (precomputed views)
    teacher_precision: str = "fp32"  # the teacher's forward in both modes: fp32 (the original's Stage 2) | bf16 | fp16
    bank_views: int = 8
    anchors: str | None = None  # Stage 1 output; required by methods with learned anchors
    epochs: int = 300
    batch_size: int = 128
    lr: float = 1e-4
    weight_decay: float = 1e-4
    cosine_t_max: int = 100
    cosine_eta_min: float = 1e-5
    step_size: int = 30  # the original recipe (vl2lite-original, ce-original): StepLR(30, 0.5)
    step_gamma: float = 0.5
    temperature: float = KD_TEMPERATURE
    scale: float = CLIP_SCALE
    nlrd_k: int = NLRD_K
    nlrd_group_size: int | None = NLRD_GROUP_SIZE
    beta: float = 1.0
    image_size: int = 224
    resize: int = 256
    val_fraction: float = 0.0  # > 0: hold out a stratified part of train for val-selected test accuracy
    early_stop_patience: int = 0  # > 0: stop after this many epochs without a new best TEST accuracy (original: 100)
    test_every: int = 1  # > 1: score the test split every test_every epochs and after the last (cheaper studies)
    augment: str = "cpu"  # "cpu": PIL transforms in loader workers | "device": uint8 cache, batched on the device
    skip_bad_images: bool = False  # True: leave unreadable images out (listed in run.log and result.json)
    amp: bool = False
    channels_last: bool = False
    num_workers: int = 2
    seed: int = 0
    seeding: int = SEEDING_VERSION  # how the run's random streams are seeded (`seeds.py`): a run made under another
    # version drew other views and batches, so it is neither reused nor resumed
    device: str = "auto"
    out: str | None = None  # None: $PAND_RUNS/<profile>/<dataset>/<method>-<student>-s<seed>
    cache: str | None = None  # views, banks, decoded images, the miniature's inputs; None: $PAND_CACHE (make_config)
    profile: str = "paper"

    @property
    def spec(self) -> MethodSpec:
        return METHODS[self.method]

    def validate(self) -> "DistillConfig":
        """Raise `ConfigError` naming the first invalid field; return self."""
        if self.method not in METHODS:
            raise ConfigError(f"unknown method {self.method!r}; expected one of {list(METHODS)}.")
        _check_common(self)
        if self.teacher_mode not in ("online", "bank"):
            raise ConfigError(f"teacher_mode must be 'online' or 'bank', got {self.teacher_mode!r}")
        if self.augment not in ("cpu", "device"):
            raise ConfigError(f"augment must be 'cpu' or 'device', got {self.augment!r}")
        if self.augment == "device" and self.teacher_mode == "bank":
            raise ConfigError("teacher_mode='bank' trains every method on stored views made by the CPU transforms; "
                              "use augment='cpu' with the bank.")
        if self.bank_views < 1:
            raise ConfigError(f"bank_views must be >= 1, got {self.bank_views}")
        if self.spec.nlrd:
            if self.nlrd_k < 1:
                raise ConfigError(f"nlrd_k must be >= 1, got {self.nlrd_k}")
            if self.nlrd_group_size is not None and self.nlrd_k >= self.nlrd_group_size:
                raise ConfigError(f"nlrd_k ({self.nlrd_k}) must be smaller than nlrd_group_size ({self.nlrd_group_size}).")
            if self.batch_size < self.nlrd_k + 1:
                raise ConfigError(f"batch_size ({self.batch_size}) must be at least nlrd_k + 1 ({self.nlrd_k + 1}).")
        if not 0 <= self.val_fraction < 1:
            raise ConfigError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.test_every < 1:
            raise ConfigError(f"test_every must be >= 1 (1: every epoch), got {self.test_every}")
        if self.test_every > 1 and self.early_stop_patience:
            raise ConfigError(f"early_stop_patience ({self.early_stop_patience}) watches the test accuracy of every "
                              f"epoch; use test_every=1 with it (got {self.test_every}).")
        if not is_known_student(self.student):
            raise ConfigError(f"unknown student {self.student!r}; expected a torchvision classifier such as resnet18 or "
                              f"mobilenet_v2, or {MINI_STUDENT}.")
        check_student_weights(self.student, self.student_weights)
        if self.image_size < 8 or self.resize < self.image_size:
            raise ConfigError(f"need 8 <= image_size <= resize, got {self.image_size}, {self.resize}")
        return self


def check_methods(methods: list[str]) -> None:
    """Refuse, with one `ConfigError`, method names that are not in `METHODS` (a study's or a pipeline's list)."""
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ConfigError(f"unknown method(s) {unknown}; expected some of {list(METHODS)}")


def check_schedule(cfg: CalibrateConfig | DistillConfig) -> None:
    """Refuse a training schedule that cannot run (Stage 1 and Stage 2 recipes): epochs, batch_size and lr positive, patience >= 0."""
    for name in ("epochs", "batch_size"):
        if getattr(cfg, name) <= 0:
            raise ConfigError(f"{name} must be positive, got {getattr(cfg, name)}")
    if cfg.lr <= 0:
        raise ConfigError(f"lr must be positive, got {cfg.lr}")
    if cfg.early_stop_patience < 0:
        raise ConfigError(f"early_stop_patience must be >= 0 (0: off), got {cfg.early_stop_patience}")


def is_known_teacher(name: str) -> bool:
    """An open_clip model name (open_clip's own or one in `MODEL_CONFIG_DIR`), or an `hf-hub:` / `local-dir:`
    reference; open_clip is imported only for a name that is none of pand_core's own."""
    if name.startswith(TEACHER_REFERENCES) or name in {p.stem for p in MODEL_CONFIG_DIR.glob("*.json")}:
        return True
    import open_clip

    return name in open_clip.list_models()


def is_known_student(name: str) -> bool:
    """`pand-mini-resnet` or a torchvision classifier name."""
    if name == MINI_STUDENT:
        return True
    import torchvision

    return name in torchvision.models.list_models(module=torchvision.models)


def check_student_weights(name: str, weights: str) -> None:
    """Refuse a weights tag that torchvision does not have for student `name` (works offline: tags are an enum).
    `pand-mini-resnet` has no tags: its "pretrained" weights are its upstream pretraining (`miniature.student`, shipped)."""
    if name == MINI_STUDENT:
        return
    import torchvision

    tags = list(torchvision.models.get_model_weights(name).__members__)
    if weights != "DEFAULT" and weights not in tags:
        raise ConfigError(f"student {name} has no ImageNet weights {weights!r}; expected one of {tags} or DEFAULT "
                          "(IMAGENET1K_V1 is what the original code's pretrained=True loaded).")


def _check_common(cfg: CalibrateConfig | DistillConfig) -> None:
    if cfg.profile not in PROFILES:
        raise ConfigError(f"unknown profile {cfg.profile!r}; expected one of {list(PROFILES)}.")
    if cfg.dataset not in DATASET_NAMES:
        raise ConfigError(f"unknown data set {cfg.dataset!r}; expected one of {sorted(DATASET_NAMES)}.")
    if cfg.dataset == "folder" and cfg.data_root is None:
        raise ConfigError("dataset 'folder' reads your own image folder: name it with --data-root DIR (DIR/train/<class>/, "
                          "DIR/test/<class>/; in a notebook DATA_ROOT = 'DIR').")
    if cfg.template is not None and cfg.dataset != "folder":
        raise ConfigError(f"template is for dataset 'folder' only; {cfg.dataset!r} uses its own prompts.")
    if cfg.class_names not in CLASS_NAME_SOURCES:
        raise ConfigError(f"class_names must be one of {list(CLASS_NAME_SOURCES)}, got {cfg.class_names!r}")
    if cfg.teacher_precision not in ("fp32", "bf16", "fp16"):
        raise ConfigError(f"teacher_precision must be fp32, bf16 or fp16, got {cfg.teacher_precision!r}")
    check_schedule(cfg)
    if not is_known_teacher(cfg.teacher):
        raise ConfigError(f"unknown teacher {cfg.teacher!r}; expected an open_clip model name (open_clip.list_models()).")
    if cfg.device not in ("auto", "cpu") and not str(cfg.device).startswith(("cuda", "mps")):
        raise ConfigError(f"device must be 'auto', 'cpu', 'cuda[:N]' or 'mps', got {cfg.device!r}")


# Profiles: field overrides on top of the dataclass defaults (which are the paper recipe).
PROFILE_OVERRIDES: dict[str, dict[str, dict[str, Any]]] = {
    "paper": {"calibrate": {}, "distill": {}},
    "smoke": {
        # Stage 1 on the miniature converges within its first epochs (validation world, studies/results/regime.md)
        "calibrate": {"teacher": "pand-mini-clip", "teacher_weights": None, "epochs": 20, "batch_size": 32},
        "distill": {  # the miniature's regime (book chapter "The miniature"): an upstream-pretrained small student,
            # 20 epochs whose cosine restarts at a third of the run as the paper's (T_max 100 of 300) does
            "teacher": "pand-mini-clip", "teacher_weights": None, "student": "pand-mini-resnet",
            "student_pretrained": True, "epochs": 20, "batch_size": 32, "nlrd_group_size": 16, "image_size": 32,
            "resize": 37, "num_workers": 0, "cosine_t_max": 7, "lr": 1e-3, "teacher_mode": "bank",
        },
    },
}


def make_config(stage: str, profile: str = "paper", *, runs: str | Path | None = None, **overrides: Any):
    """A validated config of `stage` ("calibrate" | "distill"): profile defaults, then explicit overrides
    (`student=None` means the profile's student; on paper a method whose recipe has its own batch, `ce-original`'s 512,
    takes it unless `batch_size` is given). Without `out`, the run folder is
    `<runs>/<profile>/<dataset>/<run>`, `runs` defaulting to `runs_root()` (`$PAND_RUNS`, read at the edge); a
    method with learned anchors reads the Stage 1 run of its seed there (`calibrate-s<seed>/anchors.pt`, whether or
    not it exists yet: the stage checks); without `cache`, the cache is `default_cache()` (`$PAND_CACHE`).

    A saved `config.json` round-trips: `make_config(stage, **json.load(f))`.

    Args:
        stage: "calibrate" or "distill".
        profile: "paper" or "smoke".
        runs: The runs folder; None: `runs_root()`.
        overrides: Config fields to set, e.g. `seed=1`, `method="kd"`.
    """
    cls = {"calibrate": CalibrateConfig, "distill": DistillConfig}.get(stage)
    if cls is None:
        raise ConfigError(f"unknown stage {stage!r}")
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; expected one of {list(PROFILES)}.")
    if stage == "distill" and "student" in overrides and overrides["student"] is None:
        del overrides["student"]  # None: the profile's student (`default_student`)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(overrides) - names
    if unknown:
        raise ConfigError(f"unknown {stage} option(s) {sorted(unknown)}")
    values = dict(PROFILE_OVERRIDES[profile][stage], profile=profile)
    recipe_batch = METHODS.get(overrides.get("method", DistillConfig.method), METHODS["pand"]).batch_size
    if stage == "distill" and profile == "paper" and recipe_batch is not None:
        values["batch_size"] = recipe_batch  # the method's own recipe; an explicit --batch-size still wins
    values.update(overrides)
    cfg = cls(**values).validate()
    root = Path(runs) if runs is not None else runs_root()
    if cfg.out is None:
        name = "calibrate" if stage == "calibrate" else f"{cfg.method}-{cfg.student}"
        cfg.out = str(root / profile / cfg.dataset / f"{name}-s{cfg.seed}")
    if stage == "distill" and cfg.anchors is None and cfg.spec.anchors == "learned":
        cfg.anchors = str(root / profile / cfg.dataset / f"calibrate-s{cfg.seed}" / "anchors.pt")  # Stage 1's, same seed
    if cfg.cache is None:
        cfg.cache = str(default_cache())
    return cfg


def default_student(profile: str) -> str:
    """The student a profile trains when none is named: `pand-mini-resnet` on smoke, ResNet-18 on paper."""
    return PROFILE_OVERRIDES[profile]["distill"].get("student", DistillConfig.student)


def to_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def _field_defaults() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for cls in (CalibrateConfig, DistillConfig):
        out.update({f.name: f.default for f in dataclasses.fields(cls)})
    return out


ABSENT_MEANS = {"seeding": 1}  # an option whose absence from a saved config means other than its default: runs saved
# before named random streams (`seeding` 2) drew with bare numeric tags
NAMES_CHANGED_ON = ("aircraft", "dogs")  # runs saved before `class_names` prompted with the data set's names there
# Stage 1 on a GPU before `prompt_precision`: bf16 autocast over the text encoder and the logits, which no value of the
# option reproduces (on a CPU it was fp32, today's "auto")
PROMPT_PRECISION_BEFORE_ON_GPU = "bf16 autocast, logits included (a GPU run from before prompt_precision)"


def _absent_means(saved: dict[str, Any], ran_on: str | None = None) -> dict[str, Any]:
    """What an option missing from `saved` stood for when that run was made (`ran_on`: the device it recorded)."""
    out = {**_field_defaults(), **ABSENT_MEANS}
    if saved.get("dataset") in NAMES_CHANGED_ON:
        out["class_names"] = "dataset"
    if ran_on is not None and ran_on != "cpu":
        out["prompt_precision"] = PROMPT_PRECISION_BEFORE_ON_GPU
    return out


# Fields that may differ between a run and its resumption without changing its numbers.
RESUME_IGNORES = ("out", "device", "num_workers", "cache")  # where a run is and what it runs on, not what it computes


def config_changes(run_dir: str | Path, config: dict[str, Any]) -> list[str]:
    """How `config` differs from the run's saved config.json, one line per field, fields of `RESUME_IGNORES` left
    out; [] when `config` would reproduce that run (read with the device its result.json recorded, if any)."""
    from .infra.rundir import read_config  # (torch: only when a run folder is read)

    result = Path(run_dir) / "result.json"
    try:
        ran_on = json.loads(result.read_text()).get("environment", {}).get("device") if result.exists() else None
    except (json.JSONDecodeError, AttributeError):
        ran_on = None
    return config_diff(read_config(run_dir), config, ignore=RESUME_IGNORES, ran_on=ran_on)


def config_diff(saved: dict[str, Any], current: dict[str, Any], ignore: tuple[str, ...] = (),
                ran_on: str | None = None) -> list[str]:
    """Human-readable differences between a saved config and the current one (for refusing a mismatched resume).

    An option that a run saved before the option existed counts as what the project did then (mostly its default),
    so adding options to the project does not orphan earlier runs; `ran_on` is the device the saved run recorded
    (its result.json's `environment.device`), where that mattered."""
    defaults = _absent_means(saved, ran_on)
    saved = {**{k: defaults[k] for k in current if k not in saved and k in defaults}, **saved}
    keys = sorted((set(saved) | set(current)) - set(ignore))
    return [f"{k}: {saved.get(k)!r} != {current.get(k)!r}" for k in keys if saved.get(k) != current.get(k)]


__all__ = ["SPLIT_SIZES", "SplitSizes", "CLASS_NAME_SOURCES", "CalibrateConfig", "DATASET_NAMES", "DEFAULT_METHODS", "DEFAULT_SEEDS", "STUDY_METHODS", "DistillConfig", "METHODS", "MINI_STUDENT", "MethodSpec", "PROFILES",
           "PROMPT_PRECISIONS",
           "RESUME_IGNORES", "check_methods", "check_schedule", "check_student_weights", "config_changes", "config_diff", "is_known_student", "is_known_teacher", "make_config",
           "to_dict"]
