"""The write side of the miniature's shipped weights: pretrain (or reuse) the recipes, store them as fp16 under
`miniature/weights/`, and record their hashes in `shipped.py` (`python -m pand_core.miniature build`). The read
side, which checks those hashes, is `artifacts.py`."""

from __future__ import annotations

import json
import pprint
from dataclasses import asdict
from pathlib import Path

import open_clip
import torch

from ..config import MINI_STUDENT
from ..infra.files import atomic_torch_save, write_json
from ..infra.logs import quiet_root_logger
from ..models import MINI_TEACHER
from .artifacts import (RECORD_FILE, SHIPPED_STUDENT_SIZE, STUDENT_FILE, TEACHER_FILE, WEIGHTS_DIR, half_state_dict,
                        sha256_file, shipped_records)
from .student import UpstreamSpec, pretrain_student
from .teacher import PretrainSpec, mini_teacher_dir, save_mini_teacher


def write_teacher(model: torch.nn.Module, log: dict, spec, root: Path | None = None) -> tuple[Path, str]:
    """Write the teacher as an fp16 open_clip folder under `root`; return the weights path and its SHA-256."""
    root = WEIGHTS_DIR if root is None else root
    folder = save_mini_teacher(model, log, root / Path(TEACHER_FILE).parent, spec, half=True)
    path = folder / Path(TEACHER_FILE).name
    return path, sha256_file(path)


def write_student(net: torch.nn.Module, log: dict, root: Path | None = None) -> tuple[Path, str]:
    """Write the upstream student as an fp16 state dict under `root`; return the path and its SHA-256."""
    root = WEIGHTS_DIR if root is None else root
    folder = root / Path(STUDENT_FILE).parent
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / "pretraining.json", {**log, "stored_as": "fp16"})
    path = folder / Path(STUDENT_FILE).name
    atomic_torch_save(half_state_dict(net.state_dict()), path)
    return path, sha256_file(path)


def write_record(entries: dict[str, dict], path: Path | None = None) -> None:
    """Rewrite `shipped.py`, the code's record of the shipped files' hashes, sizes and recipes."""
    path = RECORD_FILE if path is None else path
    body = pprint.pformat(entries, indent=1, width=110, sort_dicts=True)
    path.write_text('"""SHA-256, size and recipe of each shipped weights file of the miniature.\n\nWritten by '
                    '`python -m pand_core.miniature build`; a weights file that does not match is refused\n'
                    '(`artifacts.verified_path`). Do not edit by hand.\n"""\n\nSHIPPED = ' + body + "\n")


def build(cache: Path, root: Path | None = None, what: tuple[str, ...] = ("teacher", "student"),
          progress: bool | None = None) -> dict[str, dict]:
    """Pretrain (or reuse from `cache`) the shipped recipes, write them under `root` as fp16, and, when `root` is
    the package's own folder, record their hashes in `shipped.py`. Returns the record.

    Args:
        cache: The cache folder; a teacher already pretrained there with the shipped recipe is reused (the student is
            pretrained again).
        root: Where the weights are written; None: the package's own folder (`WEIGHTS_DIR`).
        what: Which to build: "teacher", "student", or both.
        progress: Draw progress bars; None: only on a terminal.
    """
    root = WEIGHTS_DIR if root is None else root
    entries = dict(shipped_records()) if root == WEIGHTS_DIR and RECORD_FILE.exists() else {}
    command = "python -m pand_core.miniature build"
    if "teacher" in what:
        spec = PretrainSpec()
        folder = mini_teacher_dir(cache, spec, progress=progress)  # pretrained here unless the cache has it
        with quiet_root_logger():
            model = open_clip.create_model(MINI_TEACHER, pretrained=str(folder / "open_clip_pytorch_model.bin"))
        log = json.loads((folder / "pretraining.json").read_text())
        path, digest = write_teacher(model, {**log, "command": command}, spec, root)
        entries[TEACHER_FILE] = {"sha256": digest, "bytes": path.stat().st_size, "spec": asdict(spec)}
    if "student" in what:
        spec = UpstreamSpec(arch=MINI_STUDENT, image_size=SHIPPED_STUDENT_SIZE)
        net, log = pretrain_student(spec, progress=progress)
        path, digest = write_student(net, {**log, "command": command}, root)
        entries[STUDENT_FILE] = {"sha256": digest, "bytes": path.stat().st_size, "spec": asdict(spec)}
    if root == WEIGHTS_DIR:
        write_record(entries)
    return entries
