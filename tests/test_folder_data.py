"""Your own data set as an image folder (`pand_core.data.folder`): the layout it reads, the names and prompt it
takes, one clear message for each mistake, and the same numbers as the CUB loader on the same images."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from conftest import write_jpg

from pand_core.config import make_config
from pand_core.data import load_dataset
from pand_core.data.folder import DEFAULT_TEMPLATE, MIN_TRAIN_IMAGES, FolderDataWarning, write_image_folder
from pand_core.infra.errors import ConfigError, DatasetNotFoundError


def _folder(root: Path, classes: dict[str, tuple[int, int]]) -> Path:
    """`root/train/<c>/` and `root/test/<c>/` with (train, test) images per class folder."""
    for c, (n_train, n_test) in classes.items():
        for split, n in (("train", n_train), ("test", n_test)):
            for k in range(n):
                write_jpg(root / split / c / f"{k}.jpg", seed=k, size=8)
    return root


def test_labels_names_and_the_default_prompt(tmp_path):
    root = _folder(tmp_path, {"sea_gull": (5, 2), "Black-tern": (5, 1)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to warn about here
        train, test = load_dataset("folder", root, "train"), load_dataset("folder", root, "test")
    assert train.classnames == ["Black tern", "sea gull"]  # sorted folders: 'B' < 's'
    assert [y for _, y in train.samples] == [0] * 5 + [1] * 5 and test.targets == [0, 1, 1]
    assert train.template == DEFAULT_TEMPLATE == "a photo of a {}." and train.prompts()[1] == "a photo of a sea gull."
    assert "default" in train.template_source


def test_a_names_file_and_a_template_file_or_flag(tmp_path):
    root = _folder(tmp_path, {"c1": (5, 1), "c2": (5, 1)})
    (root / "classnames.txt").write_text("# folder name\nc1 Laysan Albatross\n")
    (root / "template.txt").write_text("a photo of {}, a type of bird\n")
    ds = load_dataset("folder", root, "train")
    assert ds.classnames == ["Laysan Albatross", "c2"] and ds.prompts()[0] == "a photo of Laysan Albatross, a type of bird"
    assert str(root / "template.txt") in ds.template_source
    given = load_dataset("folder", root, "train", template="a close-up of {}.")
    assert given.template == "a close-up of {}." and "given" in given.template_source
    (root / "classnames.txt").unlink()
    (root / "classnames.json").write_text(json.dumps({"c2": "Sooty Tern"}))
    assert load_dataset("folder", root, "test").classnames == ["c1", "Sooty Tern"]


@pytest.mark.parametrize("mistake, error, words", [
    ("test-only class", ConfigError, ["holds class folders that", "does not: ['owl']"]),
    ("empty class", DatasetNotFoundError, ["empty_one", "holds no images"]),
    ("unknown name", ConfigError, ["names class folders that", "['ghost']"]),
    ("duplicate names", ConfigError, ["'a-b' and 'a_b' both get the class name 'a b'"]),
    ("no template slot", ConfigError, ["must hold '{}' once"]),
    ("no train", DatasetNotFoundError, ["train is missing", "Expected layout"]),
])
def test_each_mistake_gets_one_clear_message(tmp_path, mistake, error, words):
    root = _folder(tmp_path, {"gull": (5, 1), "tern": (5, 1)})
    if mistake == "test-only class":
        write_jpg(root / "test" / "owl" / "0.jpg")
    elif mistake == "empty class":
        (root / "train" / "empty_one").mkdir()
    elif mistake == "unknown name":
        (root / "classnames.txt").write_text("gull Herring Gull\nghost Ghost Bird\n")
    elif mistake == "duplicate names":
        _folder(root, {"a_b": (5, 1), "a-b": (5, 1)})
    elif mistake == "no template slot":
        (root / "template.txt").write_text("a photo of a bird\n")
    elif mistake == "no train":
        root = tmp_path / "elsewhere"
        root.mkdir()
    with pytest.raises(error) as caught:
        load_dataset("folder", root, "test" if mistake == "test-only class" else "train")
    assert all(w in str(caught.value) for w in words), str(caught.value)


def test_files_that_are_not_images_are_skipped_and_small_classes_counted(tmp_path):
    root = _folder(tmp_path, {"gull": (MIN_TRAIN_IMAGES - 2, 1), "tern": (MIN_TRAIN_IMAGES, 1)})
    (root / "train" / "tern" / "notes.txt").write_text("not an image")
    (root / "train" / "tern" / ".DS_Store").write_bytes(b"\0")  # hidden files are not even listed
    with pytest.warns(FolderDataWarning) as caught:
        ds = load_dataset("folder", root, "train")
    said = [str(w.message) for w in caught]
    assert len(ds) == 2 * MIN_TRAIN_IMAGES - 2 and not any(p.endswith(".txt") for p, _ in ds.samples)
    assert any("skipped 1 file(s) that are not images" in s and "notes.txt" in s for s in said)
    assert any(f"1 class(es) with fewer than {MIN_TRAIN_IMAGES} training images: gull (3)" in s for s in said)


def test_the_configs_ask_for_a_folder_and_keep_the_template_to_it(tmp_path):
    with pytest.raises(ConfigError, match="name it with --data-root DIR"):
        make_config("calibrate", "smoke", dataset="folder").validate()
    with pytest.raises(ConfigError, match="template is for dataset 'folder' only"):
        make_config("distill", "smoke", template="a {}").validate()
    cfg = make_config("distill", "smoke", dataset="folder", data_root=str(tmp_path), template="a {}")
    cfg.validate()
    assert cfg.out.endswith("smoke/folder/pand-pand-mini-resnet-s0")


@pytest.mark.filterwarnings("ignore::pand_core.data.folder.FolderDataWarning")  # the small world: 4 per class
def test_a_written_folder_reads_back_as_the_same_data_set(synthetic_root, tmp_path):
    splits = {s: load_dataset("cub", synthetic_root, s) for s in ("train", "test")}
    dest = write_image_folder(splits, tmp_path / "folder")
    for split, original in splits.items():
        again = load_dataset("folder", dest, split)
        assert again.classnames == original.classnames and again.template == original.template
        assert again.targets == original.targets
        assert [Path(p).read_bytes() for p, _ in again.samples] == [Path(p).read_bytes() for p, _ in original.samples]


@pytest.mark.slow  # a Stage 1 and a Stage 2 run through each loader on the small world (seconds)
@pytest.mark.filterwarnings("ignore::pand_core.data.folder.FolderDataWarning")
@pytest.mark.parametrize("method, mode", [("pand", "online"), ("vl2lite", "bank")])
def test_the_folder_gives_the_numbers_of_the_cub_loader_on_the_same_images(synthetic_root, tmp_path, monkeypatch,
                                                                            method, mode):
    """Stage 1 and Stage 2 on the small world read as CUB and as the image folder written from it: every number
    the runs record is the same (only the folders and the data set's name differ)."""
    from pand_core.stage1.calibrate import calibrate
    from pand_core.stage2.distill import distill

    monkeypatch.setenv("PAND_CACHE", str(tmp_path / "cache"))
    folder = write_image_folder({s: load_dataset("cub", synthetic_root, s) for s in ("train", "test")},
                                tmp_path / "folder")
    results, losses = {}, {}
    for dataset, root in (("cub", synthetic_root), ("folder", folder)):
        common = dict(dataset=dataset, data_root=str(root), teacher="pand-tiny-clip", seed=3)
        stage1 = calibrate(make_config("calibrate", "smoke", runs=tmp_path / "runs", epochs=2, n_ctx=4, **common),
                           progress=False)
        cfg = make_config("distill", "smoke", runs=tmp_path / "runs", method=method, epochs=2, batch_size=8,
                          nlrd_group_size=4, image_size=32, resize=36, student_pretrained=False, teacher_mode=mode,
                          anchors=stage1["anchors"], **common)
        stage2 = distill(cfg, progress=False)
        results[dataset] = (stage1, stage2)
        losses[dataset] = [json.loads(x)["loss"] for x in (Path(cfg.out) / "metrics.jsonl").read_text().splitlines()]
    (cub1, cub2), (folder1, folder2) = results["cub"], results["folder"]
    assert (cub1["dataset"], folder1["dataset"]) == ("cub", "folder")
    for key in ("hand_prompt_acc", "calibrated_acc"):
        assert cub1[key] == folder1[key], key
    for key in ("test_acc_last", "test_acc_best", "best_epoch", "labels"):
        assert cub2[key] == folder2[key], key
    assert losses["cub"] == losses["folder"] and len(losses["cub"]) == 2


@pytest.mark.slow  # a one-seed study of every method on the small world as a folder, then a resume (seconds)
@pytest.mark.filterwarnings("ignore::pand_core.data.folder.FolderDataWarning")
def test_a_study_of_every_method_runs_and_resumes_on_a_folder(synthetic_root, tmp_path, monkeypatch):
    """The study (Stage 1, then every method) reads an image folder as it reads CUB; a run whose result was lost
    resumes from its checkpoint, and the summary is the same as before."""
    from pand_core.config import STUDY_METHODS
    from pand_core.study import run_study

    monkeypatch.setenv("PAND_CACHE", str(tmp_path / "cache"))
    folder = write_image_folder({s: load_dataset("cub", synthetic_root, s) for s in ("train", "test")},
                                tmp_path / "folder")
    tiny = {"teacher": "pand-tiny-clip", "epochs": 2}
    overrides = {"calibrate": dict(tiny, n_ctx=4), "distill": dict(tiny, batch_size=8, nlrd_group_size=4, image_size=32,
                                                                   resize=36, student_pretrained=False)}
    kw = dict(runs=tmp_path / "runs", data_root=str(folder), progress=False, log=lambda line: None, overrides=overrides)
    summary = json.loads(run_study("smoke", "folder", STUDY_METHODS, [0], **kw).read_text())
    runs = sorted((tmp_path / "runs" / "smoke" / "folder").glob("*-s0"))
    assert len(runs) == len(STUDY_METHODS) + 1  # Stage 1 and each method
    labels = json.loads((runs[-1] / "result.json").read_text())["labels"]
    assert labels == load_dataset("cub", synthetic_root, "train").classnames
    lost = next(r for r in runs if r.name.startswith("pand-"))
    (lost / "result.json").unlink()
    again = json.loads(run_study("smoke", "folder", STUDY_METHODS, [0], **kw).read_text())
    assert json.loads((lost / "result.json").read_text())["labels"] == labels
    drop = ("summary_path", "written", "seconds", "train_time_s", "time_s", "environment")
    strip = lambda d: {k: v for k, v in d.items() if k not in drop}  # noqa: E731
    assert strip(again) == strip(summary)
