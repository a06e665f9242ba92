"""Dependencies' first-run side effects, kept out of notebook outputs.

Some libraries do one-time work the first time they run on a machine and say so on stderr: matplotlib builds its font
cache and prints "Matplotlib is building the font cache; this may take a moment." — but only when that takes over
five seconds, so whether it appears depends on how busy the machine is. Inside a notebook that line would be a
stderr output, which the book (built with warnings as errors) rejects.

Two defences, in this order:

1. `warm_caches()` does that work in the process that is about to start the notebook kernels (the pipeline,
   `make book`), with the same environment (`HOME`, `MPLCONFIGDIR`, ...) the kernels inherit. Warming at install
   time would not do: a user's environment at run time (CI, containers, a restarted Colab runtime, another
   `MPLCONFIGDIR`) need not be the one the install saw.
2. `scrub_first_run_noise(nb)` removes, from executed notebooks, exactly the known one-time messages listed in
   `FIRST_RUN_NOISE` (whole stderr lines, matched in full) — the deterministic guarantee for whatever the warm-up
   could not foresee. Every other stderr line stays and still fails the book: real warnings remain errors.

Run `python -m pand_core.book.firstrun` to warm the caches by hand.
"""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path

# (pattern matched against one whole stderr line, who prints it and when)
FIRST_RUN_NOISE: tuple[tuple[str, str], ...] = (
    (r"Matplotlib is building the font cache; this may take a moment\.",
     "matplotlib, once per MPLCONFIGDIR, when building its font list takes longer than 5 s"),
)
_NOISE = [re.compile(pattern) for pattern, _ in FIRST_RUN_NOISE]


def is_first_run_noise(line: str) -> bool:
    """Whether one stderr line is a known one-time message of a dependency (`FIRST_RUN_NOISE`).

    Args:
        line: One line of stderr output; surrounding white space is ignored.
    """
    return any(p.fullmatch(line.strip()) for p in _NOISE)


def scrub_first_run_noise(nb) -> list[str]:
    """Remove the lines of `FIRST_RUN_NOISE` from the stderr outputs of a notebook (nbformat node, in place);
    a stderr output left empty is dropped. Returns the removed lines.

    Args:
        nb: An executed notebook (`nbformat.read`), changed in place.
    """
    removed: list[str] = []
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                text = out.get("text", "")
                lines = ("".join(text) if isinstance(text, list) else text).splitlines(keepends=True)
                noise = [ln for ln in lines if is_first_run_noise(ln)]
                if noise:
                    removed += [ln.strip() for ln in noise]
                    rest = "".join(ln for ln in lines if not is_first_run_noise(ln))
                    if not rest.strip():
                        continue  # the output held nothing else: drop it
                    out["text"] = rest
            kept.append(out)
        cell["outputs"] = kept
    return removed


def warm_caches(log=None) -> dict[str, str]:
    """Build, in this process and environment, the caches whose first build prints to stderr: matplotlib's font
    cache (under `matplotlib.get_cachedir()`). Returns {cache: folder}.

    Args:
        log: Called with one line when the cache is built now; None: silent.
    """
    import matplotlib

    cache_dir = Path(matplotlib.get_cachedir())
    fresh = not any(cache_dir.glob("fontlist-*.json"))
    if fresh and log:
        log(f"first run here: building matplotlib's font cache in {cache_dir} (once) ...")
    fm_logger = logging.getLogger("matplotlib.font_manager")
    level = fm_logger.level
    fm_logger.setLevel(logging.ERROR)  # our own line above replaces its "this may take a moment"
    try:
        from matplotlib import font_manager

        font_manager.fontManager  # noqa: B018 (importing the module builds the cache when it is missing)
    finally:
        fm_logger.setLevel(level)
    return {"matplotlib_font_cache": str(cache_dir)}


def main(argv: list[str] | None = None, prog: str = "python -m pand_core.book.firstrun") -> int:
    """Warm the caches by hand (`pand warm-caches`); prints what it built."""
    import argparse

    argparse.ArgumentParser(prog=prog, description=warm_caches.__doc__.split(":")[0] + ".").parse_args(argv)
    for cache, folder in warm_caches(log=lambda line: print(line, file=sys.stdout)).items():
        print(f"{cache}: {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
