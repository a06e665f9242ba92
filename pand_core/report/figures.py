"""The figures of the Stage 1, neighbourhood and Stage 2 pages, and the sentences under them that depend on the
numbers they draw. Every figure is made at the page's width (`style.PAGE_WIDTH_IN`) with no text smaller than
`style.MIN_FONT_PT`, its legends outside the data, and is returned (a page assigns it, `fig = ...`, so that Jupyter
shows it once)."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence

import numpy as np

from .style import PAGE_WIDTH_IN


def _figure(height: float):
    import matplotlib.pyplot as plt

    return plt.figure(figsize=(PAGE_WIDTH_IN, height), layout="constrained")


def _wrap(title: str, width: int) -> str:
    """`title` with each of its lines wrapped at `width` characters (never inside a hyphenated word)."""
    return "\n".join(textwrap.fill(line, width, break_on_hyphens=False) for line in title.splitlines())


def _values(x) -> np.ndarray:
    """A tensor, list or array as a float numpy array."""
    return np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x, dtype=float)


def epoch_axes(*axes, lr=None) -> None:
    """Whole epochs on each axis's x axis; on `lr`, the learning rate as plain numbers (no offset text to collide
    with the title).

    Args:
        axes: Axes whose x axis counts epochs.
        lr: The axes whose y axis is the learning rate; None: none.
    """
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if lr is not None:
        lr.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))


def class_colours(classes: Sequence[int]) -> dict[int, tuple]:
    """One distinct colour per class of `classes` (tab20, then tab20b: up to 40 classes before a colour repeats).

    Args:
        classes: Class indices, repeats allowed; the colours go to the distinct ones in ascending order.
    """
    import matplotlib.pyplot as plt

    palette = [*plt.get_cmap("tab20").colors, *plt.get_cmap("tab20b").colors]
    return {int(c): palette[i % len(palette)] for i, c in enumerate(sorted({int(c) for c in classes}))}


# --- Stage 1 (01_prompt_calibration) -----------------------------------------------------------------------------


def stage1_curves(metrics: list[dict], hand_test_acc: float):
    """Stage 1's accuracy (train, held-out, hand prompts) above its loss and learning rate, per epoch; returns the
    figure.

    Args:
        metrics: The Stage 1 run's `metrics.jsonl` records, one per epoch: `epoch`, `train_acc`, `loss`, `lr`, and
            `val_acc` (the held-out line when the first record has one) or else `test_acc`.
        hand_test_acc: The teacher's test accuracy with hand prompts (%), drawn as a dashed line.
    """
    held = "val_acc" if metrics[0].get("val_acc") is not None else "test_acc"
    ep = [m["epoch"] for m in metrics]
    fig = _figure(5.6)
    grid = fig.add_gridspec(2, 2, height_ratios=[1.15, 1])
    acc, loss, lr = fig.add_subplot(grid[0, :]), fig.add_subplot(grid[1, 0]), fig.add_subplot(grid[1, 1])
    acc.plot(ep, [m["train_acc"] for m in metrics], label="train")
    acc.plot(ep, [m[held] for m in metrics], label=held.replace("_acc", ""))
    acc.axhline(hand_test_acc, ls="--", c="grey", label="hand prompts\n(test)")
    acc.set(title="Stage 1 accuracy (%)", xlabel="epoch")
    acc.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
    loss.plot(ep, [m["loss"] for m in metrics])
    loss.set(title="Stage 1 loss", xlabel="epoch")
    lr.plot(ep, [m["lr"] for m in metrics])
    lr.set(title="learning rate", xlabel="epoch")
    epoch_axes(acc, loss, lr, lr=lr)
    return fig


def class_gain_chart(gain, classnames: Sequence[str], title: str, n_show: int = 8, all_up_to: int = 24):
    """Each class's change of test accuracy (horizontal bars): every class when there are at most `all_up_to`,
    else the `n_show` that lose and the `n_show` that gain most; returns the figure.

    Args:
        gain: Each class's change of test accuracy in points `[C]`.
        classnames: The C class names, in class-index order.
        title: The figure's title (wrapped at 64 characters).
        n_show: Classes shown at each end when not all are.
        all_up_to: Show every class when there are at most this many.
    """
    gain = _values(gain)
    order = np.argsort(gain, kind="stable")
    pick = order if len(order) <= all_up_to else np.concatenate([order[:n_show], order[-n_show:]])
    fig = _figure(0.27 * len(pick) + 1.3)
    ax = fig.add_subplot()
    ax.barh(range(len(pick)), gain[pick], color=["#c0392b" if g < 0 else "#2e86c1" for g in gain[pick]])
    ax.set_yticks(range(len(pick)), [classnames[i] for i in pick])
    ax.set_ylim(-0.6, len(pick) - 0.4)
    ax.axvline(0, c="k", lw=0.8)
    ax.set(xlabel="change of test accuracy (points)")
    ax.grid(axis="y", visible=False)
    fig.suptitle(_wrap(title, 64))
    return fig


def anchor_similarity_maps(sim_hand, sim_cal):
    """The cosine between every two classes' anchors, hand prompts beside calibrated, on one colour scale; returns
    the figure.

    Args:
        sim_hand: Cosines `[C, C]` of the hand prompts' text features.
        sim_cal: Cosines `[C, C]` of the calibrated anchors.
    """
    sim_hand, sim_cal = _values(sim_hand), _values(sim_cal)
    off = ~np.eye(len(sim_hand), dtype=bool)
    low = min(sim_hand[off].min(), sim_cal[off].min())
    fig = _figure(3.7)
    axes = fig.subplots(1, 2)
    for ax, sim, name in ((axes[0], sim_hand, "hand prompts"), (axes[1], sim_cal, "calibrated anchors")):
        im = ax.imshow(sim, vmin=low, vmax=1, cmap="viridis")
        ax.set_title(f"{name}\nmean cosine, two classes: {sim[off].mean():.3f}")
        ax.set(xlabel="class", ylabel="class")
        ax.grid(False)
    fig.colorbar(im, ax=axes, shrink=0.85, label="cosine similarity")
    return fig


# --- the neighbourhood page (02_neighborhood_graph) -----------------------------------------------------------------


def spread_out(points, most: int, min_gap: float) -> list[int]:
    """Up to `most` indices of `points` far apart: greedily the point farthest from those already taken, while
    that distance is at least `min_gap` (the first point is taken first).

    Args:
        points: Coordinates `[P, 2]` (any number of columns).
        most: The most indices returned.
        min_gap: The least distance of a new point from those taken, in the units of `points`.
    """
    points = _values(points)
    if not len(points):
        return []
    taken = [0]
    while len(taken) < min(most, len(points)):
        gap = np.min(np.linalg.norm(points[:, None] - points[taken][None], axis=-1), axis=1)
        far = int(np.argmax(gap))
        if gap[far] < min_gap:
            break
        taken.append(far)
    return taken


def knn_map(xy_all, labels_all, group, neighbours, classnames: Sequence[str], title: str,
             pictures: Sequence[np.ndarray] = (), most_pictures: int = 8):
    """One NLRD group on a 2-D map (t-SNE) of the whole split: every image a soft disc (the group's classes in colour, named
    in the legend, the others grey), the group's images as rimmed dots with an arrow to each of their k
    teacher-logit neighbours, and up to `most_pictures` of the group's `pictures` (one per image of the group, in
    its order), spread over the map's outer part, beside their dots; returns the figure.

    Args:
        xy_all: The map's coordinates `[N, 2]` of the whole split.
        labels_all: The class of each of the N images `[N]`.
        group: Indices `[G]` of the group's images into the N.
        neighbours: Each group image's k neighbours `[G, k]`, as positions within `group` (-1: none), e.g.
            `knn_graph` of the group's teacher logits.
        classnames: The class names, in class-index order.
        title: The axes' title (wrapped at 80 characters).
        pictures: The group's images as arrays (one per image of `group`, in its order); empty: none drawn.
        most_pictures: The most pictures drawn.
    """
    from matplotlib.lines import Line2D
    from matplotlib.offsetbox import AnnotationBbox, OffsetImage

    xy_all, labels_all = _values(xy_all), np.asarray(labels_all).astype(int)
    group = np.asarray(group).astype(int)
    xy, labels = xy_all[group], labels_all[group]
    colour = class_colours(labels)
    fig = _figure(5.4 + 0.22 * ((len(colour) + 2) // 2))
    ax = fig.add_subplot()
    mine = np.isin(labels_all, list(colour))
    ax.scatter(*xy_all[~mine].T, s=150, color="0.55", alpha=0.35, linewidths=0, zorder=1)
    ax.scatter(*xy_all[mine].T, s=150, c=[colour[c] for c in labels_all[mine]], alpha=0.35, linewidths=0,
               zorder=1)
    for i, row in enumerate(np.asarray(neighbours).tolist()):
        for j in row:
            if j >= 0:
                ax.annotate("", xy=xy[j], xytext=xy[i], zorder=2, arrowprops=dict(
                    arrowstyle="-|>", color="0.15", alpha=0.7, lw=1.1, shrinkA=5, shrinkB=5))
    ax.scatter(*xy.T, s=75, c=[colour[c] for c in labels], edgecolor="k", linewidths=1.2, zorder=3)
    low, span = xy_all.min(0), xy_all.max(0) - xy_all.min(0)
    span = np.maximum(span, 1e-9)
    ax.set_xlim(low[0] - 0.25 * span[0], low[0] + 1.25 * span[0])
    ax.set_ylim(low[1] - 0.25 * span[1], low[1] + 1.25 * span[1])
    outward = (xy - low) / span - 0.5  # from the map's centre, in units of its size
    edge = np.flatnonzero(np.linalg.norm(outward, axis=1) > 0.3)  # pictures go outwards, off the arrows
    for i in edge[spread_out(xy[edge] / span, most_pictures, min_gap=0.2)] if len(pictures) else ():
        away = outward[i] / np.linalg.norm(outward[i])
        box = np.clip((xy[i] - low) / span + 0.2 * away, -0.15, 1.15) * span + low  # inside the axes
        ax.add_artist(AnnotationBbox(OffsetImage(pictures[i], zoom=0.6), xy[i], xybox=tuple(box),
                                     boxcoords="data", frameon=True, pad=0.1, zorder=4,
                                     arrowprops=dict(arrowstyle="-", lw=0.8, color="0.3")))
    ax.set(title=_wrap(title, 80), xticks=[], yticks=[])
    ax.grid(False)
    dot = dict(marker="o", linestyle="", markersize=8, alpha=0.6)
    handles = [Line2D([], [], color=colour[c], label=classnames[c], **dot) for c in colour]
    if (~mine).any():
        handles.append(Line2D([], [], color="0.55", label="classes not in the group", **dot))
    fig.legend(handles=handles, loc="outside lower center", ncol=2, title="the group's classes", frameon=False,
               columnspacing=1.0, handletextpad=0.3)
    return fig


def purity_plot(ks: Sequence[int], series: Sequence[tuple[str, Mapping[int, float], str, object]],
                chance: float, title: str):
    """Same-label share of the k nearest neighbours against k: one line per (label, {k: share}, line format, colour)
    of `series`, and chance; the legend beside the axes; returns the figure.

    Args:
        ks: The values of k on the x axis.
        series: One line each: (legend label, same-label share per k as a fraction, matplotlib line format, colour).
        chance: The share random neighbours would have, as a fraction.
        title: The axes' title (wrapped at 52 characters).
    """
    fig = _figure(3.5)
    ax = fig.add_subplot()
    for label, share, fmt, colour in series:
        ax.plot(ks, [100 * share[k] for k in ks], fmt, color=colour, label=label)
    ax.axhline(100 * chance, ls=":", c="grey", label="chance")
    ax.set(xlabel="k", ylabel="same-label neighbours (%)", title=_wrap(title, 52), ylim=(0, 105),
           xticks=list(ks))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
    return fig


def js_figure(js: Mapping[str, np.ndarray], teacher_pair, student_pairs: Mapping[str, np.ndarray]):
    """Above, each student's per-pair JS divergence from the teacher (box plot, outliers hidden); below, one
    neighbour pair's softmax(Z_i − Z_j) over classes, the teacher's beside each student's; returns the figure.

    Args:
        js: Student name -> its JS divergence of every pair `[P]` (`pair_divergences`).
        teacher_pair: The teacher's softmax(Z_i − Z_j) `[C]` of one pair (`logit_differences`).
        student_pairs: Student name -> its softmax(Z_i − Z_j) `[C]` of the same pair.
    """
    fig = _figure(6.4)
    box, bars = fig.subplots(2, 1)
    box.boxplot([_values(v) for v in js.values()], showfliers=False)
    box.set_xticks(range(1, len(js) + 1), [f"{m}\nmean {_values(v).mean():.3f}" for m, v in js.items()])
    box.set(ylabel="JS divergence per pair", title="per-pair divergence from the teacher (lower: closer)")
    series = {"teacher": _values(teacher_pair), **{m: _values(v) for m, v in student_pairs.items()}}
    width = 0.8 / len(series)
    x = np.arange(len(series["teacher"]))
    for n, (name, q) in enumerate(series.items()):
        bars.bar(x - 0.4 + width * (n + 0.5), q, width, label=name, color="k" if name == "teacher" else f"C{n - 1}")
    top = max(q.max() for q in series.values())
    bars.set(xlabel="class", ylabel="softmax(Z_i − Z_j)", ylim=(0, 1.3 * top),
             title="one neighbour pair: the teacher's distribution and the students'")
    bars.legend(loc="upper center", ncol=len(series))
    return fig


# --- Stage 2 (03_distillation) --------------------------------------------------------------------------------------


def lr_schedules(paper_lrs: Sequence[float], paper_label: str, run_epochs: Sequence[int], run_lrs: Sequence[float],
                 run_label: str):
    """The paper recipe's learning rate per epoch beside this run's, each on its own epoch axis; returns the figure.

    Args:
        paper_lrs: The paper recipe's learning rate of each epoch, from epoch 0.
        paper_label: The left panel's title.
        run_epochs: This run's epochs.
        run_lrs: This run's learning rate of each of `run_epochs`.
        run_label: The right panel's title.
    """
    fig = _figure(3.0)
    ax_p, ax_r = fig.subplots(1, 2)
    ax_p.plot(paper_lrs)
    ax_p.set(xlabel="epoch", ylabel="learning rate", title=paper_label)
    ax_r.plot(run_epochs, run_lrs, marker="o", ms=3, color="C1")
    ax_r.set(xlabel="epoch", title=run_label)
    epoch_axes(ax_p, ax_r, lr=ax_p)
    epoch_axes(lr=ax_r)
    return fig


def accuracy_trend(metrics: list[dict]) -> tuple[int, float]:
    """The last quarter of a run's epochs (at least 3) and the slope, in points per epoch, of a straight line through
    their test accuracy; a slope above 0.1 counts as still rising.

    Args:
        metrics: A Stage 2 run's `metrics.jsonl` records, one per epoch, each with its `test_acc`.
    """
    test = [m["test_acc"] for m in metrics]
    last = min(len(test), max(3, len(test) // 4))
    return last, float(np.polyfit(range(last), test[-last:], 1)[0]) if last >= 2 else 0.0


def stage2_progress_markdown(metrics: list[dict], steps_per_epoch: int) -> str:
    """Whether the run's test accuracy was still rising when it stopped (`accuracy_trend`), and how many optimiser steps
    it took.

    Args:
        metrics: A Stage 2 run's `metrics.jsonl` records, one per epoch, each with its `test_acc`.
        steps_per_epoch: The run's optimiser steps per epoch.
    """
    test = [m["test_acc"] for m in metrics]
    last, slope = accuracy_trend(metrics)
    steps = steps_per_epoch * len(test)
    told = (f"over the last {last} epochs the test accuracy went from {test[-last]:.1f} % to {test[-1]:.1f} % "
            f"(a straight line through them: {slope:+.2f} points per epoch)")
    if slope > 0.1:
        return (f"**The student had not converged when the run stopped**: {told}. The run ended after {steps} "
                f"optimiser steps ({len(test)} epochs of {steps_per_epoch}) and the curve is still climbing: the "
                "recipe's steps stop before the student converges, so this accuracy is that of a short run, not "
                "the student's limit.")
    return (f"The test accuracy had levelled off when the run stopped after {steps} optimiser steps "
            f"({len(test)} epochs of {steps_per_epoch}): {told}.")


# --- the sentences of the neighbourhood page ------------------------------------------------------------------------


def nlrd_conclusion_markdown(overlap: Mapping[str, float], js_mean: Mapping[str, float],
                             accuracy: Mapping[str, float], chance_overlap: float,
                             purity: tuple[int, float, float, float] | None = None) -> str:
    """The neighbourhood page's conclusion from its numbers: which student keeps most of the teacher's kNN graph,
    which is closest to the teacher's pair distributions (what NLRD trains), which is the most accurate; `purity`:
    k, the teacher's same-label share of its k neighbours in groups, the best possible and chance (fractions).

    Args:
        overlap: Student name -> the share of the teacher's kNN graph its own graph keeps.
        js_mean: Student name -> its mean JS divergence from the teacher over the neighbour pairs.
        accuracy: Student name -> its test accuracy (%).
        chance_overlap: The overlap random neighbours would have.
        purity: (k, the teacher's share, the best possible share, chance); None: no sentence on the teacher's graph.
    """
    def best(d: Mapping[str, float], low: bool = False) -> str:
        return (min if low else max)(d, key=d.get)

    by_graph, by_js, by_acc = best(overlap), best(js_mean, low=True), best(accuracy)
    lead = (f"**Conclusion.** On this seed, `{by_js}` is the closest to the teacher's neighbour-pair distributions, "
            f"`{by_graph}` keeps the most of the teacher's kNN graph, and `{by_acc}` is the most accurate.")
    if "pand" in js_mean:
        own = "lowest" if by_js == "pand" else "not the lowest"
        lead += f" NLRD's own term, the JS divergence, is {own} for `pand`, the student trained on it"
        others = [w for w, b in (("keep the most of the graph", by_graph), ("score best", by_acc)) if b != "pand"]
        lead += f"; `pand` does not {' or '.join(others)} here." if others else "."
    lines = []
    if purity is not None:
        k, share, most, chance = purity
        where = ("the teacher is near the best its groups allow: a group holds too few images of each class for "
                 "most neighbours to share it" if most - share < share - chance
                 else "the teacher is nearer chance than the best its groups allow")
        lines.append(f"- **The teacher's graph.** Within a group, {100 * share:.1f} % of the teacher's k = {k} "
                     f"neighbours share the image's class, against {100 * most:.1f} % at best and {100 * chance:.1f} "
                     f"% by chance; {where}.")
    above = all(v > chance_overlap for v in overlap.values())
    lines.append(f"- **The students' graphs.** {'Every student' if above else 'Not every student'} shares more of the "
                 f"teacher's neighbours than random neighbours would ({chance_overlap:.2f}); `{by_graph}` shares the "
                 f"most ({overlap[by_graph]:.3f}).")
    lines.append(f"- **The pair distributions.** Mean JS divergence from the teacher: "
                 + ", ".join(f"`{m}` {v:.3f}" for m, v in sorted(js_mean.items(), key=lambda mv: mv[1])) + ".")
    lines.append("- **One seed.** These are one seed's runs, one draw each; whether PAND beats its baselines is "
                 "decided over many paired seeds by the miniature chapter's study, not here.")
    return lead + "\n\n" + "\n".join(lines)


# --- the anchor diagnosis study (studies/anchor_diagnosis.py) -------------------------------------------------------

ANCHOR_PANELS = {"accuracy": "teacher top-1 on the\nstudents' training views (%)",
                 "top_probability": "mean top probability",
                 "kd_target_entropy": "entropy of the text-KD\ntarget softmax(Z/T) (nats)"}


def anchor_diagnosis_figure(rows: list[dict]):
    """Per seed, three teacher measures with hand and with calibrated anchors (one line a seed), and the seed's
    pand − pand-no-psc against its change of target entropy; returns the figure.

    Args:
        rows: The anchor diagnosis's per-seed records: `hand` and `calibrated`, each with `accuracy`,
            `top_probability` and `kd_target_entropy`, and `students` (method -> `test_acc_last`); the last panel
            shows the seeds that have both `pand` and `pand-no-psc`.
    """
    fig = _figure(6.2)
    axes = fig.subplots(2, 2).ravel()
    for ax, (key, label) in zip(axes[:3], ANCHOR_PANELS.items()):
        for r in rows:
            ax.plot([0, 1], [r["hand"][key], r["calibrated"][key]], color="0.55", lw=0.8, marker="o", ms=3)
        ax.set_xticks([0, 1], ["hand", "calibrated"])
        ax.set_xlim(-0.3, 1.3)
        ax.set_title(label)
    ax = axes[3]
    paired = [r for r in rows if {"pand", "pand-no-psc"} <= set(r["students"])]
    ax.scatter([r["calibrated"]["kd_target_entropy"] - r["hand"]["kd_target_entropy"] for r in paired],
               [r["students"]["pand"] - r["students"]["pand-no-psc"] for r in paired], s=14)
    ax.axhline(0, color="0.5", lw=0.6)
    ax.locator_params(axis="x", nbins=4)
    ax.set(xlabel="Δ target entropy (calibrated − hand)", ylabel="pand − pand-no-psc\n(points)",
           title=f"per seed ({len(paired)}): student difference")
    return fig
