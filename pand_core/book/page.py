"""What every book page does first and last: point the run folders at `RUNS`, set the figures' style, start the
page's clock, read its parameters cell (`open_page`); and at the end, what the page cost where it ran (measured,
`report.cost_markdown`)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..params import RunParams
from ..report.style import FIGURE_STYLE as PLOT_STYLE  # noqa: F401  (the book's one figure style)


@dataclass
class Page:
    """A page being executed: its runs folder and the moment it started.

    Args:
        runs: The runs folder the page's runs go to.
        t0: When the page started (`time.perf_counter()`); default: now.
    """

    runs: Path
    t0: float = field(default_factory=time.perf_counter)

    def cost(self, runs: dict[str, dict]) -> str:
        """Markdown: this execution's wall time so far and each run's own recorded time (`report.cost_markdown`).

        Args:
            runs: Run name -> its `result.json` contents, for each run the page shows.
        """
        from ..infra.environment import environment
        from ..report import cost_markdown

        return cost_markdown(time.perf_counter() - self.t0, runs, environment())


def start_page(runs: str | Path) -> Page:
    """Set `$PAND_RUNS` to `runs` (run folders go to `runs/<profile>/<dataset>/<run>`, and pages show paths under it
    as `$PAND_RUNS/…`), apply the book's plot style and start the page's clock. With `$PAND_FIGURE_LOG` set, every
    figure drawn is also measured into that file (`report.style.record_figures`).

    Args:
        runs: The runs folder.
    """
    from ..report.style import FIGURE_LOG_ENV, apply_style, record_figures

    os.environ["PAND_RUNS"] = str(runs)
    apply_style()
    if os.environ.get(FIGURE_LOG_ENV):  # measuring the book's figures (their sizes and smallest fonts)
        record_figures(os.environ[FIGURE_LOG_ENV], page=os.environ.get("PAND_PAGE", ""))
    return Page(Path(runs))


def open_page(names: Mapping[str, Any]) -> tuple[Page, RunParams]:
    """The one setup line after a notebook's parameters cell: `start_page(RUNS)`, the page's `RunParams` from the
    cell's names, and, on the paper profile with `DOWNLOAD` set, its data set fetched first (`RunParams.fetch`).

    Args:
        names: The notebook's names, `globals()`: its parameters cell's `RUNS`, `PROFILE`, `DATASET`, ... .
    """
    page = start_page(names.get("RUNS", "runs"))
    params = RunParams.from_cell(names)
    if params.profile == "paper" and names.get("DOWNLOAD"):
        params.fetch()  # returns at once when the data root holds a finished download
    return page, params

