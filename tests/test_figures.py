"""Every figure of the Stage 1, neighbourhood and Stage 2 pages (and the plots of `report.plots`, the confusion panel,
the anchor diagnosis) is drawn at the page's width with no text below `MIN_FONT_PT`, from small synthetic inputs;
and the sentences computed under them say what their numbers say."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from pand_core.report import figures  # noqa: E402
from pand_core.report.confusion import confusion_matrix, confusion_panel, pattern_shift_markdown  # noqa: E402
from pand_core.report.plots import bar_chart, interval_plot, plot_stage2  # noqa: E402
from pand_core.report.style import MIN_FONT_PT, PAGE_WIDTH_IN, apply_style, smallest_font_pt  # noqa: E402

NAMES = [f"{head} headed {wing} Brown {tail} tailed Finch" for head in ("Red", "Green")
         for wing in ("Plain", "Striped", "Spotted") for tail in ("Fan", "Fork")]  # 12 classes, miniature-like


@pytest.fixture(autouse=True)
def book_style():
    """Each test draws in the book's style (as `start_page` sets it) and closes what it drew."""
    with plt.rc_context():
        apply_style()
        yield
    plt.close("all")


def fits_the_page(fig) -> None:
    """The figure is at most the page's width, as made and as saved with a tight box (what a page shows), and no
    visible text is smaller than `MIN_FONT_PT`."""
    fig.canvas.draw()
    assert fig.get_size_inches()[0] <= PAGE_WIDTH_IN + 1e-6
    assert fig.get_tightbbox(fig.canvas.get_renderer()).width <= PAGE_WIDTH_IN + 0.05
    assert smallest_font_pt(fig) >= MIN_FONT_PT


def stage2_metrics(epochs: int = 6, val: bool = False) -> list[dict]:
    return [{"epoch": e, "lr": 1e-3 * (1 + np.cos(e)) / 2, "alpha": e / (8 * epochs), "loss": 3 - 0.3 * e,
             "ce": 3.2 - 0.2 * e, "img": 0.09 - 0.01 * e, "kd": 5 - 0.6 * e, "nlrd": 0.27 - 0.02 * e,
             "train_acc": 5 + 9 * e, "test_acc": 6 + 10 * e, "val_acc": 7 + 8 * e if val else None}
            for e in range(epochs)]


def test_stage1_curves():
    metrics = [{"epoch": e, "loss": 0.4 - 0.01 * e, "train_acc": 80 + e, "test_acc": 82 + e, "lr": 0.002 / (e + 1)}
               for e in range(8)]
    fits_the_page(figures.stage1_curves(metrics, hand_test_acc=77.7))


@pytest.mark.parametrize("n_classes", [12, 40])
def test_class_gain_chart_shows_every_class_of_a_small_set_and_the_extremes_of_a_large_one(n_classes):
    names = (NAMES * 4)[:n_classes]
    gain = torch.linspace(-25, 55, n_classes)
    fig = figures.class_gain_chart(gain, names, "miniature (CUB layout): test accuracy per class, calibrated − hand")
    fits_the_page(fig)
    assert len(fig.axes[0].patches) == (n_classes if n_classes <= 24 else 16)


def test_anchor_similarity_maps():
    t = torch.nn.functional.normalize(torch.randn(12, 16), dim=-1)
    a = torch.nn.functional.normalize(t + 0.3 * torch.randn(12, 16), dim=-1)
    fits_the_page(figures.anchor_similarity_maps(t @ t.t(), a @ a.t()))


def test_knn_map_names_the_groups_classes_and_places_pictures_inside():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(12), 8)
    xy = rng.normal(size=(12, 2))[labels] * 5 + rng.normal(size=(96, 2)) * 0.2
    group = rng.permutation(96)[:16]
    neighbours = torch.tensor([[(i + 1) % 16, (i + 2) % 16, (i + 3) % 16] for i in range(16)])
    pictures = [np.full((64, 64, 3), 200, dtype=np.uint8) for _ in group]
    fig = figures.knn_map(xy, labels, group, neighbours, NAMES, "miniature (CUB layout): one NLRD group of 16 "
                           "training images and its k = 3 teacher-logit neighbours; 17 % join one class", pictures)
    fits_the_page(fig)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert {NAMES[c] for c in labels[group]} <= set(legend)


def test_spread_out_takes_far_apart_points_only():
    points = np.array([[0, 0], [0.01, 0], [1, 1], [1, 0.99], [0, 1]])
    assert figures.spread_out(points, 8, min_gap=0.2) == [0, 2, 4]
    assert figures.spread_out(points, 2, min_gap=0.2) == [0, 2]


def test_purity_plot():
    ks = [1, 2, 3, 5, 8]
    series = [("teacher", {k: 0.8 / k for k in ks}, "o-", "k"), ("ce", {k: 0.7 / k for k in ks}, "s--", "C0"),
              ("best possible,\ngroups of 16", {k: 0.9 / k for k in ks}, "--", "0.5")]
    fits_the_page(figures.purity_plot(ks, series, 0.04, "neighbour purity within groups of 16,\n"
                                                        "miniature (CUB layout) test split"))


def test_js_figure():
    rng = np.random.default_rng(1)
    js = {m: rng.uniform(0, 0.4, 90) for m in ("ce", "vl2lite", "pand")}
    q = {m: rng.dirichlet(np.ones(24)) for m in js}
    fits_the_page(figures.js_figure(js, rng.dirichlet(np.ones(24)), q))


def test_lr_schedules():
    fits_the_page(figures.lr_schedules([1e-4 * (1 + np.cos(np.pi * e / 100)) / 2 for e in range(300)],
                                       "paper recipe: 300 epochs,\nT_max = 100", list(range(20)),
                                       [1e-3 * (1 + np.cos(np.pi * e / 7)) / 2 for e in range(20)],
                                       "this run: 20 epochs,\nT_max = 7"))


@pytest.mark.parametrize("val", [False, True])
def test_plot_stage2_is_one_figure_at_the_page_width(val):
    fig = plot_stage2(stage2_metrics(val=val))
    fits_the_page(fig)
    assert len(fig.axes) == 4  # loss terms, α (its twin axis), accuracy, learning rate


def test_bar_chart_and_interval_plot():
    rows = [{"method": m, "student": "pand-mini-resnet", "teacher_mode": "bank" if m != "ce" else None,
             "last_mean": 60.0 + i, "last_std": 2.0, "best_mean": 61.0 + i, "best_std": 2.0,
             "paper": 70.0 if m == "pand" else None}
            for i, m in enumerate(["ce", "kd", "vl2lite-original", "vl2lite", "pand-no-psc", "pand-no-nlrd", "pand"])]
    ax = bar_chart(rows, title="miniature (CUB layout), pand-mini-resnet")
    ax.figure.tight_layout()  # as the results page does
    fits_the_page(ax.figure)
    assert "pand-mini-resnet" not in " ".join(t.get_text() for t in ax.get_xticklabels())  # the title names it
    summary = {"methods": {r["method"]: {"test_acc_last": {"values": [59.0, 61.0, 62.0], "mean": 60.7,
                                                            "ci95": [57.0, 64.0]}} for r in rows}}
    ax = interval_plot(summary, title="miniature (CUB layout): your seeds and 95 % intervals")
    ax.figure.tight_layout()
    fits_the_page(ax.figure)


def test_confusion_panel_numbers_the_columns_and_names_the_rows():
    labels = torch.arange(12).repeat_interleave(5)
    predicted = labels.clone()
    predicted[::5] = (labels[::5] + 2) % 12  # one image of every class taken for the class two ids on
    conf = confusion_matrix(torch.nn.functional.one_hot(predicted, 12).float(), labels, 12)
    ax = confusion_panel(conf, NAMES, title="miniature (CUB layout): the classes the pand student confuses most")
    fits_the_page(ax.figure)
    rows = [t.get_text() for t in ax.get_yticklabels()]
    assert rows[0].startswith("1  ") and all(t.get_text().isdigit() for t in ax.get_xticklabels())


def test_anchor_diagnosis_figure_from_the_studys_records():
    rng = np.random.default_rng(2)
    rows = [{"hand": {"accuracy": 82 + rng.normal(), "top_probability": 0.72, "kd_target_entropy": 1.75},
             "calibrated": {"accuracy": 87 + rng.normal(), "top_probability": 0.74, "kd_target_entropy": 1.66},
             "students": {"pand": 62 + rng.normal(), "pand-no-psc": 63 + rng.normal()}} for _ in range(6)]
    fits_the_page(figures.anchor_diagnosis_figure(rows))


def test_the_stage2_sentence_says_whether_the_curve_still_climbs():
    text = figures.stage2_progress_markdown(stage2_metrics(8), steps_per_epoch=6)
    assert "had not converged" in text and "48 optimiser steps (8 epochs of 6)" in text
    flat = [dict(m, test_acc=60.0) for m in stage2_metrics(8)]
    assert figures.stage2_progress_markdown(flat, 6).startswith("The test accuracy had levelled off")


def test_the_nlrd_conclusion_reads_its_numbers():
    text = figures.nlrd_conclusion_markdown({"ce": 0.51, "vl2lite": 0.64, "pand": 0.59},
                                            {"ce": 0.18, "vl2lite": 0.15, "pand": 0.125},
                                            {"ce": 63.96, "vl2lite": 60.0, "pand": 62.71}, 0.2,
                                            purity=(3, 0.201, 0.203, 0.04))
    assert "`pand` is the closest" in text and "`vl2lite` keeps the most" in text and "`ce` is the most accurate" in text
    assert "is lowest for `pand`" in text and "`pand` does not keep the most of the graph or score best" in text
    assert "Every student shares more" in text and "20.1 %" in text and "near the best its groups allow" in text


def test_the_pattern_shift_explains_a_moved_boundary():
    names = ["A Plain Finch", "A Striped Finch", "A Spotted Finch"]
    labels = torch.tensor([0] * 4 + [1] * 4 + [2] * 4)
    before = torch.tensor([0] * 4 + [2, 2, 2, 1] + [2] * 4)  # three Striped taken for Spotted
    after = torch.tensor([0] * 4 + [1] * 4 + [1, 2, 2, 2])  # none, and one Spotted taken for Striped
    gain = torch.tensor([0.0, 75.0, -25.0])
    text = pattern_shift_markdown(labels, before, after, names, gain, ("Plain", "Striped", "Spotted"))
    assert "Striped: 1 of 1 gain, 0 lose; Spotted: 0 of 1 gain, 1 lose" in text
    assert "| Striped (4 images) | 0 → 0 | 1 → 4 | 3 → 0 |" in text
    assert "every Striped class gains and every Spotted class loses" in text
    assert pattern_shift_markdown(labels, before, after, ["x", "y", "z"], gain, ("Plain",)) == ""
