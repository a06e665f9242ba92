"""Which classes a student confuses: the confusion matrix of its predictions, the most frequent confusions, the words
that separate the confused classes' names, and the panel the Stage 2 page draws."""

from __future__ import annotations

import torch


def confusion_matrix(logits: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """`[C, C]` counts: row = true class, column = predicted class (argmax of `logits`)."""
    conf = torch.zeros(num_classes, num_classes, dtype=torch.long)
    conf.index_put_((labels.long(), logits.argmax(-1)), torch.ones(len(labels), dtype=torch.long), accumulate=True)
    return conf


def most_confused(conf: torch.Tensor, n: int) -> list[tuple[int, int, int]]:
    """The `n` most frequent confusions as (true class, predicted class, count), largest first; pairs that never
    occurred are left out."""
    off = conf.clone().fill_diagonal_(0)
    C = conf.shape[0]
    order = torch.argsort(off.flatten(), descending=True, stable=True)[:n]
    return [(int(p) // C, int(p) % C, int(off.flatten()[p])) for p in order if off.flatten()[p] > 0]


def name_difference(a: str, b: str) -> str:
    """The words of class name `a` that `b` lacks ↔ those of `b` that `a` lacks ("Spotted ↔ Striped")."""
    wa, wb = a.split(), b.split()
    return f"{' '.join(w for w in wa if w not in wb)} ↔ {' '.join(w for w in wb if w not in wa)}"


def confusion_summary(conf: torch.Tensor, classnames: list[str], top: int = 3) -> str:
    """One Markdown sentence: how many test images are wrong, the `top` most frequent confusions, their share of the
    errors and the words that separate the confused names."""
    errors, total = int(conf.sum() - conf.trace()), int(conf.sum())
    pairs = most_confused(conf, top)
    if not pairs:
        return f"All {total} test images are classified correctly."
    lines = [f"{n} × *{classnames[i]}* taken for *{classnames[j]}*" for i, j, n in pairs]
    share = sum(n for _, _, n in pairs) / errors
    words = sorted({name_difference(classnames[i], classnames[j]) for i, j, _ in pairs})
    return (f"{errors} of {total} test images are misclassified. The {len(pairs)} most frequent confusions "
            f"({'; '.join(lines)}) account for {100 * share:.0f} % of them; in each, the two class names differ in "
            f"{', '.join(f'**{w}**' for w in words)}: that is the difference the student has not learned to see.")


def confusion_panel(conf: torch.Tensor, classnames: list[str], pairs: int = 6, ax=None):
    """The confusion matrix restricted to the classes of the `pairs` most frequent confusions, counts written in."""
    import matplotlib.pyplot as plt

    classes = sorted({c for i, j, _ in most_confused(conf, pairs) for c in (i, j)})
    if ax is None:
        _, ax = plt.subplots(figsize=(0.55 * len(classes) + 3, 0.55 * len(classes) + 2))
    sub = conf[classes][:, classes].numpy()
    ax.imshow(sub, cmap="Blues")
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(j, i, sub[i, j], ha="center", va="center", fontsize=8, color="k" if sub[i, j] < sub.max() / 2 else "w")
    names = [classnames[c] for c in classes]
    ax.set_xticks(range(len(classes)), names, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(classes)), names, fontsize=7)
    ax.set(xlabel="predicted", ylabel="true", title="most confused classes")
    ax.grid(False)
    ax.figure.tight_layout()
    return ax
