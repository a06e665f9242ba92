"""Building the Jupyter Book from the pipeline's executed notebooks: the book's sources staged without this machine's
paths, `jupyter-book build` with warnings as errors, and each page the build rejects set aside to run again."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from ..infra.errors import PipelineError
from .executed import review, set_aside, stderr_summary

BOOK_NOTEBOOKS = ("00_quickstart", "01_prompt_calibration", "02_neighborhood_graph", "03_distillation",
                  "06_your_own_data", "04_results", "05_costs")


_BOOK_REJECT = re.compile(r"notebooks/(?P<stem>[\w.-]+)\.ipynb(?::\d+)?: (?:WARNING|ERROR|CRITICAL): (?P<what>.*)")


def rejected_pages(build_output: str) -> dict[str, str]:
    """Notebook stem -> first complaint, for every executed notebook that a book build's output names in a warning
    or error (e.g. `.../notebooks/00_quickstart.ipynb: WARNING: stderr was found in the cell outputs of cell 5`).

    Args:
        build_output: What `jupyter-book build` printed (stdout and stderr).
    """
    found: dict[str, str] = {}
    for m in _BOOK_REJECT.finditer(build_output):
        found.setdefault(m["stem"], m["what"].strip())
    return found


def _book_copy(nb_path: Path, dest: Path) -> None:
    """Copy an executed notebook into the book's sources without papermill's injected-parameters cell and the paths
    papermill records in the metadata: both hold this machine's folders (the executed copy itself keeps them)."""
    import nbformat

    nb = nbformat.read(str(nb_path), as_version=4)
    nb.cells = [c for c in nb.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    for key in ("input_path", "output_path", "parameters"):
        nb.metadata.get("papermill", {}).pop(key, None)
    nbformat.write(nb, str(dest))


def build_book(copies: dict[str, Path], staging: Path, repo: Path, html_out: Path, strict: bool = True) -> Path:
    """Build the Jupyter Book from executed notebooks (no re-execution) into `html_out`.

    A copy the build rejects (a warning or error that names it) is set aside as `<name>.rejected.ipynb`, so the
    next pipeline run executes it again instead of reusing it; a missing copy or a failed build raises
    `PipelineError`. Returns `html_out`.

    Args:
        copies: Notebook stem -> its executed copy, for every page of `BOOK_NOTEBOOKS` (`pipeline.Plan.executed_copies`).
        staging: The folder the book's sources are staged in (replaced).
        repo: The repository's root: `book/`, `studies/`, `_toc.yml`, `_config.yml`, `_static/` and `_ext/`.
        html_out: The folder the built HTML is copied to (an existing one is replaced).
        strict: Review each executed copy first (one that wrote to stderr is set aside, `PipelineError`) and build
            with warnings as errors (`-W --keep-going`); False: neither.
    """
    import yaml

    stage = staging
    if stage.exists():
        shutil.rmtree(stage)
    shutil.copytree(repo / "book", stage / "book")
    shutil.copytree(repo / "studies", stage / "studies",  # measured tables and the pre-registration the pages include
                    ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    shutil.copy(repo / "_toc.yml", stage / "_toc.yml")
    for own in ("_static", "_ext"):  # the book's CSS (tables.css) and its local Sphinx extension (provenance folding)
        if (repo / own).is_dir():
            shutil.copytree(repo / own, stage / own, ignore=shutil.ignore_patterns("__pycache__"))
    cfg = yaml.safe_load((repo / "_config.yml").read_text())
    cfg.setdefault("execute", {})["execute_notebooks"] = "off"
    (stage / "_config.yml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    (stage / "notebooks").mkdir()
    for stem in BOOK_NOTEBOOKS:
        copy = copies.get(stem)
        if copy is None or not copy.exists():
            raise PipelineError(f"no executed copy of {stem}.ipynb to put in the book; run the pipeline first.")
        if strict and (problems := review(copy)):
            aside = set_aside(copy, "rejected")
            raise PipelineError(f"the executed copy of {stem}.ipynb is not fit for the book: {stderr_summary(problems)}. "
                                f"It was set aside as {aside}; rerunning the pipeline executes it again.")
        _book_copy(copy, stage / "notebooks" / f"{stem}.ipynb")
    exe = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(exe) if exe.exists() else (shutil.which("jupyter-book") or "jupyter-book"), "build", str(stage)] + (["-W", "--keep-going"] if strict else [])
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        rejected = {stem: what for stem, what in rejected_pages(proc.stdout + proc.stderr).items() if stem in copies}
        lines = []
        for stem, what in rejected.items():
            copy = copies[stem]
            if copy.exists():
                lines.append(f"  {stem}.ipynb: {what}\n    its executed copy was set aside as {set_aside(copy, 'rejected')}; "
                             "the next run executes it again")
        raise PipelineError(
            "the book build failed" + (":\n" + "\n".join(lines) + "\n" if lines else "") +
            f"\n--- jupyter-book output (end) ---\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    if html_out.exists():
        shutil.rmtree(html_out)
    shutil.copytree(stage / "_build" / "html", html_out)
    return html_out
