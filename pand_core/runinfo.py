"""What every run records about where it ran: versions, device, platform, time."""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

import torch


def environment() -> dict[str, Any]:
    """Versions of the stack, the device and the machine, for a run's self-describing output."""
    import open_clip
    import torchvision

    from . import __version__

    cuda = torch.cuda.is_available()
    return {
        "pand_core": __version__,
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "open_clip": open_clip.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
        "cuda": torch.version.cuda if cuda else None,
        "time_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def temp_path(path: Path) -> Path:
    """A temporary sibling of `path`, unique to this process (concurrent writers never share one)."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def atomic_write(path: str | Path, write) -> Path:
    """Call `write(tmp_path)`, then rename over `path`: readers see the old file or the whole new one, never half.
    A failed write (no space, no rights) raises `OutputError` and leaves the previous file as it was."""
    from .errors import OutputError

    path = Path(path)
    tmp = temp_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        os.replace(tmp, path)
    except OSError as e:
        reason = "the disk is full" if e.errno == 28 else (e.strerror or type(e).__name__)
        raise OutputError(
            f"cannot write {path}: {reason} ({e}). The previous version of the file, if any, is intact; free space or "
            "choose a writable --out / PAND_CACHE and resume."
        ) from e
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def safe_load(path: str | Path, what: str = "file"):
    """`torch.load(weights_only=True)`: tensors and plain containers only. A file that holds pickled objects (which
    could run code when unpickled) is refused with `UnsafeFileError`; nothing in it is executed."""
    import pickle

    from .errors import UnsafeFileError

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise UnsafeFileError(
            f"refusing to load {what} {path}: it contains pickled Python objects, not only tensors, and loading it could "
            f"run code. Regenerate it with this project, or delete it. ({str(e).splitlines()[0]})"
        ) from None


def atomic_torch_save(obj: Any, path: str | Path) -> Path:
    """`torch.save` through `atomic_write`."""
    return atomic_write(path, lambda tmp: torch.save(obj, tmp))


def write_json(path: str | Path, payload: dict) -> Path:
    """Write JSON atomically, so a crash never leaves half a file."""
    return atomic_write(path, lambda tmp: tmp.write_text(json.dumps(payload, indent=2, default=str) + "\n"))


def default_cache() -> Path:
    """Cache folder for generated data and small models: `$PAND_CACHE`, else `~/.cache/pand`."""
    return Path(os.environ.get("PAND_CACHE", Path.home() / ".cache" / "pand")).expanduser()


class quiet_root_logger:
    """Silence the root logger below ERROR inside the block (open_clip logs "no pretrained weights" at WARNING
    when the project builds its own small models on purpose)."""

    def __enter__(self):
        import logging

        self._logger, self._level = logging.getLogger(), logging.getLogger().level
        self._logger.setLevel(logging.ERROR)
        return self

    def __exit__(self, *exc):
        self._logger.setLevel(self._level)
        return False


def display_path(path: str | Path) -> str:
    """`path` as pages and shared logs show it: under the runs folder as `$PAND_RUNS/…`, under the cache as
    `$PAND_CACHE/…`, else its name only — never an absolute path of the machine that ran it. A source label such
    as `dir:/abs/folder` keeps its prefix (`dir:$PAND_CACHE/teachers/…`)."""
    from .config import runs_root

    text = str(path)
    prefix, sep, rest = text.partition(":")
    if sep and prefix in ("dir", "file", "tag") and not rest.startswith("\\"):
        return prefix + ":" + (rest if prefix == "tag" else display_path(rest))
    p = Path(text).expanduser()
    for label, root in (("$PAND_RUNS", runs_root()), ("$PAND_CACHE", default_cache())):
        try:
            return f"{label}/{p.resolve().relative_to(root.expanduser().resolve()).as_posix()}"
        except ValueError:
            continue
    return p.name if p.is_absolute() else p.as_posix()
