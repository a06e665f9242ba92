"""The book's matplotlib figures: seeds with their intervals, method bars, a Stage 2 run's curves."""

from __future__ import annotations


def interval_plot(summary: dict, ax=None, title: str = ""):
    """Every seed's accuracy per method (dots) with the mean and its 95 % interval (bar)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3))
    for i, (method, v) in enumerate(summary["methods"].items()):
        acc = v["test_acc_last"]
        ax.scatter([i] * len(acc["values"]), acc["values"], s=12, color="0.6", zorder=2)
        lo, hi = acc["ci95"] if acc["ci95"] else (acc["mean"], acc["mean"])
        ax.errorbar(i, acc["mean"], yerr=[[acc["mean"] - lo], [hi - acc["mean"]]], fmt="o", color="C0", capsize=4, zorder=3)
    ax.set_xticks(range(len(summary["methods"])), list(summary["methods"]), rotation=30, ha="right")
    ax.set(ylabel="test accuracy, last epoch (%)", title=title or "mean and 95 % interval over seeds (dots: seeds)")
    return ax


def bar_chart(rows: list[dict], ax=None, title: str = ""):
    """Clean vs test-selected accuracy per method (error bars over seeds), paper numbers as markers."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(max(4, 1.1 * len(rows) + 2), 3.4))
    labels = [f"{r['method']}\n{r['student']}" + ("" if r["teacher_mode"] in (None, "none", "online") else f"\n({r['teacher_mode']})")
              for r in rows]
    xs = range(len(rows))
    ax.bar([x - 0.2 for x in xs], [r["last_mean"] for r in rows], 0.4, yerr=[r["last_std"] for r in rows],
           label="last epoch (clean)", color="#3b7dd8")
    ax.bar([x + 0.2 for x in xs], [r["best_mean"] for r in rows], 0.4, yerr=[r["best_std"] for r in rows],
           label="best test epoch (optimistic)", color="#b8cbe8")
    papers = [(x, r["paper"]) for x, r in zip(xs, rows) if r["paper"] is not None]
    if papers:
        ax.scatter([p[0] for p in papers], [p[1] for p in papers], marker="*", s=120, color="crimson", zorder=3, label="paper")
    ax.set_xticks(list(xs), labels, fontsize=8)
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return ax


def plot_stage2(metrics: list[dict], axes=None):
    """Loss terms with the α schedule, accuracies, and the learning rate over epochs (three panels)."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 3, figsize=(13, 3.4))
    ep = [m["epoch"] for m in metrics]
    ax = axes[0]
    for key in ("loss", "ce", "img", "kd", "nlrd", "hinton_kd"):
        if key in metrics[0]:
            ax.plot(ep, [m[key] for m in metrics], label=key)
    ax.set_yscale("log")
    ax.set(title="loss terms", xlabel="epoch")
    twin = ax.twinx()
    twin.plot(ep, [m["alpha"] for m in metrics], "k--", lw=1, label="α (CE weight)")
    twin.set_ylim(0, max(0.2, max(m["alpha"] for m in metrics) * 1.2))
    twin.set_ylabel("α")
    ax.legend(fontsize=7, loc="upper right")
    axes[1].plot(ep, [m["train_acc"] for m in metrics], label="train (augmented)")
    axes[1].plot(ep, [m["test_acc"] for m in metrics], label="test (full split)")
    if metrics[0].get("val_acc") is not None:
        axes[1].plot(ep, [m["val_acc"] for m in metrics], label="val")
    axes[1].set(title="accuracy (%)", xlabel="epoch")
    axes[1].legend(fontsize=8)
    axes[2].plot(ep, [m["lr"] for m in metrics])
    axes[2].set(title="learning rate", xlabel="epoch")
    return axes
