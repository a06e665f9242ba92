"""Progress of long loops: a tqdm bar on a terminal, and a small status file that the pipeline reads.

`progress(iterable, desc)` draws a tqdm bar only where `progress_enabled()` says so (a terminal, or
`$PAND_PROGRESS=1`), so executed notebooks and CI logs stay clean. When `$PAND_PROGRESS_FILE` is set — the pipeline
sets it for each notebook's kernel, whose output is not a terminal — the loops that are open and their counts are
also written to that file (at most twice a second), so the pipeline can show on its own terminal which epoch a
notebook has reached.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Iterable, Iterator

from tqdm.auto import tqdm

PROGRESS_FILE_ENV = "PAND_PROGRESS_FILE"
_WRITE_EVERY_S = 0.5


def progress_enabled(flag: bool | None = None) -> bool:
    """Whether to draw progress bars: `flag` if given, else `$PAND_PROGRESS` (1/0), else only on a terminal.

    Executed notebooks (papermill, nbmake, the book build) are not terminals, so their outputs stay clean.
    """
    if flag is not None:
        return flag
    env = os.environ.get("PAND_PROGRESS")
    if env is not None:
        return env.strip().lower() not in ("0", "false", "no", "")
    return sys.stderr.isatty()


class Progress:
    """Iterate `iterable` with a tqdm bar (drawn only where `progress_enabled(progress)`) and report the count of
    finished items to `$PAND_PROGRESS_FILE` when it is set. Other attributes (`set_postfix`, ...) are the bar's."""

    def __init__(self, iterable: Iterable, desc: str, total: int | None = None, progress: bool | None = None,
                 report: bool = True, **tqdm_kwargs: Any) -> None:
        self.desc = desc
        self.total = total if total is not None else (len(iterable) if hasattr(iterable, "__len__") else None)
        self.n = 0
        self.report = report
        self.bar = tqdm(iterable, desc=desc, total=total, disable=not progress_enabled(progress), **tqdm_kwargs)

    def __iter__(self) -> Iterator:
        if self.report:
            _OPEN.append(self)
            _write_status(force=True)
        try:
            for item in self.bar:
                yield item
                self.n += 1
                if self.report:
                    _write_status()
        finally:
            if self.report:
                _OPEN.remove(self)
                _write_status(force=True)

    def __len__(self) -> int:
        return len(self.bar)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.bar, name)


def progress(iterable: Iterable, desc: str, total: int | None = None, progress: bool | None = None,
             report: bool = True, **tqdm_kwargs: Any) -> Progress:
    """A `Progress` over `iterable` (see the class)."""
    return Progress(iterable, desc, total=total, progress=progress, report=report, **tqdm_kwargs)


_OPEN: list[Progress] = []  # the loops open in this process, outermost first
_last_write = 0.0


def _write_status(force: bool = False) -> None:
    """Write the open loops to `$PAND_PROGRESS_FILE` (atomically; best effort: progress never fails a run)."""
    global _last_write
    path = os.environ.get(PROGRESS_FILE_ENV)
    now = time.monotonic()
    if not path or (not force and now - _last_write < _WRITE_EVERY_S):
        return
    _last_write = now
    payload = {"tasks": [{"desc": p.desc, "n": p.n, "total": p.total} for p in _OPEN], "time": time.time()}
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        Path(tmp).write_text(json.dumps(payload))
        os.replace(tmp, path)
    except OSError:
        pass


def read_status(path: str | Path) -> list[dict]:
    """The open loops that a process wrote to `path` (outermost first); [] when there is none or it is unreadable."""
    try:
        return list(json.loads(Path(path).read_text()).get("tasks", []))
    except (OSError, ValueError, AttributeError):
        return []


def format_status(name: str, cell: int | None, cells: int | None, tasks: list[dict], elapsed_s: float) -> str:
    """One status line: `name · cell 5/9 · pretraining the miniature teacher 3/8 · 1:42` (the innermost two loops)."""
    parts = [name]
    if cell is not None and cells:
        parts.append(f"cell {cell}/{cells}")
    for t in tasks[-2:]:
        parts.append(f"{t['desc']} {t['n']}/{t['total']}" if t.get("total") else f"{t['desc']} {t['n']}")
    minutes, seconds = divmod(int(elapsed_s), 60)
    parts.append(f"{minutes}:{seconds:02d}")
    return " · ".join(parts)
