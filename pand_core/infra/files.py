"""Files written atomically (a reader sees the old file or the whole new one) and tensor files loaded safely; a write
that fails for lack of space or rights raises one `OutputError` that says where, how much room is left and what to do."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import pickle
import shutil
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar


from .errors import OutputError, UnsafeFileError

T = TypeVar("T")

LOW_SPACE = 2**20  # bytes: a disk with less room than this, when a write failed, is full
NO_SPACE = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is full"}
NO_RIGHTS = {errno.EACCES: "permission denied", errno.EPERM: "permission denied",
             errno.EROFS: "the file system is read-only"}
# What torch.save's C++ writer raises (a RuntimeError, not an OSError) when the disk fills up or a file cannot be made.
TORCH_WRITE_FAILED = ("basic_ios::clear", "iostream error", "PytorchStreamWriter failed writing", "unexpected pos",
                      "file write failed", "cannot be opened", "open file failed")
ELSEWHERE = "point --out/$PAND_RUNS (runs) or --cache/$PAND_CACHE (caches)"
SPACE_ADVICE = f"free space there, or {ELSEWHERE} at a disk with room"
RIGHTS_ADVICE = f"make the folder writable, or {ELSEWHERE} at a writable folder"
OTHER_ADVICE = f"{ELSEWHERE} at a writable folder with room"


def human_bytes(n: int) -> str:
    """`n` bytes in binary units: "0 B", "512 B", "1.2 GiB".

    Args:
        n: A number of bytes.
    """
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def free_bytes(folder: str | Path) -> int | None:
    """Free bytes on the disk that holds `folder` (or its nearest existing parent); None when it cannot be read.

    Args:
        folder: Any path on the disk.
    """
    p = Path(folder).absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        return shutil.disk_usage(p).free
    except OSError:
        return None


def room_left(free: int | None) -> str:
    """`free` bytes as the message's words: "1.2 GiB free on that disk" (or "free space unknown").

    Args:
        free: Free bytes (`free_bytes`); None: unknown.
    """
    return "free space unknown" if free is None else f"{human_bytes(free)} free on that disk"


def _chain(exc: BaseException) -> list[BaseException]:
    """`exc` and the exceptions it was raised from or during, outermost first."""
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def _writable(folder: Path) -> bool:
    p = folder.absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return os.access(p, os.W_OK)


def write_failure(exc: BaseException, path: Path, free: int | None) -> tuple[str, str] | None:
    """`(reason, advice)` when `exc`, raised while writing `path`, means the write failed (no space, no rights, a
    path that cannot be made); None when it is something else (a bug, left as it is).

    Args:
        exc: The exception.
        path: The file being written.
        free: Free bytes on its disk when it failed (`free_bytes`).
    """
    chain = _chain(exc)
    for e in chain:
        if isinstance(e, OSError) and e.errno in NO_SPACE:
            return NO_SPACE[e.errno], SPACE_ADVICE
        if isinstance(e, OSError) and e.errno in NO_RIGHTS:
            return NO_RIGHTS[e.errno], RIGHTS_ADVICE
    text = " ".join(str(e) for e in chain)
    for words, reason, advice in (("No space left", "the disk is full", SPACE_ADVICE),
                                  ("Disk quota exceeded", "the disk quota is full", SPACE_ADVICE),
                                  ("Permission denied", "permission denied", RIGHTS_ADVICE),
                                  ("Read-only file system", "the file system is read-only", RIGHTS_ADVICE)):
        if words in text:
            return reason, advice
    oserror = next((e for e in chain if isinstance(e, OSError)), None)
    if oserror is not None and oserror.errno is not None:  # e.g. a folder on the path that is a file
        return (oserror.strerror or type(oserror).__name__).lower(), OTHER_ADVICE
    from_torch = any(words in text for words in TORCH_WRITE_FAILED)
    expected = path.stat().st_size if from_torch and path.exists() else 0  # the new file is likely as big as the old
    if free is not None and free < max(LOW_SPACE, expected):
        return "the disk is full", SPACE_ADVICE
    if from_torch:
        if not _writable(path.parent):
            return "permission denied", RIGHTS_ADVICE
        return "PyTorch could not write it, which is how it reports a full disk or an exceeded quota", SPACE_ADVICE
    if oserror is not None:
        return str(oserror) or type(oserror).__name__, OTHER_ADVICE
    return None


@contextmanager
def guarded_write(path: str | Path, temp: str | Path | None = None,
                  intact: str = "The previous version of the file, if any, is intact") -> Iterator[None]:
    """Run a write of a run folder, cache or bank: a failure for lack of space or rights (OSError, or torch.save's
    RuntimeError) raises one `OutputError` (file, folder, free space, what is intact) from it; `temp` is always removed.

    Args:
        path: The file being written.
        temp: A temporary file the block writes first; removed at the end, failed or not.
        intact: What the failure left as it was, for the message.
    """
    path = Path(path)
    try:
        yield
    except OutputError:
        raise
    except Exception as e:
        free = free_bytes(path.parent)  # before the temporary file is removed: the room the write had
        found = write_failure(e, path, free)
        if found is None:
            raise
        reason, advice = found
        cause = (str(e).strip().splitlines() or [type(e).__name__])[0]
        left = " and no temporary file is left" if temp is not None else ""
        folder = path.absolute().parent
        raise OutputError(f"cannot write {path.name} in {folder}: {reason} ({room_left(free)}; {cause}). "
                          f"{intact}{left}; {advice}, then run again.") from e
    finally:
        if temp is not None:
            with suppress(OSError):
                Path(temp).unlink(missing_ok=True)


def temp_path(path: Path) -> Path:
    """A temporary sibling of `path`, unique to this process (concurrent writers never share one).

    Args:
        path: The file to be written.
    """
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def atomic_write(path: str | Path, write: Callable[[Path], Any]) -> Path:
    """Call `write(tmp_path)`, then rename over `path`: readers see the old file or the whole new one, never half.
    A failed write (no space, no rights) raises `OutputError` (`guarded_write`) and leaves the previous file as it was.

    Args:
        path: The file to write; its folder is created if missing.
        write: Writes the whole content to the temporary path it is given.
    """
    path = Path(path)
    tmp = temp_path(path)
    with guarded_write(path, temp=tmp):
        path.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        os.replace(tmp, path)
    return path


def append_text(path: str | Path, text: str) -> None:
    """Append `text` to `path` (created if missing). A failed write raises `OutputError` (`guarded_write`) with the
    file cut back to what it held before, so no half line is left.

    Args:
        path: The file (a log, or one JSON record per line).
        text: What to add, with its newline.
    """
    path = Path(path)
    data = memoryview(text.encode("utf-8"))
    with guarded_write(path, intact="The lines written before are intact (no half line is left)"):
        with open(path, "ab", buffering=0) as f:
            start = f.seek(0, os.SEEK_END)
            try:
                while data:
                    data = data[f.write(data):]
            except BaseException:
                with suppress(OSError):
                    f.truncate(start)
                raise


def safe_load(path: str | Path, what: str = "file") -> Any:
    """`torch.load(weights_only=True)`: tensors and plain containers only. A file that holds pickled objects (which
    could run code when unpickled) is refused with `UnsafeFileError`; nothing in it is executed.

    Args:
        path: The file, loaded onto the CPU.
        what: What the file is, named in the error (e.g. "anchors").
    """
    import torch  # here, not at the top: the notebook runner's processes write files without torch

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
    import torch

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
    with guarded_write(lock, intact="Nothing was written"):
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
