"""The executed copies of the book's notebooks: which notebook a copy was made from (a digest of its cells), whether
the book accepts it (no output on stderr once dependencies' first-run messages are removed), and setting aside one
that failed or was rejected so that the next run executes it again."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..infra.files import atomic_write
from .firstrun import scrub_first_run_noise

SOURCE_KEY = "pand_source_sha256"  # executed copy's metadata: the digest of the notebook it was made from


def source_digest(path: Path) -> str:
    """SHA-256 of a notebook's cells (their type and source, not outputs or metadata): an executed copy whose
    notebook's digest changed is out of date and runs again."""
    nb = json.loads(Path(path).read_text())
    h = hashlib.sha256()
    for cell in nb.get("cells", []):
        src = cell.get("source", "")
        h.update(f"{cell.get('cell_type', '')}\0{''.join(src) if isinstance(src, list) else src}\0".encode())
    return h.hexdigest()


def stamp_source(copy: Path, source: Path) -> None:
    """Record `source`'s digest in the metadata of the executed `copy` (still its `.running` name)."""
    nb = json.loads(copy.read_text())
    nb.setdefault("metadata", {})[SOURCE_KEY] = source_digest(source)
    copy.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def stderr_cells(nb) -> list[tuple[int, str]]:
    """(cell index, text) of every code cell with output on stderr — what the book's `-W` build rejects."""
    found = []
    for i, cell in enumerate(nb.cells):
        text = "".join("".join(o["text"]) if isinstance(o.get("text"), list) else o.get("text", "")
                       for o in cell.get("outputs", []) if o.get("output_type") == "stream" and o.get("name") == "stderr")
        if cell.get("cell_type") == "code" and text.strip():
            found.append((i, text))
    return found


def review(path: Path) -> list[tuple[int, str]]:
    """Remove dependencies' first-run messages from an executed copy (rewriting it if any were there) and return
    what stderr output is left; [] means the copy is accepted."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    if scrub_first_run_noise(nb):
        atomic_write(path, lambda tmp: nbformat.write(nb, str(tmp)))
    return stderr_cells(nb)


def set_aside(path: Path, kind: str, target: Path | None = None) -> Path:
    """Move an executed copy that must not count as done to `<stem of target>.<kind>.ipynb` (replacing an older one)."""
    target = target or path
    aside = target.with_name(f"{target.stem}.{kind}.ipynb")
    path.replace(aside)
    return aside


def stderr_summary(problems: list[tuple[int, str]]) -> str:
    cell, text = problems[0]
    first = text.strip().splitlines()[0][:200]
    more = f" (and {len(problems) - 1} more cell(s))" if len(problems) > 1 else ""
    return f"cell index {cell} wrote to stderr: {first!r}{more}"
