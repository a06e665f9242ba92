"""The project as a stranger meets it: first-run side effects of dependencies never reach a notebook or fail the
book, a copy the book would reject is never reused, the pipeline shows live progress, and the published pages show
no path of the machine that built them. The last test runs the whole smoke pipeline and the book build with an
empty home, caches and matplotlib folder, as on a machine that never ran the project."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from pand_core.book.firstrun import FIRST_RUN_NOISE, is_first_run_noise, scrub_first_run_noise, warm_caches
from pand_core.infra.errors import PipelineError
from pand_core.book.build import rejected_pages
from pand_core.book.executed import stderr_cells
from pand_core.book.execute import NotebookJob, board_line, run_notebook, run_notebooks, status_files
from pand_core.infra.progress import PROGRESS_FILE_ENV, Progress, format_status, read_status
from pand_core.infra.paths import display_path

REPO = Path(__file__).resolve().parents[1]
FONT_CACHE_LINE = "Matplotlib is building the font cache; this may take a moment."


def _stderr(text: str) -> dict:
    return nbformat.v4.new_output("stream", name="stderr", text=text)


# ------------------------------------------------------------------------------------------ pure parts
def test_first_run_noise_is_removed_and_nothing_else():
    assert is_first_run_noise(FONT_CACHE_LINE + "\n") and not is_first_run_noise("UserWarning: " + FONT_CACHE_LINE)
    nb = nbformat.v4.new_notebook()
    only_noise = nbformat.v4.new_code_cell("a", outputs=[_stderr(FONT_CACHE_LINE + "\n"),
                                                         nbformat.v4.new_output("stream", name="stdout", text="ok\n")])
    mixed = nbformat.v4.new_code_cell("b", outputs=[_stderr(FONT_CACHE_LINE + "\nUserWarning: real\n")])
    nb.cells = [only_noise, mixed]
    assert scrub_first_run_noise(nb) == [FONT_CACHE_LINE, FONT_CACHE_LINE]
    assert only_noise.outputs == [nbformat.v4.new_output("stream", name="stdout", text="ok\n")]  # stdout untouched
    assert stderr_cells(nb) == [(1, "UserWarning: real\n")]  # a real warning stays and still counts
    assert scrub_first_run_noise(nb) == []  # idempotent
    assert all(isinstance(reason, str) and reason for _, reason in FIRST_RUN_NOISE)


def test_rejected_pages_reads_the_book_builds_complaints():
    out = ("/x/runs/book-src/notebooks/00_quickstart.ipynb: WARNING: stderr was found in the cell outputs of cell 5 "
           "[mystnb.stderr]\n/x/runs/book-src/book/intro.md:3: WARNING: a chapter warning\n"
           "/x/runs/book-src/notebooks/03_distillation.ipynb:12: ERROR: Unknown directive type\n")
    assert rejected_pages(out) == {"00_quickstart": "stderr was found in the cell outputs of cell 5 [mystnb.stderr]",
                                   "03_distillation": "Unknown directive type"}
    assert rejected_pages("build succeeded") == {}


def test_progress_reports_open_loops_to_the_status_file(tmp_path, monkeypatch):
    status = tmp_path / "status.json"
    monkeypatch.setenv(PROGRESS_FILE_ENV, str(status))
    seen = []
    outer = Progress(range(3), "epochs", progress=False)
    for epoch in outer:
        for _ in Progress(range(2), "batches", progress=False):
            seen.append(read_status(status))
        outer.set_postfix(loss=1.0)  # the bar's own methods still work
    assert seen[0] == [{"desc": "epochs", "n": 0, "total": 3}, {"desc": "batches", "n": 0, "total": 2}]
    assert read_status(status) == []  # every loop closed
    assert format_status("00_quickstart smoke", 5, 9, [{"desc": "epochs", "n": 3, "total": 8}], 102.4) == \
        "00_quickstart smoke · cell 5/9 · epochs 3/8 · 1:42"
    assert format_status("x", None, None, [{"desc": "a", "n": 1, "total": None}] * 3, 5) == "x · a 1 · a 1 · 0:05"
    assert read_status(tmp_path / "absent.json") == []


def test_display_path_hides_the_machines_folders(tmp_path, monkeypatch):
    monkeypatch.setenv("PAND_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("PAND_CACHE", str(tmp_path / "cache"))
    assert display_path(tmp_path / "runs" / "smoke" / "cub" / "a.pt") == "$PAND_RUNS/smoke/cub/a.pt"
    assert display_path(f"dir:{tmp_path}/cache/teachers/t") == "dir:$PAND_CACHE/teachers/t"
    from pand_core.miniature.artifacts import WEIGHTS_DIR

    assert display_path(f"dir:{WEIGHTS_DIR}/pand-mini-clip") == "dir:pand_core/miniature/weights/pand-mini-clip"
    assert display_path("tag:laion2b_s34b_b82k_augreg_soup") == "tag:laion2b_s34b_b82k_augreg_soup"
    assert display_path("/somewhere/else/file.json") == "file.json"


def test_warm_caches_builds_matplotlibs_font_cache_in_a_fresh_folder(tmp_path):
    code = "from pand_core.book.firstrun import warm_caches; warm_caches(log=print)"
    env = dict(os.environ, MPLCONFIGDIR=str(tmp_path))
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert list(tmp_path.glob("fontlist-*.json")), "the font cache was not built"
    assert "building matplotlib's font cache" in proc.stdout and FONT_CACHE_LINE not in proc.stderr
    again = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert again.stdout == "" and again.stderr == ""  # warm: silent
    assert warm_caches()["matplotlib_font_cache"]


# ------------------------------------------------------------------------------- executing notebooks
def _toy_notebook(path: Path, body: str) -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("X = 0")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))
    return path


def test_a_first_run_message_cannot_reach_the_outputs(tmp_path, capsys):
    """The message matplotlib prints when its font cache build is slow, emitted deterministically the two ways it
    can reach a kernel's stderr (a logging warning with no handler configured, and a direct write)."""
    body = ("import logging, sys, time\n"
            f"logging.getLogger('matplotlib.font_manager').warning({FONT_CACHE_LINE!r})\n"
            f"sys.stderr.write({FONT_CACHE_LINE!r} + '\\n')\n"
            "from pand_core.infra.progress import Progress\n"
            "for _ in Progress(range(3), 'toy loop'):\n    time.sleep(0.6)\n"
            "print('result', X)")
    source = _toy_notebook(tmp_path / "toy.ipynb", body)
    job = NotebookJob("toy", "t", {"X": 7})
    run_notebook(job, tmp_path, strict=True, live=True, source=source)
    nb = nbformat.read(str(job.output(tmp_path)), as_version=4)
    assert stderr_cells(nb) == []
    assert "result 7" in "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    live = capsys.readouterr().out
    assert "toy t · cell " in live and "toy loop" in live  # the live line shows the cell and the kernel's loop
    assert not list(tmp_path.glob("notebooks/.*progress*"))  # the status file is gone afterwards


def test_a_real_warning_stops_a_book_run_and_is_never_reused(tmp_path):
    source = _toy_notebook(tmp_path / "toy.ipynb", "import warnings\nwarnings.warn('something real')")
    job = NotebookJob("toy", "t", {})
    with pytest.raises(PipelineError, match=r"wrote to stderr: .*something real[\s\S]*rerun the pipeline"):
        run_notebook(job, tmp_path, strict=True, live=False, source=source)
    assert not job.output(tmp_path).exists() and job.output(tmp_path).with_name("toy-t.rejected.ipynb").exists()
    run_notebook(job, tmp_path, strict=False, live=False, source=source)  # without the book: kept, but not fit for it
    assert stderr_cells(nbformat.read(str(job.output(tmp_path)), as_version=4))


def test_a_kernel_that_dies_leaves_nothing_that_looks_done(tmp_path):
    source = _toy_notebook(tmp_path / "toy.ipynb", "import os\nos._exit(1)")
    job = NotebookJob("toy", "t", {})
    with pytest.raises(PipelineError, match=r"kernel stopped in cell 2 of 2[\s\S]*rerunning the pipeline continues"):
        run_notebook(job, tmp_path, strict=True, live=False, source=source)
    assert not job.output(tmp_path).exists() and not job.done(tmp_path)
    assert job.output(tmp_path).with_name("toy-t.failed.ipynb").exists()


@pytest.mark.slow
def test_notebooks_run_two_at_a_time_and_a_failure_starts_nothing_new(tmp_path, capsys):
    """`run_notebooks` with two workers: a failure is raised once the notebook beside it finished (kept), and the
    one after it never starts; a rerun runs the rest. Each ran in its own process and left no request files; on a
    terminal one line showed the notebooks running, their cells and times."""
    ok = _toy_notebook(tmp_path / "ok.ipynb", "import time\ntime.sleep(4)\nprint('done', X)")
    bad = _toy_notebook(tmp_path / "bad.ipynb", "raise ValueError('broken on purpose')")
    a, b, c = (NotebookJob("ok", "a", {"X": 1}, path=ok), NotebookJob("bad", "t", {}, path=bad),
               NotebookJob("ok", "c", {"X": 3}, path=ok))
    log = []
    with pytest.raises(PipelineError, match=r"bad.ipynb \(t\) failed in cell .*ValueError: broken on purpose"):
        run_notebooks([("a", a), ("b", b), ("c", c)], tmp_path, workers=2, live=True, log=log.append)
    line = capsys.readouterr().out
    assert "\r\x1b[2Ka · 0:00  |  b · 0:00" in line  # both starting
    assert "\r\x1b[2Ka · cell 3/3 · 0:0" in line and line.endswith("\r\x1b[2K")  # then a alone; cleared at the end
    assert a.output(tmp_path).exists() and not c.output(tmp_path).exists()
    assert log[:2] == ["a: running ...", "b: running ..."] and "c: running ..." not in log
    assert "b: failed (waiting for the notebooks still running)" in log
    seconds = run_notebooks([("c", c)], tmp_path, workers=2, live=False, log=log.append)
    assert set(seconds) == {"c"} and seconds["c"] > 4
    out = nbformat.read(str(c.output(tmp_path)), as_version=4)
    assert "done 3" in "".join(o.get("text", "") for cell in out.cells for o in cell.get("outputs", []))
    leftovers = [p.name for p in (tmp_path / "notebooks").iterdir() if p.name.startswith(".")]
    assert leftovers == [], leftovers


def test_the_line_for_notebooks_running_at_once(tmp_path):
    job = NotebookJob("toy", "t", {})
    status, cell = status_files(job, tmp_path)
    status.parent.mkdir(parents=True)
    cell.write_text("2 5")
    status.write_text(json.dumps({"tasks": [{"desc": "Stage 1", "n": 1, "total": 1},
                                            {"desc": "Stage 2 (epochs)", "n": 3, "total": 20}]}))
    other = NotebookJob("other", "", {})
    line = board_line({"[1/7] toy": (job, 100.0), "[2/7] other": (other, 130.0)}, tmp_path, now=165.0)
    assert line == "[1/7] toy · cell 2/5 · Stage 2 (epochs) 3/20 · 1:05  |  [2/7] other · 0:35"


# ------------------------------------------------------------------------------------- the stranger
def _stranger_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PAND_", "JUPYTER", "IPYTHON", "MPL", "XDG_", "NUMBA_", "TORCH_", "HF_"))}
    for name in ("HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "MPLCONFIGDIR", "PAND_CACHE"):
        (tmp_path / name.lower()).mkdir()
        env[name] = str(tmp_path / name.lower())
    return env


@pytest.mark.slow
def test_smoke_pipeline_and_book_on_a_machine_that_never_ran_the_project(tmp_path):
    """`make smoke`'s command with an empty home, caches, matplotlib folder and $PAND_CACHE (the miniature world is
    drawn from nothing; the teacher and student are the shipped ones, and nothing is pretrained: no teacher or
    student folder appears in the cache). Two paired seeds (the results page's intervals need two) and three methods
    instead of the default three seeds and seven: `ce` (labels only), `vl2lite` (the teacher's bank and PAND's
    optimiser) and `pand` (Stage 1's anchors and NLRD) reach every cache and first-run path the others do, and
    what a fresh machine changes does not depend on how many runs take those paths. Resuming after a deleted or
    rejected copy is `test_pipeline.py`'s end-to-end test."""
    env = _stranger_env(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    methods = ["ce", "vl2lite", "pand"]
    cmd = [sys.executable, "-m", "pand_core.pipeline", "--profile", "smoke", "--seeds", "0", "1", "--methods",
           *methods, "--runs", "runs", "--book", "--html", "html"]
    first = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=3600)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-4000:]
    assert list(Path(env["MPLCONFIGDIR"]).glob("fontlist-*.json"))  # warmed by the pipeline, before any kernel
    cache = Path(env["PAND_CACHE"])
    assert not (cache / "students").exists() and not list((cache / "teachers").glob("pand-mini-clip*"))
    executed = sorted((work / "runs" / "notebooks").glob("*.ipynb"))
    assert len(executed) == 7 and not [p for p in executed if ".rejected" in p.name or ".failed" in p.name]
    summary = json.loads((work / "runs" / "smoke" / "cub" / "summary.json").read_text())  # the 2-seed study
    assert {m: v["seeds"] for m, v in summary["methods"].items()} == {m: [0, 1] for m in methods}
    for path in executed:
        assert stderr_cells(nbformat.read(str(path), as_version=4)) == [], path.name

    pages = [p for p in (work / "html").rglob("*") if p.suffix in (".html", ".ipynb", ".txt", ".js") and p.is_file()]
    assert len([p for p in pages if p.suffix == ".html"]) >= 12
    private = [str(tmp_path), str(REPO), env["HOME"], "tag_injected-parameters"]
    for page in pages:
        text = page.read_text(errors="replace")
        leaks = [p for p in private if p in text]
        assert not leaks, f"{page.relative_to(work)} shows {leaks}"
        if page.suffix == ".html":
            assert "Traceback" not in text and "it/s]" not in text, page.name

    assert "\x1b[2K" not in first.stdout  # no live status line when not on a terminal
