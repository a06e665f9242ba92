"""What the "Your own data set" page reads off an image folder and an export (`report.own_data`), and the GPU hours
it estimates for a folder of any size (`batch.estimates`, `book.accelerator.folder_plan_markdown`)."""

from __future__ import annotations

import pytest
from conftest import write_jpg

from pand_core.batch.estimates import estimate, split_sizes
from pand_core.batch.jobs import TrainingJob
from pand_core.book.accelerator import GPU_CARDS, card_tflops, duration, folder_plan_markdown
from pand_core.config import SPLIT_SIZES, SplitSizes, make_config
from pand_core.data.folder import folder_sizes
from pand_core.infra.errors import ConfigError
from pand_core.report.own_data import folder_markdown, predictions_markdown, top1_accuracy, true_class


def _folder(root, classes):
    for c, (n_train, n_test) in classes.items():
        for split, n in (("train", n_train), ("test", n_test)):
            for k in range(n):
                write_jpg(root / split / c / f"{k}.jpg", seed=k, size=8)
    (root / "train" / "b_wren" / "notes.txt").write_text("not an image")
    return root


def test_a_folder_is_counted_from_its_file_names(tmp_path):
    root = _folder(tmp_path, {"a_tern": (5, 2), "b_wren": (6, 3), "c_gull": (5, 1)})
    assert folder_sizes(root) == SplitSizes(train=16, test=6, classes=3)
    assert split_sizes("paper", "folder", str(root)) == (16, 6, 3)
    assert split_sizes("paper", "cub") == SPLIT_SIZES["cub"]
    with pytest.raises(ConfigError, match="needs its folder"):
        split_sizes("paper", "folder")


def test_the_folder_table_lists_classes_names_counts_and_the_prompt(tmp_path):
    root = _folder(tmp_path, {"a_tern": (5, 2), "b_wren": (6, 3), "c_gull": (5, 1)})
    (root / "classnames.txt").write_text("b_wren Winter Wren\n")
    text = folder_markdown(root, rows=2)
    assert "| 0 | `a_tern` | a tern | 5 | 2 |" in text and "| 1 | `b_wren` | Winter Wren | 7 | 3 |" in text
    assert "1 more class folders" in text and "3 classes, 16 training and 6 test images" in text
    assert "“a photo of a {}.”, the paper's default" in text
    (root / "template.txt").write_text("a bird: {}.\n")
    assert "“a bird: {}.”, from the folder's `template.txt`" in folder_markdown(root)
    assert "“{} again.”, given to the run" in folder_markdown(root, template="{} again.")
    assert str(tmp_path) not in folder_markdown(root)  # no path of this machine on the page


def test_predictions_are_scored_against_their_class_folders(tmp_path):
    root = _folder(tmp_path, {"a_tern": (5, 2), "b_wren": (6, 1)})
    results = [{"path": str(root / "test" / "a_tern" / "0.jpg"), "top_k": [("a tern", 0.7), ("b wren", 0.3)]},
               {"path": str(root / "test" / "a_tern" / "1.jpg"), "top_k": [("b wren", 0.6), ("a tern", 0.4)]},
               {"path": str(root / "test" / "b_wren" / "0.jpg"), "top_k": [("b wren", 0.9), ("a tern", 0.1)]},
               {"path": str(root / "test" / "b_wren" / "broken.jpg"), "top_k": [], "error": "unreadable"}]
    assert top1_accuracy(results, root) == pytest.approx(200 / 3)
    assert true_class(results[2]["path"], root) == "b wren"
    table = predictions_markdown(results, root, rows=3)
    assert table.splitlines()[0] == "| image | true class | top 1 | top 2 |"
    assert "| `1.jpg` | a tern | b wren (60 %) | a tern (40 %) |" in table and "broken" not in table


def _jobs(teacher_mode: str):
    stage1 = TrainingJob("s1", "calibrate", make_config("calibrate", "paper"))
    stage2 = TrainingJob("s2", "distill", make_config("distill", "paper", method="pand", teacher_mode=teacher_mode))
    return stage1, stage2


def test_stage2_hours_grow_in_proportion_to_the_folder(tmp_path):
    small, double = SplitSizes(1000, 400, 50), SplitSizes(2000, 800, 50)
    for mode in ("online", "bank"):
        stage2 = _jobs(mode)[1]
        assert estimate(stage2, sizes=double).seconds == pytest.approx(2 * estimate(stage2, sizes=small).seconds)
    root = _folder(tmp_path, {"a_tern": (5, 2), "b_wren": (6, 3)})
    job = TrainingJob("f", "distill", make_config("distill", "paper", method="pand", dataset="folder",
                                                  data_root=str(root)))
    assert estimate(job).seconds == estimate(job, sizes=SplitSizes(11, 5, 2)).seconds  # counted from the folder


def test_the_folder_plan_gives_each_teacher_its_hours_or_does_not_fit():
    sizes = SPLIT_SIZES["cub"]
    table = folder_plan_markdown(sizes, "a folder the size of CUB-200").splitlines()
    assert table[0] == "| teacher | mode | GPU memory it needs | T4 (16 GB) | L4 (24 GB) | H100 80 GB (SXM) |"
    online, bank, cheap = table[2:5]
    assert online.startswith("| ConvNeXt-XXL (the paper's) | online | from 22 GiB | does not fit |")
    peak = dict((n, p) for n, _, p in GPU_CARDS)["H100 80 GB (SXM)"]
    stage1, stage2 = _jobs("bank")
    s1, s2 = (estimate(j, card_tflops(peak), sizes).seconds for j in (stage1, stage2))
    assert s1 >= 3600 > s2 >= 60 and bank.endswith(f"| {s1 / 3600:.1f} h + {s2 / 60:.0f} min |")
    assert [duration(s) for s in (30, 90, 3599, 3600, 5400)] == ["under 1 min", "2 min", "60 min", "1.0 h", "1.5 h"]
    assert cheap.startswith("| ViT-B-32 (openai) | online | from 4 GiB |") and "does not fit" not in cheap
    assert "5,994 training and 5,794 test images, 200 classes" in table[-1]


def test_what_the_loader_warns_about_is_noted_under_the_table_once(tmp_path):
    root = _folder(tmp_path, {"a_tern": (3, 2), "b_wren": (6, 3)})  # a_tern: fewer than 5 training images
    text = folder_markdown(root)
    assert text.count("**Note:**") == 2
    assert "1 class(es) with fewer than 5 training images: a_tern (3)" in text
    assert "skipped 1 file(s) that are not images" in text and "notes.txt" in text
