"""Files written atomically (a reader sees the old file or the whole new one) and tensor files loaded safely."""

from __future__ import annotations

import fcntl
import json
import os
import pickle
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

import torch

from .errors import OutputError, UnsafeFileError

T = TypeVar("T")


def temp_path(path: Path) -> Path:
    """A temporary sibling of `path`, unique to this process (concurrent writers never share one).

    Args:
        path: The file to be written.
    """
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def atomic_write(path: str | Path, write: Callable[[Path], Any]) -> Path:
    """Call `write(tmp_path)`, then rename over `path`: readers see the old file or the whole new one, never half.
    A failed write (no space, no rights) raises `OutputError` and leaves the previous file as it was.

    Args:
        path: The file to write; its folder is created if missing.
        write: Writes the whole content to the temporary path it is given.
    """
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


def safe_load(path: str | Path, what: str = "file") -> Any:
    """`torch.load(weights_only=True)`: tensors and plain containers only. A file that holds pickled objects (which
    could run code when unpickled) is refused with `UnsafeFileError`; nothing in it is executed.

    Args:
        path: The file, loaded onto the CPU.
        what: What the file is, named in the error (e.g. "anchors").
    """
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise UnsafeFileError(
            f"refusing to load {what} {path}: it contains pickled Python objects, not only tensors, and loading it could "
            f"run code. Regenerate it with this project, or delete it. ({str(e).splitlines()[0]})"
        ) from None


def atomic_torch_save(obj: Any, path: str | Path) -> Path:
    """`torch.save` through `atomic_write`; returns `path`.

    Args:
        obj: What to save (tensors and plain containers, so that `safe_load` reads it).
        path: The file to write.
    """
    return atomic_write(path, lambda tmp: torch.save(obj, tmp))


def write_json(path: str | Path, payload: dict) -> Path:
    """Write JSON atomically, so a crash never leaves half a file; returns `path`.

    Args:
        path: The file to write.
        payload: The data, indented by 2; values JSON does not know are written as `str(value)`.
    """
    return atomic_write(path, lambda tmp: tmp.write_text(json.dumps(payload, indent=2, default=str) + "\n"))


def lock_path(path: str | Path) -> Path:
    """The lock file that guards the building of `path`: `.<name>.lock` beside it.

    Args:
        path: The file being built.
    """
    path = Path(path)
    return path.with_name(f".{path.name}.lock")


@contextmanager
def exclusive(path: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on `lock_path(path)` for the block, waiting while another process holds it (`flock`:
    a process that dies, even by SIGKILL, frees its lock).

    Args:
        path: The file being built; the lock is `lock_path(path)`.
    """
    lock = lock_path(path)
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def build_once(path: str | Path, load: Callable[[], T | None], build: Callable[[], T]) -> T:
    """`load()` when it finds `path` built; else, holding `exclusive(path)`, `load()` again (another process may have
    built it while this one waited) and only then `build()`. Two processes never build one file at once: the
    second waits and reads what the first wrote (`build` writes `path` atomically).

    Args:
        path: The file being built.
        load: Returns the built result, or None when `path` is not (yet) built.
        build: Builds and writes `path`, returning the result.
    """
    found = load()
    if found is not None:
        return found
    with exclusive(path):
        found = load()
        return found if found is not None else build()
