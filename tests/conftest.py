"""Shared fixtures: a tiny teacher and small data-set trees in each benchmark's official layout."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pand_core.miniature.world import SyntheticSpec, make_synthetic_cub
from pand_core.models import build_tiny_teacher


def write_jpg(path: Path, seed: int = 0, size: int = 24) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(path)


@pytest.fixture(scope="session")
def tiny_teacher():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_tiny_teacher(seed=0)


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synthetic")
    make_synthetic_cub(root, SyntheticSpec(n_classes=6, train_per_class=4, test_per_class=3, image_size=32), progress=False)
    return root


@pytest.fixture
def cub_root(tmp_path) -> Path:
    """A hand-written CUB tree whose files list ids in *different* orders (the loader must join on id)."""
    base = tmp_path / "CUB_200_2011"
    paths = {
        1: "001.Black_footed_Albatross/a1.jpg",
        2: "002.Laysan_Albatross/b1.jpg",
        3: "001.Black_footed_Albatross/a2.jpg",
        4: "003.Chuck_will_Widow/c1.jpg",
    }
    for i, rel in paths.items():
        write_jpg(base / "images" / rel, seed=i)
    (base / "images.txt").write_text("3 " + paths[3] + "\n1 " + paths[1] + "\n4 " + paths[4] + "\n2 " + paths[2] + "\n")
    (base / "image_class_labels.txt").write_text("2 2\n4 3\n1 1\n3 1\n")
    (base / "train_test_split.txt").write_text("4 0\n3 0\n2 1\n1 1\n")
    (base / "classes.txt").write_text("1 001.Black_footed_Albatross\n2 002.Laysan_Albatross\n3 003.Chuck_will_Widow\n")
    return tmp_path


@pytest.fixture
def aircraft_root(tmp_path) -> Path:
    data = tmp_path / "fgvc-aircraft-2013b" / "data"
    data.mkdir(parents=True)
    (data / "variants.txt").write_text("707-320\nA300B4\nATR-42\nFalcon 2000\n")
    rows = {  # image_id: (variant, manufacturer, split)
        "0001": ("A300B4", "Airbus", "train"),
        "0002": ("707-320", "Boeing", "train"),
        "0003": ("Falcon 2000", "Dassault Aviation", "val"),
        "0004": ("ATR-42", "ATR", "val"),
        "0005": ("707-320", "Boeing", "test"),
        "0006": ("Falcon 2000", "Dassault Aviation", "test"),
    }
    for split in ("train", "val", "trainval", "test"):
        members = [i for i, r in rows.items() if r[2] == split or (split == "trainval" and r[2] in ("train", "val"))]
        (data / f"images_variant_{split}.txt").write_text("".join(f"{i} {rows[i][0]}\n" for i in members))
        (data / f"images_manufacturer_{split}.txt").write_text("".join(f"{i} {rows[i][1]}\n" for i in members))
    for n, i in enumerate(rows):
        write_jpg(data / "images" / f"{i}.jpg", seed=n)
    return tmp_path


@pytest.fixture
def pets_root(tmp_path) -> Path:
    base = tmp_path / "oxford-iiit-pet"
    ann = base / "annotations"
    ann.mkdir(parents=True)
    (ann / "trainval.txt").write_text("Abyssinian_100 1 1 1\namerican_bulldog_100 2 2 1\nBritish_Shorthair_3 3 1 2\n")
    (ann / "test.txt").write_text("Abyssinian_201 1 1 1\nstaffordshire_bull_terrier_7 4 2 2\n")
    for n, name in enumerate(["Abyssinian_100", "american_bulldog_100", "British_Shorthair_3", "Abyssinian_201", "staffordshire_bull_terrier_7"]):
        write_jpg(base / "images" / f"{name}.jpg", seed=n)
    return tmp_path


def write_dogs_list(path: Path, files: list[str], labels: list[int]) -> None:
    from scipy.io import savemat

    file_list = np.empty((len(files), 1), dtype=object)
    for i, f in enumerate(files):
        file_list[i, 0] = np.array([f])
    savemat(str(path), {"file_list": file_list, "labels": np.array(labels, dtype=np.uint8).reshape(-1, 1)})


@pytest.fixture
def dogs_root(tmp_path) -> Path:
    train = ["n02085620-Chihuahua/n02085620_1.jpg", "n02085936-Maltese_dog/n02085936_1.jpg", "n02086240-Shih-Tzu/n02086240_1.jpg"]
    test = ["n02085936-Maltese_dog/n02085936_2.jpg", "n02085620-Chihuahua/n02085620_2.jpg"]
    write_dogs_list(tmp_path / "train_list.mat", train, [1, 2, 3])
    write_dogs_list(tmp_path / "test_list.mat", test, [2, 1])
    for n, rel in enumerate(train + test):
        write_jpg(tmp_path / "Images" / rel, seed=n)
    return tmp_path


@pytest.fixture
def cars_root(tmp_path) -> Path:
    from scipy.io import savemat

    base = tmp_path / "stanford_cars"
    (base / "devkit").mkdir(parents=True)
    names = np.empty((1, 3), dtype=object)
    for i, n in enumerate(["AM General Hummer SUV 2000", "Acura RL Sedan 2012", "Tesla Model S Sedan 2012"]):
        names[0, i] = np.array([n])
    savemat(str(base / "devkit" / "cars_meta.mat"), {"class_names": names})

    def annos(path, rows):
        dt = [("bbox_x1", "O"), ("bbox_y1", "O"), ("bbox_x2", "O"), ("bbox_y2", "O"), ("class", "O"), ("fname", "O")]
        arr = np.empty((1, len(rows)), dtype=dt)
        for i, (cls, fname) in enumerate(rows):
            arr[0, i] = (np.array([[1]]), np.array([[1]]), np.array([[20]]), np.array([[20]]), np.array([[cls]]), np.array([fname]))
        savemat(str(path), {"annotations": arr})

    annos(base / "devkit" / "cars_train_annos.mat", [(3, "00001.jpg"), (1, "00002.jpg")])
    annos(base / "cars_test_annos_withlabels.mat", [(2, "00001.jpg")])
    for n, rel in enumerate(["cars_train/00001.jpg", "cars_train/00002.jpg", "cars_test/00001.jpg"]):
        write_jpg(base / rel, seed=n)
    return tmp_path
