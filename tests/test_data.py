"""Data loaders: class names by the method doc's rules, id joins, splits, layouts, errors that name what is missing."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from PIL import Image

from pand_core.data import load_dataset, paper_test_transform, paper_train_transform
from pand_core.miniature.world import SyntheticSpec, make_synthetic_cub, synthetic_classes
from pand_core.data.transforms import CLIP_MEAN, RandomSquareResizedCrop
from pand_core.infra.errors import ConfigError, CorruptImageError, DatasetNotFoundError


# ------------------------------------------------------------------------------------------------ CUB
def test_cub_joins_on_image_id_not_line_position(cub_root):
    train = load_dataset("cub", cub_root, "train")
    test = load_dataset("cub", cub_root, "test")
    assert train.classnames == ["Black footed Albatross", "Laysan Albatross", "Chuck will Widow"]
    assert train.template == "a photo of {}, a type of bird"
    # ids 1, 2 are train; 3, 4 test; ordered by image id; labels are 1-based in the files
    assert [p.split("/images/")[1] for p, _ in train.samples] == ["001.Black_footed_Albatross/a1.jpg", "002.Laysan_Albatross/b1.jpg"]
    assert train.targets == [0, 1]
    assert [p.split("/images/")[1] for p, _ in test.samples] == ["001.Black_footed_Albatross/a2.jpg", "003.Chuck_will_Widow/c1.jpg"]
    assert test.targets == [0, 2]


def test_cub_items_are_pil_rgb_or_transformed(cub_root):
    ds = load_dataset("cub", cub_root, "train")
    image, label = ds[1]
    assert isinstance(image, Image.Image) and image.mode == "RGB" and label == 1
    ds_t = load_dataset("cub", cub_root, "train", transform=paper_test_transform(32))
    x, _ = ds_t[0]
    assert isinstance(x, torch.Tensor) and x.shape == (3, 32, 32)


def test_cub_accepts_the_cub_folder_itself(cub_root):
    a = load_dataset("cub", cub_root, "test")
    b = load_dataset("cub", cub_root / "CUB_200_2011", "test")
    assert a.samples == b.samples and a.classnames == b.classnames


def test_missing_root_names_path_and_tree(tmp_path):
    with pytest.raises(DatasetNotFoundError) as e:
        load_dataset("cub", tmp_path / "nowhere", "train")
    msg = str(e.value)
    assert str(tmp_path / "nowhere") in msg and "image_class_labels.txt" in msg and "Download:" in msg


def test_missing_file_is_named(cub_root):
    (cub_root / "CUB_200_2011" / "train_test_split.txt").unlink()
    with pytest.raises(DatasetNotFoundError, match="train_test_split.txt"):
        load_dataset("cub", cub_root, "train")


def test_unknown_split_and_dataset(cub_root):
    with pytest.raises(ConfigError, match=r"unknown split 'val'.*\['train', 'test'\]"):
        load_dataset("cub", cub_root, "val")
    with pytest.raises(ConfigError, match="unknown data set 'birds'"):
        load_dataset("birds", cub_root, "train")


def test_corrupt_and_truncated_images_name_the_file(cub_root):
    ds = load_dataset("cub", cub_root, "train")
    bad = ds.samples[0][0]
    with open(bad, "wb") as f:
        f.write(b"not an image at all")
    with pytest.raises(CorruptImageError, match="a1.jpg"):
        ds[0]
    good = ds.samples[1][0]
    data = open(good, "rb").read()
    with open(good, "wb") as f:
        f.write(data[: len(data) // 2])
    with pytest.raises(CorruptImageError, match="b1.jpg"):
        ds[1]


# ------------------------------------------------------------------------------------------- Aircraft
def test_aircraft_names_labels_and_splits(aircraft_root):
    ds = load_dataset("aircraft", aircraft_root, "trainval")
    assert ds.classnames == ["Boeing 707-320", "Airbus A300B4", "ATR ATR-42", "Dassault Aviation Falcon 2000"]
    assert ds.template == "a photo of {}, one of the airplane models"
    assert ds.targets == [1, 0, 3, 2]  # variants.txt order, not file order
    assert [len(load_dataset("aircraft", aircraft_root, s)) for s in ("train", "val", "test")] == [2, 2, 2]
    assert load_dataset("aircraft", aircraft_root, "test").classnames == ds.classnames
    # the fgvc-aircraft-2013b folder itself is accepted too
    assert load_dataset("aircraft", aircraft_root / "fgvc-aircraft-2013b", "test").samples == load_dataset("aircraft", aircraft_root, "test").samples
    assert ds[0][0].size == (24, 24)


def test_aircraft_missing_split_file(aircraft_root):
    (aircraft_root / "fgvc-aircraft-2013b" / "data" / "images_variant_val.txt").unlink()
    with pytest.raises(DatasetNotFoundError, match="images_variant_val.txt"):
        load_dataset("aircraft", aircraft_root, "val")


# ----------------------------------------------------------------------------------------------- Pets
def test_pets_names_and_labels(pets_root):
    ds = load_dataset("pets", pets_root, "trainval")
    assert ds.classnames == ["Abyssinian", "American Bulldog", "British Shorthair", "Staffordshire Bull Terrier"]
    assert ds.template == "a photo of {}, a type of pet"
    assert ds.targets == [0, 1, 2]  # CLASS-ID − 1
    assert load_dataset("pets", pets_root, "train").samples == ds.samples  # alias
    assert load_dataset("pets", pets_root, "test").targets == [0, 3]


def test_pets_missing_annotations(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="oxford-iiit-pet"):
        load_dataset("pets", tmp_path, "test")


# ----------------------------------------------------------------------------------------------- Dogs
def test_dogs_names_from_folders_and_mat_lists(dogs_root):
    ds = load_dataset("dogs", dogs_root, "train")
    assert ds.classnames == ["Chihuahua", "Maltese dog", "Shih-Tzu"]
    assert ds.template == "a photo of {}, a type of dog"
    assert ds.targets == [0, 1, 2]
    test = load_dataset("dogs", dogs_root, "test")
    assert test.targets == [1, 0] and test.samples[0][0].endswith("n02085936-Maltese_dog/n02085936_2.jpg")
    assert test[0][0].mode == "RGB"


def test_dogs_missing_list(dogs_root):
    (dogs_root / "test_list.mat").unlink()
    with pytest.raises(DatasetNotFoundError, match="test_list.mat"):
        load_dataset("dogs", dogs_root, "train")


# ------------------------------------------------------------------------------------------ transforms
def test_paper_transform_shapes_and_normalisation():
    img = Image.new("RGB", (300, 200), tuple(int(round(m * 255)) for m in CLIP_MEAN))
    x = paper_test_transform()(img)
    assert x.shape == (3, 224, 224)
    assert x.abs().max() < 0.02  # the CLIP mean colour maps to ~0
    torch.manual_seed(0)
    assert paper_train_transform()(img).shape == (3, 224, 224)
    assert paper_train_transform(64, 72)(img).shape == (3, 64, 64)


def test_random_square_crop_side_range(monkeypatch):
    seen = []
    from pand_core.data import transforms as tmod

    def spy(img, top, left, h, w, size, antialias=True):
        seen.append((top, left, h, w, tuple(size)))
        return img

    monkeypatch.setattr(tmod.TF, "resized_crop", spy)
    crop = RandomSquareResizedCrop(224, 192, 224)
    torch.manual_seed(1)
    img = Image.new("RGB", (224, 224))
    for _ in range(300):
        crop(img)
    sides = {h for _, _, h, w, _ in seen}
    assert all(h == w for _, _, h, w, _ in seen) and sides <= set(range(192, 225))
    assert min(sides) <= 195 and max(sides) >= 221  # the whole range is used
    assert all(0 <= t <= 224 - h and 0 <= l <= 224 - h for t, l, h, _, _ in seen)
    assert all(s == (224, 224) for *_, s in seen)


# ------------------------------------------------------------------------------------------- synthetic
def test_synthetic_is_deterministic_and_cub_readable(tmp_path):
    spec = SyntheticSpec(n_classes=4, train_per_class=2, test_per_class=1, image_size=32, seed=3)
    a = make_synthetic_cub(tmp_path / "a", spec, progress=False)
    b = make_synthetic_cub(tmp_path / "b", spec, progress=False)
    c = make_synthetic_cub(tmp_path / "c", SyntheticSpec(n_classes=4, train_per_class=2, test_per_class=1, image_size=32, seed=4), progress=False)
    files = sorted(p.relative_to(a) for p in a.rglob("*.jpg"))
    assert len(files) == 12
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    assert any((a / f).read_bytes() != (c / f).read_bytes() for f in files)
    train = load_dataset("cub", tmp_path / "a", "train")
    assert len(train) == 8 and len(load_dataset("cub", tmp_path / "a", "test")) == 4
    assert train.classnames[0] == "Red headed Plain Brown Fan tailed Finch"
    assert train[0][0].size == (32, 32)
    assert make_synthetic_cub(tmp_path / "a", spec, progress=False) == a  # reused
    with pytest.raises(FileExistsError):
        make_synthetic_cub(tmp_path / "a", SyntheticSpec(n_classes=5), progress=False)


def test_a_larger_test_split_keeps_every_existing_image(tmp_path):
    """A world drawn with more test images per class (the noise pilot's pool, studies/noise_split.py) keeps the
    training split and every test image of the smaller world byte for byte, in the same order within each class."""
    small = SyntheticSpec(n_classes=3, train_per_class=2, test_per_class=2, image_size=32)
    large = dataclasses.replace(small, test_per_class=5)
    a, b = make_synthetic_cub(tmp_path / "a", small, progress=False), make_synthetic_cub(tmp_path / "b", large, progress=False)
    old = sorted(p.relative_to(a) for p in a.rglob("*.jpg"))
    assert len(old) == 12 and len(list(b.rglob("*.jpg"))) == 21
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in old)
    for split in ("train", "test"):
        sa = [(Path(p).relative_to(a), y) for p, y in load_dataset("cub", tmp_path / "a", split).samples]
        sb = [(Path(p).relative_to(b), y) for p, y in load_dataset("cub", tmp_path / "b", split).samples]
        assert sa == (sb if split == "train" else [s for s in sb if s in sa])


def test_synthetic_classes_form_fine_grained_pairs():
    classes = synthetic_classes(12)
    assert len({c.name for c in classes}) == 12

    def diff(a, b):
        return sum(getattr(a, f) != getattr(b, f) for f in ("body", "head", "wing", "tail"))

    assert all(diff(classes[i], classes[i + 1]) >= 1 for i in range(11))
    assert all(diff(classes[2 * i], classes[2 * i + 1]) == 1 for i in range(6))  # pairs differing in tail only
    with pytest.raises(ValueError):
        synthetic_classes(1)


def test_synthetic_images_vary_within_a_class(synthetic_root):
    ds = load_dataset("cub", synthetic_root, "train")
    x0 = paper_test_transform(32)(ds[0][0])
    x1 = paper_test_transform(32)(ds[1][0])
    assert ds.targets[0] == ds.targets[1] and (x0 - x1).abs().mean() > 0.1


# ----------------------------------------------------------------------------------------------- Cars
def test_cars_names_and_labels(cars_root):
    ds = load_dataset("cars", cars_root, "train")
    assert ds.classnames == ["AM General Hummer SUV 2000", "Acura RL Sedan 2012", "Tesla Model S Sedan 2012"]
    assert ds.template == "a photo of {}, which is the model name of car"
    assert ds.targets == [2, 0] and ds.samples[0][0].endswith("cars_train/00001.jpg")
    test = load_dataset("cars", cars_root, "test")
    assert test.targets == [1] and test[0][0].mode == "RGB"
    (cars_root / "stanford_cars" / "cars_test_annos_withlabels.mat").unlink()
    with pytest.raises(DatasetNotFoundError, match="cars_test_annos_withlabels.mat"):
        load_dataset("cars", cars_root, "test")
