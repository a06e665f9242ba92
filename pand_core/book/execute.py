"""Executing the book's notebooks: one with papermill (`run_notebook`), or several at once, each in its own process
(`run_notebooks`), with one live line on a terminal for what is running.

Each notebook executes into `<name>.running.ipynb` and takes its final name only when it finished and was accepted.
Several at once run as `python -m pand_core.book.execute JOB.json` processes, because papermill changes the
process's working folder and the kernel learns its progress file from the environment: both are one per process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from ..infra.errors import PipelineError
from ..infra.progress import PROGRESS_FILE_ENV, format_status, progress_enabled, read_status
from .executed import SOURCE_KEY, review, set_aside, source_digest, stamp_source, stderr_summary

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOK_WORKERS = 2  # notebooks executed at once after the runs: mostly one busy core each (imports, plots)


@dataclass
class NotebookJob:
    """One execution of a notebook: which, with what parameters, and how to tell that it finished before.

    Args:
        notebook: Its stem in notebooks/ (the executed copy's name starts with it).
        tag: Distinguishes parameter sets in the executed copy's name ("" for none).
        params: The parameters-cell names papermill sets.
        marker: A file the stage writes when it finished (its run's result.json); None: none.
        always: Execute it on every run (the cheap summary pages).
        path: The notebook to execute; None: notebooks/<notebook>.ipynb.
    """

    notebook: str
    tag: str
    params: dict
    marker: Path | None = None
    always: bool = False
    path: Path | None = None

    def title(self) -> str:
        """`notebook.ipynb (tag)` as messages name it."""
        return f"{self.notebook}.ipynb" + (f" ({self.tag})" if self.tag else "")

    def output(self, out: Path) -> Path:
        return out / "notebooks" / f"{self.notebook}{'-' + self.tag if self.tag else ''}.ipynb"

    def source(self) -> Path:
        return self.path or NOTEBOOK_DIR / f"{self.notebook}.ipynb"

    def done(self, out: Path) -> bool:
        """Finished before: its executed copy and (if any) its marker exist, and the copy was made from the notebook
        as it is now (`is_current`). Whether the copy is acceptable is `review`'s question.

        Args:
            out: The runs folder (executed copies in `out/notebooks`).
        """
        if self.always or not self.output(out).exists():
            return False
        return (self.marker is None or self.marker.exists()) and self.is_current(out)

    def is_current(self, out: Path) -> bool:
        """Its executed copy records the digest of the notebook it ran (`SOURCE_KEY`), and that notebook is unchanged
        since; a copy made before digests were recorded counts as out of date.

        Args:
            out: The runs folder (executed copies in `out/notebooks`).
        """
        try:
            recorded = json.loads(self.output(out).read_text()).get("metadata", {}).get(SOURCE_KEY)
        except (OSError, ValueError):
            return False
        return recorded == source_digest(self.source())



class LiveStatus:
    """While a notebook runs: one line on a terminal with the stage, the cell, the kernel's open loops (read from
    its `$PAND_PROGRESS_FILE`) and the time so far, redrawn twice a second. `enabled=None`: on when the stream is a
    terminal (or `$PAND_PROGRESS=1`), so logs and pipes get only the pipeline's one line per stage."""

    def __init__(self, name: str, status_file: Path, enabled: bool | None = None, stream=None,
                 cell_file: Path | None = None) -> None:
        self.stream = stream or sys.stdout
        self.cell_file = cell_file  # where the cell being executed is written for a parent's line (`run_notebooks`)
        if enabled is None:
            enabled = progress_enabled() if "PAND_PROGRESS" in os.environ else self.stream.isatty()
        self.name, self.status_file, self.enabled = name, status_file, enabled
        self.cell: int | None = None
        self.cells: int | None = None
        self._code: list[int] = []
        self._t0 = time.perf_counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    # nbclient hooks (papermill passes them to its notebook client)
    def on_notebook_start(self, notebook, **_) -> None:
        self._code = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code"]
        self.cells = len(self._code)

    def on_cell_execute(self, cell_index: int, **_) -> None:
        self.cell = self._code.index(cell_index) + 1 if cell_index in self._code else None
        if self.cell_file is not None and self.cell is not None:
            try:
                self.cell_file.write_text(f"{self.cell} {self.cells}")
            except OSError:
                pass  # the line is a courtesy; the notebook goes on

    def line(self) -> str:
        return format_status(self.name, self.cell, self.cells, read_status(self.status_file),
                             time.perf_counter() - self._t0)

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            width = shutil.get_terminal_size((100, 20)).columns - 1
            self.stream.write("\r\x1b[2K" + self.line()[:width])
            self.stream.flush()

    def __enter__(self) -> "LiveStatus":
        if self.enabled:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> bool:
        if self.enabled:
            self._stop.set()
            self._thread.join()
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
        self.status_file.unlink(missing_ok=True)
        if self.cell_file is not None:
            self.cell_file.unlink(missing_ok=True)
        return False


@contextmanager
def _kernel_transport():
    """The kernel manager's config: on POSIX, the kernel's sockets are files in a fresh temporary folder (ZeroMQ's
    `ipc` transport), so kernels started at the same moment by two processes cannot pick the same TCP port; a short
    folder, since a socket's path is limited to about 100 characters. Elsewhere TCP, as Jupyter's default."""
    from traitlets.config import Config

    if os.name != "posix":
        yield Config()
        return
    folder = tempfile.mkdtemp(prefix="pand-kernel-")
    try:
        yield Config({"KernelManager": {"transport": "ipc", "ip": os.path.join(folder, "k")}})
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def status_files(job: NotebookJob, out: Path) -> tuple[Path, Path]:
    """(the file the kernel reports its open loops to, the file the cell being executed is written to)."""
    target = job.output(out)
    return target.parent / f".{target.stem}.progress.json", target.parent / f".{target.stem}.cell"


def run_notebook(job: NotebookJob, out: Path, strict: bool = True, live: bool | None = None, source: Path | None = None,
                 label: str | None = None, share_cell: bool = False) -> float:
    """Execute one notebook with papermill (cwd = notebooks/, kernel python3), then review its copy; return the
    wall time. The notebook executes into `<name>.running.ipynb` and takes its final name only when it finished and
    was accepted, so an interrupted or failed execution never looks done.

    Args:
        job: The notebook and its parameters.
        out: The runs folder (the copy goes to `job.output(out)`).
        strict: The book will be built: a copy with stderr output stops the pipeline and is set aside.
        live: Force the terminal status line on or off; None: only on a terminal.
        source: The notebook to execute instead of `job.source()` (tests).
        label: Names the stage on the status line; None: notebook and tag.
        share_cell: Write the cell being executed to `status_files(job, out)[1]`, for a parent process's line.
    """
    import papermill as pm
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    target = job.output(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.stem}.running.ipynb")
    name = label or f"{job.notebook} {job.tag}".strip()
    status_file, cell_file = status_files(job, out)
    previous = os.environ.get(PROGRESS_FILE_ENV)
    os.environ[PROGRESS_FILE_ENV] = str(status_file)  # the kernel inherits it and reports its loops there
    t0 = time.perf_counter()
    try:
        with LiveStatus(name, status_file, live, cell_file=cell_file if share_cell else None) as status, \
                _kernel_transport() as config:
            pm.execute_notebook(str(source or job.source()), str(partial),
                                parameters=job.params, kernel_name="python3", cwd=str(NOTEBOOK_DIR),
                                progress_bar=False, log_output=False, on_notebook_start=status.on_notebook_start,
                                on_cell_execute=status.on_cell_execute, config=config,
                                # the kernel's own log: errors only (not its notice that local kernels talk over TCP)
                                extra_arguments=["--IPKernelApp.log_level=ERROR"])
    except PapermillExecutionError as e:
        failed = set_aside(partial, "failed", target) if partial.exists() else partial
        raise PipelineError(
            f"notebook {job.title()} failed in cell {e.exec_count} (index {e.cell_index}): "
            f"{e.ename}: {e.evalue}\nThe executed copy with the traceback is {failed}; everything computed before "
            "is kept, and rerunning the pipeline continues from this stage."
        ) from None
    except (DeadKernelError, CellTimeoutError) as e:
        failed = set_aside(partial, "failed", target) if partial.exists() else partial
        cell = f" in cell {status.cell} of {status.cells}" if status.cell else ""
        raise PipelineError(
            f"notebook {job.title()}: its kernel stopped{cell} ({type(e).__name__}: "
            f"{str(e).strip().splitlines()[0] if str(e).strip() else 'no message'}) — out of memory, killed, or over the "
            f"time limit. The partial copy is {failed}; everything computed before is kept, and rerunning the "
            "pipeline continues from this stage."
        ) from None
    finally:
        if previous is None:
            os.environ.pop(PROGRESS_FILE_ENV, None)
        else:
            os.environ[PROGRESS_FILE_ENV] = previous
    seconds = time.perf_counter() - t0
    problems = review(partial)
    if problems and strict:
        aside = set_aside(partial, "rejected", target)
        raise PipelineError(
            f"notebook {job.title()} ran, but {stderr_summary(problems)}. The book is built with "
            f"warnings as errors and would reject it. Its executed copy is kept as {aside} and does not count as "
            "done: fix the cause and rerun the pipeline, which executes it again (everything else is kept)."
        )
    stamp_source(partial, source or job.source())
    partial.replace(target)
    return seconds


# ---------------------------------------------------------------------------------------- several at once
def _read_cell(path: Path) -> tuple[int | None, int | None]:
    try:
        cell, cells = path.read_text().split()
        return int(cell), int(cells)
    except (OSError, ValueError):
        return None, None


def board_line(running: dict[str, tuple[NotebookJob, float]], out: Path, now: float | None = None) -> str:
    """One line for the notebooks running at once: each one's name, cell, innermost loop and time so far.

    Args:
        running: Label -> (its job, when it started: `time.perf_counter()`).
        out: The runs folder (where their status files are).
        now: The time to measure against; None: now.
    """
    now = time.perf_counter() if now is None else now
    parts = []
    for label, (job, t0) in running.items():
        status_file, cell_file = status_files(job, out)
        cell, cells = _read_cell(cell_file)
        parts.append(format_status(label, cell, cells, read_status(status_file)[-1:], now - t0))
    return "  |  ".join(parts)


class _Worker:
    """One notebook executing in its own process (`python -m pand_core.book.execute JOB.json`)."""

    def __init__(self, label: str, job: NotebookJob, out: Path, strict: bool, threads: int) -> None:
        self.label, self.job, self.t0 = label, job, time.perf_counter()
        target = job.output(out)
        target.parent.mkdir(parents=True, exist_ok=True)
        self.request = target.parent / f".{target.stem}.job.json"
        self.reply = target.parent / f".{target.stem}.reply.json"
        self.log = target.parent / f".{target.stem}.runner.log"
        self.reply.unlink(missing_ok=True)
        paths = {k: str(v) if v is not None else None for k, v in (("marker", job.marker), ("path", job.path))}
        self.request.write_text(json.dumps({"job": {**asdict(job), **paths},
                                            "out": str(out), "strict": strict, "label": label,
                                            "reply": str(self.reply)}))
        env = dict(os.environ)
        env.setdefault("OMP_NUM_THREADS", str(threads))  # the kernel's torch and scikit-learn share the cores
        with open(self.log, "w") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "pand_core.book.execute", str(self.request)],
                                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)

    def result(self) -> float:
        """The notebook's wall time; its `PipelineError` (or what stopped the process) raised here."""
        try:
            reply = json.loads(self.reply.read_text())
        except (OSError, ValueError):
            tail = self.log.read_text(errors="replace").strip().splitlines()[-12:] if self.log.exists() else []
            raise PipelineError(f"notebook {self.job.title()}: its process stopped (exit status "
                                f"{self.process.returncode}) without a result; the last lines of its log "
                                f"({self.log}):\n" + "\n".join(tail)
                                + "\nEverything computed before is kept; rerunning the pipeline continues.") from None
        finally:
            for f in (self.request, self.reply):
                f.unlink(missing_ok=True)
        self.log.unlink(missing_ok=True)  # the reply says what happened
        if "error" in reply:
            raise PipelineError(reply["error"])
        return float(reply["seconds"])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def run_notebooks(jobs: list[tuple[str, NotebookJob]], out: Path, workers: int = NOTEBOOK_WORKERS, strict: bool = True,
                  live: bool | None = None, log: Callable[[str], None] = print) -> dict[str, float]:
    """Execute `jobs` (label, job), `workers` at a time, in their order; return label -> wall time. One worker: in
    this process (`run_notebook`); more: each notebook in its own process, with its share of the cores
    (`OMP_NUM_THREADS`, unless set). After a failure no further notebook starts, those running finish, and the first failure's `PipelineError` is raised: everything else is kept.

    Args:
        jobs: (label for the log and the line, job) in the order they should start (longest first is fastest).
        out: The runs folder.
        workers: How many notebooks execute at once.
        strict: The book will be built: a copy with stderr output stops the run (`run_notebook`).
        live: Force the terminal line on or off; None: only on a terminal.
        log: Receives one line when a notebook starts and one when it ends.
    """
    seconds: dict[str, float] = {}
    if workers <= 1 or len(jobs) <= 1:
        for label, job in jobs:
            log(f"{label}: running ...")
            seconds[label] = run_notebook(job, out, strict=strict, live=live, label=label)
            log(f"{label}: {seconds[label]:.1f} s")
        return seconds
    # Each kernel gets its share of the cores (unless OMP_NUM_THREADS is set): two kernels that each spin a thread per
    # core on the same cores slow each other down several times over.
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    threads = max(1, cores // workers)
    stream = sys.stdout
    enabled = (progress_enabled() if "PAND_PROGRESS" in os.environ else stream.isatty()) if live is None else live
    pending, running, error = list(jobs), [], None
    drawn = 0.0
    try:
        while pending or running:
            while pending and len(running) < workers and error is None:
                label, job = pending.pop(0)
                log(f"{label}: running ...")
                running.append(_Worker(label, job, out, strict, threads))
            time.sleep(0.1)
            for w in [w for w in running if w.process.poll() is not None]:
                running.remove(w)
                if enabled:
                    stream.write("\r\x1b[2K")
                try:
                    seconds[w.label] = w.result()
                    log(f"{w.label}: {seconds[w.label]:.1f} s")
                except PipelineError as e:
                    log(f"{w.label}: failed" + (" (waiting for the notebooks still running)" if running else ""))
                    error = error or e
            if error is not None:
                pending.clear()
            if enabled and running and time.perf_counter() - drawn >= 0.5:
                drawn = time.perf_counter()
                width = shutil.get_terminal_size((100, 20)).columns - 1
                line = board_line({w.label: (w.job, w.t0) for w in running}, out)
                stream.write("\r\x1b[2K" + line[:width])
                stream.flush()
    finally:
        for w in running:
            w.stop()
        if enabled:
            stream.write("\r\x1b[2K")
            stream.flush()
    if error is not None:
        raise error
    return seconds


def _worker_main(request: Path) -> int:
    """A worker process of `run_notebooks`: run the one notebook `request` describes; reply with its time or error."""
    spec = json.loads(request.read_text())
    fields = {**spec["job"], **{k: Path(spec["job"][k]) for k in ("marker", "path") if spec["job"][k]}}
    try:
        seconds = run_notebook(NotebookJob(**fields), Path(spec["out"]), strict=spec["strict"], live=False,
                               label=spec["label"], share_cell=True)
        reply = {"seconds": seconds}
    except PipelineError as e:
        reply = {"error": str(e)}
    Path(spec["reply"]).write_text(json.dumps(reply))
    return 0


if __name__ == "__main__":
    sys.exit(_worker_main(Path(sys.argv[1])))

