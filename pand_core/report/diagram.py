"""The picture of PAND's two stages that opens the book: teacher -> PSC -> anchors -> NSD -> student."""

from __future__ import annotations

from pathlib import Path

DIAGRAM_PNG = Path("book/figures/two-stages.png")

_BOXES = {  # name: (x, y, text, colour); coordinates in a 100 x 56 frame
    "teacher": (14, 40, "CLIP teacher\n(frozen: image and\ntext towers)", "#e8e1f2"),
    "psc": (50, 40, "Stage 1 — PSC\n16 context vectors learned\nin front of each class name", "#fde9c9"),
    "anchors": (86, 40, "class anchors Θ\n(calibrated text\nembeddings)", "#fde9c9"),
    "images": (14, 12, "labelled training\nimages (augmented)", "#e6eef8"),
    "nsd": (50, 12, "Stage 2 — NSD\nalignment + text KD\n+ neighbourhood (NLRD)", "#d9efdc"),
    "student": (86, 12, "student\nResNet-18 /\nMobileNet-V2", "#d9efdc"),
}
_ARROWS = (("teacher", "psc", ""), ("psc", "anchors", ""), ("anchors", "nsd", "teacher logits\non the anchors"),
           ("teacher", "nsd", "image features"), ("images", "nsd", ""), ("nsd", "student", ""))


def two_stages_figure():
    """The two stages as boxes and arrows, at the page's width with text of at least `style.MIN_FONT_PT`."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    from .style import PAGE_WIDTH_IN

    fig, ax = plt.subplots(figsize=(PAGE_WIDTH_IN, 3.3))
    ax.set_xlim(0, 100)
    ax.set_ylim(3, 49)
    ax.axis("off")
    w, h = 26, 13
    for x, y, text, colour in _BOXES.values():
        ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.6", fc=colour, ec="0.35"))
        ax.text(x, y, text, ha="center", va="center", fontsize=9.5)
    for a, b, label in _ARROWS:
        (xa, ya), (xb, yb) = _BOXES[a][:2], _BOXES[b][:2]
        if ya == yb:  # side by side
            start, end = (xa + w / 2 + 0.8, ya), (xb - w / 2 - 0.8, yb)
        elif xa == xb:  # one above the other
            start, end = (xa, ya - h / 2 - 0.8), (xb, yb + h / 2 + 0.8)
        else:  # diagonal, from a lower corner to an upper corner
            start = (xa + (w / 2 if xb > xa else -w / 2), ya - h / 2)
            end = (xb + (-w / 2 if xb > xa else w / 2) * 0.6, yb + h / 2 + 0.8)
        ax.annotate("", end, start, arrowprops=dict(arrowstyle="-|>", color="0.25", lw=1.4, shrinkA=0, shrinkB=0))
        if label:
            ax.text((start[0] + end[0]) / 2 + 2.5, (start[1] + end[1]) / 2 + 2, label, fontsize=9.5, ha="left",
                    va="center", color="0.25")
    fig.subplots_adjust(0, 0, 1, 1)
    return fig


def write_diagram(path: str | Path = DIAGRAM_PNG) -> Path:
    """Draw `two_stages_figure` into `path` (PNG, its folder made if missing); return the path.

    Args:
        path: The PNG file; a relative path (the default's too) is taken from the working directory, the repository's
            root when the book's figure is meant.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = two_stages_figure()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
