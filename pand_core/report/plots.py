"""The book's matplotlib figures: seeds with their intervals, method bars, a Stage 2 run's curves; all at the page's
width (`style.PAGE_WIDTH_IN`) with no text smaller than `style.MIN_FONT_PT`."""

from __future__ import annotations

from .style import PAGE_WIDTH_IN


def interval_plot(summary: dict, ax=None, title: str = ""):
    """Every seed's accuracy per method (dots) with the mean and its 95 % interval (bar); returns the axes.

    Args:
        summary: A `study_summary` (its `methods`); a method without an interval shows its mean only.
        ax: The axes to draw on; None: a new figure at the page's width.
        title: The axes' title; "": "mean and 95 % interval over seeds (dots: seeds)".
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(PAGE_WIDTH_IN, 3.2))
    for i, (method, v) in enumerate(summary["methods"].items()):
        acc = v["test_acc_last"]
        ax.scatter([i] * len(acc["values"]), acc["values"], s=12, color="0.6", zorder=2)
        lo, hi = acc["ci95"] if acc["ci95"] else (acc["mean"], acc["mean"])
        ax.errorbar(i, acc["mean"], yerr=[[acc["mean"] - lo], [hi - acc["mean"]]], fmt="o", color="C0", capsize=4,
                    zorder=3)
    ax.set_xticks(range(len(summary["methods"])), list(summary["methods"]), rotation=30, ha="right")
    ax.set(ylabel="test accuracy, last epoch (%)", title=title or "mean and 95 % interval over seeds (dots: seeds)")
    return ax


def _method_label(method: str, width: int = 11) -> str:
    """A method's name for a tick, broken after a hyphen when longer than `width` characters."""
    if len(method) <= width or "-" not in method:
        return method
    cut = method.rfind("-", 0, width) if method.rfind("-", 0, width) > 0 else method.find("-")
    return method[: cut + 1] + "\n" + method[cut + 1 :]


def bar_chart(rows: list[dict], ax=None, title: str = ""):
    """Clean vs test-selected accuracy per method (error bars over seeds), paper numbers as markers; the student
    is named under each bar only when the rows hold more than one, the teacher mode when it is neither online nor
    none; returns the axes.

    Args:
        rows: Rows of `summarise`, one pair of bars each, in their order.
        ax: The axes to draw on; None: a new figure at the page's width.
        title: The axes' title; "": none.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(PAGE_WIDTH_IN, 3.6))
    several = len({r["student"] for r in rows}) > 1
    labels = [_method_label(r["method"]) + (f"\n{r['student']}" if several else "")
              + ("" if r["teacher_mode"] in (None, "none", "online") else f"\n({r['teacher_mode']})") for r in rows]
    xs = range(len(rows))
    ax.bar([x - 0.2 for x in xs], [r["last_mean"] for r in rows], 0.4, yerr=[r["last_std"] for r in rows],
           label="last epoch (clean)", color="#3b7dd8")
    ax.bar([x + 0.2 for x in xs], [r["best_mean"] for r in rows], 0.4, yerr=[r["best_std"] for r in rows],
           label="best test epoch (optimistic)", color="#b8cbe8")
    papers = [(x, r["paper"]) for x, r in zip(xs, rows) if r["paper"] is not None]
    if papers:
        ax.scatter([p[0] for p in papers], [p[1] for p in papers], marker="*", s=120, color="crimson", zorder=3,
                   label="paper")
    ax.set_xticks(list(xs), labels)
    tops = [r["best_mean"] + (r["best_std"] or 0) for r in rows] + [r["last_mean"] + (r["last_std"] or 0) for r in rows]
    ax.set_ylim(0, 1.3 * max([*tops, *(p[1] for p in papers)], default=1))  # headroom: the legend sits above the bars
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_title(title)
    ax.legend(loc="upper left", ncol=3)
    return ax


def plot_stage2(metrics: list[dict]):
    """A Stage 2 run over epochs, at the page's width: the loss terms (log scale) with α, the CE weight, dashed on
    its own axis, above the accuracies and the learning rate; returns the figure.

    Args:
        metrics: The run's `metrics.jsonl` records, one per epoch: `epoch`, `alpha`, `lr`, `train_acc`, `test_acc`,
            `val_acc` (drawn when the first record has one) and the loss terms among `loss`, `ce`, `img`, `kd`,
            `nlrd`, `hinton_kd` that the first record holds.
    """
    import matplotlib.pyplot as plt

    from .figures import epoch_axes

    fig = plt.figure(figsize=(PAGE_WIDTH_IN, 6.6), layout="constrained")
    grid = fig.add_gridspec(2, 2, height_ratios=[1.35, 1])
    loss, acc, lr = fig.add_subplot(grid[0, :]), fig.add_subplot(grid[1, 0]), fig.add_subplot(grid[1, 1])
    ep = [m["epoch"] for m in metrics]
    for key in ("loss", "ce", "img", "kd", "nlrd", "hinton_kd"):
        if key in metrics[0]:
            loss.plot(ep, [m[key] for m in metrics], label=key)
    loss.set_yscale("log")
    loss.set(title="loss terms (log scale, left) and α (right)", xlabel="epoch")
    twin = loss.twinx()
    twin.plot(ep, [m["alpha"] for m in metrics], "k--", lw=1, label="α (CE weight)")
    twin.set_ylim(0, max(0.2, max(m["alpha"] for m in metrics) * 1.2))
    twin.set_ylabel("α")
    twin.grid(False)
    handles = loss.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    loss.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.17), ncol=(len(handles) + 1) // 2)
    acc.plot(ep, [m["train_acc"] for m in metrics], label="train\n(augmented)")
    acc.plot(ep, [m["test_acc"] for m in metrics], label="test\n(full split)")
    if metrics[0].get("val_acc") is not None:
        acc.plot(ep, [m["val_acc"] for m in metrics], label="val")
    acc.set(title="accuracy (%)", xlabel="epoch")
    acc.legend(loc="upper left")
    lr.plot(ep, [m["lr"] for m in metrics])
    lr.set(title="learning rate", xlabel="epoch")
    epoch_axes(loss, acc, lr, lr=lr)
    return fig
