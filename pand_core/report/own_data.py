"""The "Your own data set" page's tables and figure: an image folder at a glance, a run on it against its teacher,
an export folder's files and the predictions made with it."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..data.folder import FolderDataWarning, folder_classnames, folder_sizes, folder_template, load_folder
from .figures import _figure, epoch_axes


def folder_markdown(root: str | Path, rows: int = 6, template: str | None = None) -> str:
    """A Markdown table of an image folder's first `rows` classes (label, class folder, class name, images per
    split), a line for the rest, the counts and prompt template a run on it will use, and what reading it warns
    about (`folder_notes`).

    Args:
        root: The data set's folder (`train/`, `test/`, optional `val/`, `classnames.txt`, `template.txt`).
        rows: How many classes to list.
        template: The template given to the run (`--template`); None: the folder's or the default.
    """
    root = Path(root)
    folders, names = folder_classnames(root)
    splits = [s for s in ("train", "test", "val") if (root / s).is_dir()]

    def count(split: str, folder: str) -> int:
        d = root / split / folder
        return sum(1 for p in d.iterdir() if p.is_file()) if d.is_dir() else 0

    lines = ["| label | class folder | class name | " + " | ".join(splits) + " |", "|---|---|---|" + "---|" * len(splits)]
    for label, (folder, name) in enumerate(list(zip(folders, names))[:rows]):
        lines.append(f"| {label} | `{folder}` | {name} | " + " | ".join(str(count(s, folder)) for s in splits) + " |")
    if len(folders) > rows:
        lines.append(f"| … | {len(folders) - rows} more class folders | | " + " | ".join("" for _ in splits) + " |")
    sizes = folder_sizes(root)
    chosen = folder_template(root, template)[0]
    notes = folder_notes(root)
    source = ("given to the run" if template is not None else "from the folder's `template.txt`"
              if (root / "template.txt").exists() else "the paper's default (the folder has no `template.txt`)")
    return ("\n".join(lines) + f"\n\n{sizes.classes} classes, {sizes.train} training and {sizes.test} test images. "
            f"Prompt template: “{chosen}”, {source}." + "".join(f"\n\n**Note:** {n}" for n in notes))


def folder_notes(root: str | Path) -> list[str]:
    """What reading an image folder's splits warns about (`data.folder.FolderDataWarning`: skipped files, small
    classes), as sentences, each once, with files named relative to `root`.

    Args:
        root: The data set's folder.
    """
    root = Path(root)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FolderDataWarning)
        for split in ("train", "test", "val"):
            if (root / split).is_dir():
                load_folder(root, split)
    notes = [str(w.message).replace(f"{root}/", "") for w in caught if issubclass(w.category, FolderDataWarning)]
    return list(dict.fromkeys(notes))  # files named inside the folder, not by this machine's path


def own_run_figure(metrics: Sequence[Mapping], hand_test_acc: float, calibrated_test_acc: float, title: str):
    """The student's test accuracy per epoch of a Stage 2 run, beside its teacher's with hand prompts and with
    Stage 1's learned prompts (dashed); returns the figure.

    Args:
        metrics: The Stage 2 run's `metrics.jsonl` records (`epoch`, `test_acc`; epochs not scored are skipped).
        hand_test_acc: The teacher's test accuracy with the hand-written prompt (%).
        calibrated_test_acc: The teacher's test accuracy with the learned prompts (%).
        title: The figure's title.
    """
    scored = [m for m in metrics if m.get("test_acc") is not None]
    fig = _figure(3.4)
    ax = fig.add_subplot()
    ax.plot([m["epoch"] for m in scored], [m["test_acc"] for m in scored], marker="o", ms=3, label="student")
    ax.axhline(calibrated_test_acc, ls="--", c="tab:green", label="teacher,\nlearned prompts")
    ax.axhline(hand_test_acc, ls=":", c="grey", label="teacher,\nhand prompt")
    ax.set(title=title, xlabel="epoch", ylabel="test accuracy (%)", ylim=(0, 100))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
    epoch_axes(ax)
    return fig


def export_files_markdown(export_dir: str | Path) -> str:
    """A Markdown table of an export folder's files and their sizes.

    Args:
        export_dir: The folder `deploy.export_run` wrote.
    """
    rows = ["| file | size |", "|---|---|"]
    for p in sorted(Path(export_dir).iterdir()):
        if p.is_file():
            size = p.stat().st_size
            rows.append(f"| `{p.name}` | {size / 2**20:.2f} MiB |" if size >= 2**20 else f"| `{p.name}` | {size / 1024:.1f} KiB |")
    return "\n".join(rows)


def true_class(path: str | Path, root: str | Path) -> str:
    """The class name of an image in an image folder, from its class folder (`classnames.txt` applied).

    Args:
        path: An image under `root/<split>/<class folder>/`.
        root: The data set's folder.
    """
    folders, names = folder_classnames(root)
    return dict(zip(folders, names))[Path(path).parent.name]


def predictions_markdown(results: Sequence[Mapping], root: str | Path, rows: int = 4) -> str:
    """A Markdown table of `rows` predictions (`deploy.predict_images`) spread over the list: each image, its true
    class and the top classes with their probabilities.

    Args:
        results: `predict_images`'s list (`path`, `top_k`).
        root: The data set's folder the images are in (their true classes).
        rows: How many images to show.
    """
    readable = [r for r in results if r["top_k"]]
    shown = readable[::max(1, len(readable) // rows)][:rows]
    k = max(len(r["top_k"]) for r in shown)
    out = ["| image | true class | " + " | ".join(f"top {i + 1}" for i in range(k)) + " |", "|---|---|" + "---|" * k]
    for r in shown:
        cells = [f"{name} ({100 * p:.0f} %)" for name, p in r["top_k"]]
        out.append(f"| `{Path(r['path']).name}` | {true_class(r['path'], root)} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def top1_accuracy(results: Sequence[Mapping], root: str | Path) -> float:
    """The share (%) of readable images whose top class is their class folder's (the export's test accuracy).

    Args:
        results: `predict_images`'s list for images in `root`'s class folders.
        root: The data set's folder.
    """
    folders, names = folder_classnames(root)
    by_folder = dict(zip(folders, names))
    scored = [r for r in results if r["top_k"]]
    return 100.0 * sum(r["top_k"][0][0] == by_folder[Path(r["path"]).parent.name] for r in scored) / len(scored)
