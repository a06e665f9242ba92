"""One figure style for the book: figures made for the page's width, no text smaller than `MIN_FONT_PT`.

The book's text column is about 690 px wide at a 1280 px window; a figure `PAGE_WIDTH_IN` wide at `DPI` is shown there
at 98 % of its natural size, so a font of `MIN_FONT_PT` points is displayed at about 12 px.
"""

from __future__ import annotations

PAGE_WIDTH_IN = 7.0  # inches: 700 px at DPI, shown at 690 px (98 %) in the text column at 1280 px
DPI = 100
MIN_FONT_PT = 9.0  # every label, tick, legend and annotation; about 12 px on the page

FIGURE_STYLE = {
    "figure.dpi": DPI,
    "figure.figsize": [PAGE_WIDTH_IN, 3.6],
    "font.size": 11,
    "axes.titlesize": 11.5,
    "axes.labelsize": 10.5,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 9.5,
    "legend.title_fontsize": 10,
    "figure.titlesize": 12,
    "axes.grid": True,
    "grid.alpha": 0.3,
}


def apply_style() -> None:
    """Set matplotlib's rcParams to the book's figure style."""
    import matplotlib.pyplot as plt

    plt.rcParams.update(FIGURE_STYLE)


def page_figure(nrows: int = 1, ncols: int = 1, height: float = 3.6, **kw):
    """`plt.subplots` at the page's width (`PAGE_WIDTH_IN`) and the given height in inches: `(figure, axes)`.

    Args:
        nrows: Rows of axes.
        ncols: Columns of axes.
        height: The figure's height in inches.
        kw: Passed on to `plt.subplots` (e.g. `layout`, `gridspec_kw`).
    """
    import matplotlib.pyplot as plt

    return plt.subplots(nrows, ncols, figsize=(PAGE_WIDTH_IN, height), **kw)


def smallest_font_pt(fig) -> float:
    """The smallest font size (points) of any visible, non-empty text in `fig`: what `MIN_FONT_PT` bounds; infinity
    when it holds none.

    Args:
        fig: A matplotlib figure.
    """
    from matplotlib.text import Text

    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    return min(sizes) if sizes else float("inf")


def displayed_font_px(font_pt: float, fig_width_in: float, dpi: float = DPI, column_px: float = 690.0) -> float:
    """Pixels a `font_pt` font occupies on the page: its size at `dpi`, shrunk when the figure is wider than the column.

    Args:
        font_pt: The font's size in points.
        fig_width_in: The figure's width in inches.
        dpi: The figure's dots per inch.
        column_px: The width of the page's text column in pixels.
    """
    natural_px = fig_width_in * dpi
    return font_pt * dpi / 72 * min(1.0, column_px / natural_px)


FIGURE_LOG_ENV = "PAND_FIGURE_LOG"  # a JSONL file: when set, every figure a page draws is measured into it


def record_figures(log_path: str, page: str = "") -> None:
    """Append one JSON line per drawn figure to `log_path`: its page, size (the tight box, inches), dpi, smallest
    font (pt) and that font's size on the page (`displayed_font_px`); a measurement for the book's figure list.
    Patches matplotlib's `print_figure` once per process.

    Args:
        log_path: The JSONL file appended to.
        page: The page's name written into each line.
    """
    import json

    from matplotlib.backend_bases import FigureCanvasBase

    if getattr(FigureCanvasBase.print_figure, "_pand_recorded", False):
        return
    original = FigureCanvasBase.print_figure

    def print_figure(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        fig = self.figure
        box = fig.get_tightbbox(fig.canvas.get_renderer())
        dpi = kwargs.get("dpi")
        dpi = dpi if isinstance(dpi, (int, float)) else fig.dpi  # savefig passes dpi="figure" by default
        font = smallest_font_pt(fig)
        with open(log_path, "a") as f:
            f.write(json.dumps({"page": page, "width_in": round(box.width, 2), "height_in": round(box.height, 2),
                                "dpi": dpi, "smallest_font_pt": font,
                                "displayed_font_px": round(displayed_font_px(font, box.width, dpi), 1),
                                "title": next((ax.get_title() for ax in fig.axes if ax.get_title()), "")}) + "\n")
        return out

    print_figure._pand_recorded = True
    FigureCanvasBase.print_figure = print_figure
