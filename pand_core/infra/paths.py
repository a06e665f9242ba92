"""The default runs and cache folders (`$PAND_RUNS`, `$PAND_CACHE`: read here, by `make_config` and the edges), and
paths as shared pages and logs show them (relative to the runs folder or the cache)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

# Measured figures the code and the costs page read (benchmark JSON written by benchmarks/*.py), shipped with the package
# so that `describe_accelerator()` and the costs page see them after a pip install too.
MEASURED_DIR = Path(__file__).resolve().parents[1] / "measured"


def default_cache() -> Path:
    """Cache folder for generated data and small models: `$PAND_CACHE`, else `~/.cache/pand`."""
    return Path(os.environ.get("PAND_CACHE", Path.home() / ".cache" / "pand")).expanduser()


def runs_root() -> Path:
    """Where runs go by default: `$PAND_RUNS`, else `runs/` in the working directory."""
    return Path(os.environ.get("PAND_RUNS", "runs"))


def recipe_key(spec) -> str:
    """8 hex digits of every field of a dataclass recipe: a cache folder named with it is never reused for a recipe
    that differs in any field, whether or not its version number was bumped.

    Args:
        spec: A dataclass instance (e.g. `PretrainSpec`).
    """
    payload = json.dumps(dataclasses.asdict(spec), sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:8]


def display_path(path: str | Path) -> str:
    """`path` as pages and shared logs show it: under the runs folder as `$PAND_RUNS/…`, under the cache as
    `$PAND_CACHE/…`, inside the installed package as `pand_core/…` (the shipped weights), else its name only —
    never an absolute path of the machine that ran it. A source label such as `dir:/abs/folder` keeps its prefix
    (`dir:$PAND_CACHE/teachers/…`).

    Args:
        path: A path, or a weights source label ("dir:…", "file:…", "tag:…").
    """
    text = str(path)
    prefix, sep, rest = text.partition(":")
    if sep and prefix in ("dir", "file", "tag") and not rest.startswith("\\"):
        return prefix + ":" + (rest if prefix == "tag" else display_path(rest))
    p = Path(text).expanduser()
    package = Path(__file__).resolve().parents[1]  # pand_core/
    for label, root in (("$PAND_RUNS", runs_root()), ("$PAND_CACHE", default_cache()), ("pand_core", package)):
        try:
            return f"{label}/{p.resolve().relative_to(root.expanduser().resolve()).as_posix()}"
        except ValueError:
            continue
    return p.name if p.is_absolute() else p.as_posix()
