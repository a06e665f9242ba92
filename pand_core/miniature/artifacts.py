"""The miniature's shipped weights: one teacher and one upstream student for every reader, checked by SHA-256.

Real CLIP weights are pretrained once by someone and downloaded; the miniature's are pretrained once by
`python -m pand_core.miniature build` (`ship.py`, the write side) and committed under `pand_core/miniature/weights/`:

- `pand-mini-clip/`: an open_clip folder (`open_clip_config.json`, `open_clip_pytorch_model.bin`), loaded by
  `load_teacher("pand-mini-clip", <folder>)` as any local open_clip checkpoint is;
- `pand-mini-resnet/weights.pt`: a plain state dict, loaded by `build_student(..., pretrained=<file>)`.

Each folder holds `pretraining.json`: the recipe, the training log (with the first steps' losses that the tests
rerun), the machine and the time it took. Floating-point tensors are stored as fp16 (half the bytes; the stated
accuracies are measured on these fp16 weights). The SHA-256 of each weights file is recorded in `shipped.py`,
which the build writes; a file whose hash does not match is refused (`ShippedWeightsError`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from ..infra.errors import ShippedWeightsError

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
TEACHER_FILE = "pand-mini-clip/open_clip_pytorch_model.bin"
STUDENT_FILE = "pand-mini-resnet/weights.pt"
RECORD_FILE = Path(__file__).resolve().parent / "shipped.py"

_verified: dict[tuple[str, int, int], str] = {}


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def shipped_records() -> dict:
    """The code's record of every shipped file (`shipped.py`, read when asked: the build rewrites it)."""
    from .shipped import SHIPPED

    return SHIPPED


def shipped_record(name: str) -> dict:
    """The code's record of shipped file `name` (TEACHER_FILE or STUDENT_FILE): sha256, bytes, spec."""
    record = shipped_records()
    if name not in record:
        raise ShippedWeightsError(f"no shipped weights are recorded for {name!r} in {RECORD_FILE}; build them with "
                                  "`python -m pand_core.miniature build`.")
    return record[name]


def verified_path(name: str, root: Path | None = None) -> Path:
    """`root/name` after checking its SHA-256 against the code's record; one clear error if missing or changed.

    Args:
        name: `TEACHER_FILE` or `STUDENT_FILE`, relative to `root`.
        root: The weights folder; None: the package's own (`WEIGHTS_DIR`).
    """
    root = WEIGHTS_DIR if root is None else root
    path = root / name
    expected = shipped_record(name)["sha256"]
    fix = (f"restore it (`git checkout -- {path}` in a clone, or reinstall pand_core), or rebuild the miniature's "
           "weights with `python -m pand_core.miniature build`, which records the new hash")
    if not path.is_file():
        raise ShippedWeightsError(f"the miniature's shipped weights {path} are missing: {fix}.")
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _verified:
        _verified[key] = sha256_file(path)
    if _verified[key] != expected:
        raise ShippedWeightsError(f"{path} does not match the SHA-256 recorded in the code (expected {expected[:16]}…, "
                                  f"found {_verified[key][:16]}…): {fix}.")
    return path


def shipped_teacher_dir() -> Path:
    """The verified open_clip folder of the shipped `pand-mini-clip`."""
    return verified_path(TEACHER_FILE).parent


def shipped_student_weights() -> Path:
    """The verified state-dict file of the shipped upstream-pretrained `pand-mini-resnet`."""
    return verified_path(STUDENT_FILE)


def shipped_log(name: str, root: Path | None = None) -> dict:
    """The `pretraining.json` beside shipped file `name` (recipe, log, machine, time)."""
    root = WEIGHTS_DIR if root is None else root
    return json.loads(((root / name).parent / "pretraining.json").read_text())


def shipped_markdown(root: Path | None = None) -> str:
    """A Markdown table of the shipped files: size, hash, recipe, and where and how long their pretraining took."""
    root = WEIGHTS_DIR if root is None else root
    lines = ["| shipped file | size | SHA-256 (first 16) | recipe | pretraining | where |", "|---|---|---|---|---|---|"]
    for name in (TEACHER_FILE, STUDENT_FILE):
        entry, log = shipped_record(name), shipped_log(name, root)
        spec, env = entry["spec"], log.get("environment", {})
        if name == TEACHER_FILE:
            recipe = (f"v{spec['version']}: {spec['pairs']:,} pairs × {spec['epochs']} epochs, batch {spec['batch_size']}, "
                      f"{spec['augment']:g} augmented, seed {spec['seed']}")
        else:
            recipe = (f"v{spec['version']}: {spec['images']:,} upstream images × {spec['epochs']} epochs at "
                      f"{spec['image_size']} px, seed {spec['seed']}; held-out accuracy "
                      f"{log['history'][-1]['held_out_acc']:.1f} %")
        lines.append(f"| `{name}` | {entry['bytes'] / 2**20:.1f} MiB | `{entry['sha256'][:16]}` | {recipe} "
                     f"| {log['train_time_s'] / 60:.1f} min, {log['steps']:,} steps | {env.get('cpu_count')} CPU cores "
                     f"({env.get('torch_threads')} thread{'s' if env.get('torch_threads') != 1 else ''}), {env.get('device')}, torch {env.get('torch')}, "
                     f"{str(env.get('time_utc', ''))[:10]} |")
    return "\n".join(lines) + "\n"


def half_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Floating-point tensors as fp16 (contiguous clones), every other tensor unchanged."""
    return {k: (v.detach().to(torch.float16) if v.is_floating_point() else v.detach()).contiguous().clone()
            for k, v in state.items()}


SHIPPED_STUDENT_SIZE = 32  # the smoke profile's Stage 2 resolution: the shipped student's upstream input size

__all__ = ["shipped_markdown", "SHIPPED_STUDENT_SIZE", "STUDENT_FILE", "TEACHER_FILE", "WEIGHTS_DIR", "half_state_dict",
           "sha256_file", "shipped_log", "shipped_record", "shipped_records", "shipped_student_weights", "shipped_teacher_dir",
           "verified_path"]
