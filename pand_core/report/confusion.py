"""Which classes a student confuses: the confusion matrix of its predictions, the most frequent confusions, the words
that separate the confused classes' names, and the panel the Stage 2 page draws."""

from __future__ import annotations

import torch


def confusion_matrix(logits: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """`[C, C]` counts: row = true class, column = predicted class (argmax of `logits`).

    Args:
        logits: Scores `[N, C]`.
        labels: Class indices `[N]`.
        num_classes: The number of classes C.
    """
    conf = torch.zeros(num_classes, num_classes, dtype=torch.long)
    conf.index_put_((labels.long(), logits.argmax(-1)), torch.ones(len(labels), dtype=torch.long), accumulate=True)
    return conf


def most_confused(conf: torch.Tensor, n: int) -> list[tuple[int, int, int]]:
    """The `n` most frequent confusions as (true class, predicted class, count), largest first; pairs that never
    occurred are left out.

    Args:
        conf: A `confusion_matrix` `[C, C]`.
        n: The most confusions returned.
    """
    off = conf.clone().fill_diagonal_(0)
    C = conf.shape[0]
    order = torch.argsort(off.flatten(), descending=True, stable=True)[:n]
    return [(int(p) // C, int(p) % C, int(off.flatten()[p])) for p in order if off.flatten()[p] > 0]


def name_difference(a: str, b: str) -> str:
    """The words of class name `a` that `b` lacks ↔ those of `b` that `a` lacks ("Spotted ↔ Striped").

    Args:
        a: A class name (words separated by white space).
        b: Another class name.
    """
    wa, wb = a.split(), b.split()
    return f"{' '.join(w for w in wa if w not in wb)} ↔ {' '.join(w for w in wb if w not in wa)}"


def confusion_summary(conf: torch.Tensor, classnames: list[str], top: int = 3) -> str:
    """One Markdown sentence: how many test images are wrong, the `top` most frequent confusions, their share of the
    errors and the words that separate the confused names.

    Args:
        conf: A `confusion_matrix` `[C, C]` of the test split.
        classnames: The C class names, in class-index order.
        top: How many of the most frequent confusions are named.
    """
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


def confusion_panel(conf: torch.Tensor, classnames: list[str], pairs: int = 6, ax=None, title: str = ""):
    """The confusion matrix restricted to the classes of the `pairs` most frequent confusions, counts written in, at
    the page's width: rows carry the numbered class names, columns only the numbers; returns the axes.

    Args:
        conf: A `confusion_matrix` `[C, C]`.
        classnames: The C class names, in class-index order.
        pairs: How many of the most frequent confusions choose the classes shown.
        ax: The axes to draw on; None: a new figure (the title then goes over the whole figure).
        title: The title; "": "the most confused classes: test images per true and predicted class".
    """
    import matplotlib.pyplot as plt

    from .style import PAGE_WIDTH_IN

    classes = sorted({c for i, j, _ in most_confused(conf, pairs) for c in (i, j)})
    created = ax is None
    if created:
        _, ax = plt.subplots(figsize=(PAGE_WIDTH_IN, 0.3 * len(classes) + 1.6), layout="constrained")
    sub = conf[classes][:, classes].numpy()
    ax.imshow(sub, cmap="Blues", aspect="auto")
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(j, i, sub[i, j], ha="center", va="center", fontsize=9,
                    color="k" if sub[i, j] < sub.max() / 2 else "w")
    ax.set_xticks(range(len(classes)), [str(n + 1) for n in range(len(classes))])
    ax.set_yticks(range(len(classes)), [f"{n + 1}  {classnames[c]}" for n, c in enumerate(classes)])
    ax.set(xlabel="predicted class (numbered as the rows)", ylabel="true class")
    title = title or "the most confused classes: test images per true and predicted class"
    if created:  # over the whole figure: the names at the left make the matrix narrower than its title
        ax.figure.suptitle(title)
    else:
        ax.set_title(title)
    ax.grid(False)
    return ax


def pattern_shift_markdown(labels, before, after, classnames: list[str], gain, patterns: tuple[str, ...],
                           names: tuple[str, str] = ("hand prompts", "calibrated anchors")) -> str:
    """Markdown: the classes grouped by which of `patterns` (words of their names, e.g. the miniature's wing
    patterns) they carry, how many gain and lose from `before` to `after` (predicted classes), and a table of which
    pattern the test images of each pattern are taken for, with a sentence on the largest change; "" when a class name
    carries none of the words.

    Args:
        labels: The true class of each test image `[N]`.
        before: The predicted class of each test image `[N]` before the change (e.g. with hand prompts).
        after: The predicted class of each test image `[N]` after it (e.g. with calibrated anchors).
        classnames: The C class names, in class-index order; each holds one of `patterns` as a word.
        gain: Each class's change of test accuracy `[C]` from `before` to `after`: its sign counts the class as
            gaining or losing.
        patterns: The words that group the classes (the miniature's wing patterns: "Plain", "Striped", "Spotted").
        names: What `before` and `after` are called in the text.
    """
    of = [next((p for p in patterns if p in name.split()), None) for name in classnames]
    if any(p is None for p in of):
        return ""
    labels, before, after = (torch.as_tensor(x).long() for x in (labels, before, after))
    gain = torch.as_tensor(gain).float()

    def table(pred):
        return {(p, q): sum(1 for t, y in zip(labels.tolist(), pred.tolist()) if of[t] == p and of[y] == q)
                for p in patterns for q in patterns}

    t0, t1 = table(before), table(after)
    moves, every = [], {}
    for p in patterns:
        members = [c for c in range(len(classnames)) if of[c] == p]
        up, down = sum(1 for c in members if gain[c] > 0), sum(1 for c in members if gain[c] < 0)
        moves.append(f"{p}: {up} of {len(members)} gain, {down} lose")
        every[p] = "gain" if up == len(members) else "lose" if down == len(members) else ""
    head = "| true pattern | " + " | ".join(f"taken for {q}" for q in patterns) + " |"
    rows = [head, "|---" * (len(patterns) + 1) + "|"]
    rows += [f"| {p} ({sum(t0[p, q] for q in patterns)} images) | "
             + " | ".join(f"{t0[p, q]} → {t1[p, q]}" for q in patterns) + " |" for p in patterns]
    pairs = [(p, q) for p in patterns for q in patterns if p != q]
    p, q = max(pairs, key=lambda pq: abs(t1[pq] - t0[pq]))
    text = (f"With the {names[0]}, {t0[p, q]} {p} test images are taken for {q} species and {t0[q, p]} {q} ones "
            f"for {p}; with the {names[1]}, {t1[p, q]} and {t1[q, p]}.")
    if (t1[p, q] - t0[p, q]) * (t1[q, p] - t0[q, p]) < 0:
        fewer, more = (p, q) if t1[p, q] < t0[p, q] else (q, p)

        def errors(pred, pattern):
            return sum(1 for t, y in zip(labels.tolist(), pred.tolist()) if of[t] == pattern and t != y)

        e_f, e_m = (errors(before, fewer), errors(after, fewer)), (errors(before, more), errors(after, more))
        text += (f" The boundary between the two patterns moved rather than sharpened: the {fewer} images' errors "
                 f"went from {e_f[0]} to {e_f[1]} and the {more} images' from {e_m[0]} to {e_m[1]}.")
        cross_f, cross_m = t1[fewer, more] - t0[fewer, more], t1[more, fewer] - t0[more, fewer]
        if (e_f[1] - e_f[0]) * cross_f > 0 and (e_m[1] - e_m[0]) * cross_m > 0 and \
                abs(cross_f) >= abs(e_f[1] - e_f[0]) / 2 and abs(cross_m) >= abs(e_m[1] - e_m[0]) / 2:
            why = (f"this is why every {fewer} class gains and every {more} class loses"
                   if every[fewer] == "gain" and every[more] == "lose" else
                   f"this is where the {fewer} images' gain and the {more} images' loss come from")
            text += f" Most of both changes is that one shift ({cross_f:+d} and {cross_m:+d} images across it): {why}."
    return ("**By pattern** (" + "; ".join(moves) + "). Which pattern the test images are taken for, "
            f"{names[0]} → {names[1]}:\n\n" + "\n".join(rows) + "\n\n" + text)
