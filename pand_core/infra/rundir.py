"""A run directory: config.json, metrics.jsonl, run.log, checkpoints and result.json, each written atomically or
appended whole; a write that fails (no space, no rights) raises `OutputError` (`files.guarded_write`)."""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path
from typing import Any, Callable

from .errors import ConfigError, OutputError, RunLockedError
from .files import (RIGHTS_ADVICE, SPACE_ADVICE, append_text, atomic_torch_save, atomic_write, free_bytes, guarded_write,
                    room_left, safe_load, write_failure, write_json)

_HELD: dict[str, int] = {}  # run folders this process holds the lock of -> lock file descriptor


def lock_run_dir(path: Path) -> None:
    """Hold an exclusive lock on `path/.lock` until `unlock_run_dir` or process exit (a killed run frees it)."""
    key = str(path.resolve())
    if key in _HELD:
        return
    with guarded_write(path / ".lock", intact="Nothing was written"):
        fd = os.open(path / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        other = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise RunLockedError(
            f"{path} is in use by another running process (pid {other}); wait for it to finish, or choose another --out."
        ) from None
    try:
        with guarded_write(path / ".lock", intact="Nothing else was written"):
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
    except BaseException:
        os.close(fd)
        raise
    _HELD[key] = fd


def unlock_run_dir(path: Path) -> None:
    fd = _HELD.pop(str(path.resolve()), None)
    if fd is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


class RunDir:
    """Owns one output folder. Refuses to mix two runs: a second run needs --resume with the same config."""

    def __init__(self, out: str | Path, config: dict[str, Any], resume: bool = False, main: bool = True,
                 changes: Callable[[Path, dict[str, Any]], list[str]] | None = None) -> None:
        """`changes(folder, config)`: how `config` differs from the run saved in the folder, one line per field
        (`config.config_changes` for the stages); None: every field that is not equal."""
        self.path = Path(out)
        self.main = main
        self._changes = changes or _plain_changes
        cfg_path = self.path / "config.json"
        if not main:
            return  # under DDP only rank 0 checks and writes; the others follow it
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            free = free_bytes(self.path)
            reason, advice = write_failure(e, self.path, free) or (str(e), "")
            advice = advice if advice in (SPACE_ADVICE, RIGHTS_ADVICE) else "choose a writable --out"
            raise OutputError(f"cannot create the run folder {self.path}: {reason} ({room_left(free)}; {e}); "
                              f"{advice}.") from e
        lock_run_dir(self.path)
        try:
            self._check(cfg_path, config, resume)
        except BaseException:
            unlock_run_dir(self.path)
            raise

    def _check(self, cfg_path: Path, config: dict[str, Any], resume: bool) -> None:
        if started(self.path):
            if not resume:
                raise ConfigError(
                    f"{self.path} already holds a run (config.json); pass --resume to continue it, or choose another --out."
                )
            diffs = self._changes(self.path, config)
            if diffs:
                raise ConfigError(f"cannot resume {self.path}: its config differs from this one:\n  " + "\n  ".join(diffs))
        elif resume:
            raise ConfigError(f"nothing to resume in {self.path} (no config.json); drop --resume to start a new run.")
        write_json(cfg_path, config)  # the first write: an unwritable folder fails here, before any heavy work

    def close(self) -> None:
        """Release the folder's lock (also released when the process ends, however it ends)."""
        if self.main:
            unlock_run_dir(self.path)

    @property
    def last(self) -> Path:
        return self.path / "checkpoint_last.pt"

    @property
    def best(self) -> Path:
        return self.path / "checkpoint_best.pt"

    def log(self, message: str) -> None:
        """Append a timestamped line to run.log (rank 0); a failed write raises `OutputError`, earlier lines intact."""
        if self.main:
            append_text(self.path / "run.log", f"{time.strftime('%Y-%m-%d %H:%M:%S')}  {message}\n")

    def append_metrics(self, record: dict[str, Any]) -> None:
        """Append one JSON line to metrics.jsonl (rank 0); a failed write raises `OutputError`, earlier lines intact."""
        if self.main:
            append_text(self.path / "metrics.jsonl", json.dumps(record) + "\n")

    def read_metrics(self) -> list[dict[str, Any]]:
        return read_metrics(self.path)

    def keep_metrics_through(self, epoch: int) -> list[dict[str, Any]]:
        """Drop metric lines after `epoch` (left by an interrupted run) and return the rest."""
        kept = [r for r in self.read_metrics() if r.get("epoch", -1) <= epoch]
        if self.main:
            atomic_write(self.path / "metrics.jsonl", lambda tmp: tmp.write_text("".join(json.dumps(r) + "\n" for r in kept)))
        return kept

    def write_result(self, result: dict[str, Any]) -> Path:
        return write_json(self.path / "result.json", result)


def started(run_dir: str | Path) -> bool:
    """A run was started in `run_dir`: it holds the run's config.json."""
    return (Path(run_dir) / "config.json").exists()


def read_config(run_dir: str | Path) -> dict[str, Any]:
    """The configuration a run in `run_dir` was started with (its config.json)."""
    return json.loads((Path(run_dir) / "config.json").read_text())


def _plain_changes(run_dir: Path, config: dict[str, Any]) -> list[str]:
    """Every field on which `config` and the run's saved config.json differ, one line each."""
    saved = read_config(run_dir)
    return [f"{k}: {saved.get(k)!r} != {config.get(k)!r}" for k in sorted(set(saved) | set(config))
            if saved.get(k) != config.get(k)]


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """The per-epoch records of a run (`metrics.jsonl`); empty when there are none yet."""
    p = Path(run_dir) / "metrics.jsonl"
    return [json.loads(ln) for ln in p.read_text().splitlines() if ln.strip()] if p.exists() else []


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """torch.save to a temporary file, then rename: a crash never leaves a half-written checkpoint; a failed write
    (full disk, no rights) raises `OutputError` with the previous checkpoint intact."""
    atomic_torch_save(state, path)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load a checkpoint with `weights_only=True` (tensors and plain containers only; no code runs)."""
    if not path.exists():
        raise ConfigError(f"checkpoint not found: {path}")
    return safe_load(path, "checkpoint")
