"""The authors' class names (`data.authors_names`): on CUB-200 and Oxford-IIIT Pet the loaders, fed the data sets'
official class lists, give the authors' name for every class; on FGVC-Aircraft and Stanford Dogs every name where the
authors' lists differ from the data set's own files, pinned; the opt-in to the files' names; how old runs read without
the option."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import write_dogs_list, write_jpg
from pand_core.cli import build_parser
from pand_core.config import config_diff, make_config, to_dict
from pand_core.data import class_names_record, describe_class_names, load_dataset, renamed_classes
from pand_core.data.authors_names import (AIRCRAFT_NAMES, AIRCRAFT_VARIANTS, CUB_NAMES, DOGS_NAMES, PETS_NAMES,
                                          authors_aircraft_names, authors_dogs_names)
from pand_core.infra.errors import ConfigError

# Where the files' manufacturer is not the authors': a copy of FGVC-Aircraft whose per-image lists credit Canadair and
# Lockheed Martin (the two manufacturers the authors' list lacks), label -> (variant, files' maker, authors' name).
DIFFERING = {
    44: ("CRJ-200", "Canadair", "Bombardier Aerospace CRJ-200"),
    45: ("CRJ-700", "Canadair", "Bombardier Aerospace CRJ-700"),
    46: ("CRJ-900", "Canadair", "Bombardier Aerospace CRJ-900"),
    51: ("Challenger 600", "Canadair", "Bombardier Aerospace Challenger 600"),
    72: ("F-16A/B", "Lockheed Martin", "Lockheed Corporation F-16A/B"),
}
AUTHORS_MAKERS = {  # the 28 manufacturers of the authors' list
    "ATR", "Airbus", "Antonov", "Beechcraft", "Boeing", "Bombardier Aerospace", "British Aerospace", "Cessna",
    "Cirrus Aircraft", "Dassault Aviation", "Dornier", "Douglas Aircraft Company", "Embraer", "Eurofighter", "Fairchild",
    "Fokker", "Gulfstream Aerospace", "Ilyushin", "Lockheed Corporation", "McDonnell Douglas", "Panavia", "Piper",
    "Robin", "Saab", "Supermarine", "Tupolev", "Yakovlev", "de Havilland",
}


# CUB-200-2011's `classes.txt`, class ids 1..200 in order: each line is "<id> <NNN>.<folder>" with NNN the id, so the
# folder names are what is kept here.
CUB_FOLDERS = """
Black_footed_Albatross Laysan_Albatross Sooty_Albatross Groove_billed_Ani Crested_Auklet Least_Auklet Parakeet_Auklet
Rhinoceros_Auklet Brewer_Blackbird Red_winged_Blackbird Rusty_Blackbird Yellow_headed_Blackbird Bobolink Indigo_Bunting
Lazuli_Bunting Painted_Bunting Cardinal Spotted_Catbird Gray_Catbird Yellow_breasted_Chat Eastern_Towhee
Chuck_will_Widow Brandt_Cormorant Red_faced_Cormorant Pelagic_Cormorant Bronzed_Cowbird Shiny_Cowbird Brown_Creeper
American_Crow Fish_Crow Black_billed_Cuckoo Mangrove_Cuckoo Yellow_billed_Cuckoo Gray_crowned_Rosy_Finch Purple_Finch
Northern_Flicker Acadian_Flycatcher Great_Crested_Flycatcher Least_Flycatcher Olive_sided_Flycatcher
Scissor_tailed_Flycatcher Vermilion_Flycatcher Yellow_bellied_Flycatcher Frigatebird Northern_Fulmar Gadwall
American_Goldfinch European_Goldfinch Boat_tailed_Grackle Eared_Grebe Horned_Grebe Pied_billed_Grebe Western_Grebe
Blue_Grosbeak Evening_Grosbeak Pine_Grosbeak Rose_breasted_Grosbeak Pigeon_Guillemot California_Gull
Glaucous_winged_Gull Heermann_Gull Herring_Gull Ivory_Gull Ring_billed_Gull Slaty_backed_Gull Western_Gull
Anna_Hummingbird Ruby_throated_Hummingbird Rufous_Hummingbird Green_Violetear Long_tailed_Jaeger Pomarine_Jaeger
Blue_Jay Florida_Jay Green_Jay Dark_eyed_Junco Tropical_Kingbird Gray_Kingbird Belted_Kingfisher Green_Kingfisher
Pied_Kingfisher Ringed_Kingfisher White_breasted_Kingfisher Red_legged_Kittiwake Horned_Lark Pacific_Loon Mallard
Western_Meadowlark Hooded_Merganser Red_breasted_Merganser Mockingbird Nighthawk Clark_Nutcracker
White_breasted_Nuthatch Baltimore_Oriole Hooded_Oriole Orchard_Oriole Scott_Oriole Ovenbird Brown_Pelican White_Pelican
Western_Wood_Pewee Sayornis American_Pipit Whip_poor_Will Horned_Puffin Common_Raven White_necked_Raven
American_Redstart Geococcyx Loggerhead_Shrike Great_Grey_Shrike Baird_Sparrow Black_throated_Sparrow Brewer_Sparrow
Chipping_Sparrow Clay_colored_Sparrow House_Sparrow Field_Sparrow Fox_Sparrow Grasshopper_Sparrow Harris_Sparrow
Henslow_Sparrow Le_Conte_Sparrow Lincoln_Sparrow Nelson_Sharp_tailed_Sparrow Savannah_Sparrow Seaside_Sparrow
Song_Sparrow Tree_Sparrow Vesper_Sparrow White_crowned_Sparrow White_throated_Sparrow Cape_Glossy_Starling Bank_Swallow
Barn_Swallow Cliff_Swallow Tree_Swallow Scarlet_Tanager Summer_Tanager Artic_Tern Black_Tern Caspian_Tern Common_Tern
Elegant_Tern Forsters_Tern Least_Tern Green_tailed_Towhee Brown_Thrasher Sage_Thrasher Black_capped_Vireo
Blue_headed_Vireo Philadelphia_Vireo Red_eyed_Vireo Warbling_Vireo White_eyed_Vireo Yellow_throated_Vireo
Bay_breasted_Warbler Black_and_white_Warbler Black_throated_Blue_Warbler Blue_winged_Warbler Canada_Warbler
Cape_May_Warbler Cerulean_Warbler Chestnut_sided_Warbler Golden_winged_Warbler Hooded_Warbler Kentucky_Warbler
Magnolia_Warbler Mourning_Warbler Myrtle_Warbler Nashville_Warbler Orange_crowned_Warbler Palm_Warbler Pine_Warbler
Prairie_Warbler Prothonotary_Warbler Swainson_Warbler Tennessee_Warbler Wilson_Warbler Worm_eating_Warbler
Yellow_Warbler Northern_Waterthrush Louisiana_Waterthrush Bohemian_Waxwing Cedar_Waxwing American_Three_toed_Woodpecker
Pileated_Woodpecker Red_bellied_Woodpecker Red_cockaded_Woodpecker Red_headed_Woodpecker Downy_Woodpecker Bewick_Wren
Cactus_Wren Carolina_Wren House_Wren Marsh_Wren Rock_Wren Winter_Wren Common_Yellowthroat
""".split()

# Oxford-IIIT Pet's breeds as its image names spell them (`<stem>_<n>.jpg`), CLASS-ID 1..37 in order (cats capitalised).
PETS_STEMS = """
Abyssinian american_bulldog american_pit_bull_terrier basset_hound beagle Bengal Birman Bombay boxer British_Shorthair
chihuahua Egyptian_Mau english_cocker_spaniel english_setter german_shorthaired great_pyrenees havanese japanese_chin
keeshond leonberger Maine_Coon miniature_pinscher newfoundland Persian pomeranian pug Ragdoll Russian_Blue saint_bernard
samoyed scottish_terrier shiba_inu Siamese Sphynx staffordshire_bull_terrier wheaten_terrier yorkshire_terrier
""".split()


def write_full_cub(root: Path) -> Path:
    """A CUB-200-2011 copy with the official `classes.txt` and one (train) image entry per class."""
    base = root / "CUB_200_2011"
    (base / "images").mkdir(parents=True)
    folders = [f"{i:03d}.{name}" for i, name in enumerate(CUB_FOLDERS, start=1)]
    (base / "classes.txt").write_text("".join(f"{i} {f}\n" for i, f in enumerate(folders, start=1)))
    (base / "images.txt").write_text("".join(f"{i} {f}/{f[4:]}_0001.jpg\n" for i, f in enumerate(folders, start=1)))
    (base / "image_class_labels.txt").write_text("".join(f"{i} {i}\n" for i in range(1, 201)))
    (base / "train_test_split.txt").write_text("".join(f"{i} 1\n" for i in range(1, 201)))
    return root


def write_full_pets(root: Path) -> Path:
    """An Oxford-IIIT Pet copy whose annotations list one trainval and one test image of each CLASS-ID."""
    ann = root / "oxford-iiit-pet" / "annotations"
    ann.mkdir(parents=True)
    (root / "oxford-iiit-pet" / "images").mkdir()
    for split, n in (("trainval", 1), ("test", 2)):
        (ann / f"{split}.txt").write_text("".join(f"{stem}_{n} {i} {1 if stem[0].isupper() else 2} 1\n"
                                                  for i, stem in enumerate(PETS_STEMS, start=1)))
    return root


def test_cub_loader_gives_the_authors_name_for_every_class(tmp_path):
    assert len(CUB_FOLDERS) == len(set(CUB_FOLDERS)) == len(CUB_NAMES) == len(set(CUB_NAMES)) == 200
    root = write_full_cub(tmp_path)
    for source in ("dataset", "authors"):
        names = load_dataset("cub", root, "train", class_names=source).classnames
        assert len(names) == 200
        assert {i: (names[i], CUB_NAMES[i]) for i in range(200) if names[i] != CUB_NAMES[i]} == {}
    assert (CUB_NAMES[21], CUB_NAMES[140], CUB_NAMES[158]) == ("Chuck will Widow", "Artic Tern", "Black and white Warbler")


def test_pets_loader_gives_the_authors_name_for_every_class(tmp_path):
    assert len(PETS_STEMS) == len(set(PETS_STEMS)) == len(PETS_NAMES) == len(set(PETS_NAMES)) == 37
    root = write_full_pets(tmp_path)
    for split in ("trainval", "test"):
        names = load_dataset("pets", root, split, class_names="authors").classnames
        assert len(names) == 37
        assert {i: (names[i], PETS_NAMES[i]) for i in range(37) if names[i] != PETS_NAMES[i]} == {}
    assert (PETS_NAMES[0], PETS_NAMES[5], PETS_NAMES[14]) == ("Abyssinian", "Bengal", "German Shorthaired")


def write_aircraft(root: Path, makers: dict[str, str]) -> Path:
    """An FGVC-Aircraft 2013b copy with one train and one test image per variant of `makers` (variant -> maker)."""
    data = root / "fgvc-aircraft-2013b" / "data"
    data.mkdir(parents=True)
    (data / "variants.txt").write_text("".join(f"{v}\n" for v in makers))
    for split, offset in (("train", 0), ("val", 0), ("trainval", 0), ("test", 5000)):
        ids = [f"{offset + i:05d}" for i in range(len(makers))]
        (data / f"images_variant_{split}.txt").write_text("".join(f"{i} {v}\n" for i, v in zip(ids, makers)))
        (data / f"images_manufacturer_{split}.txt").write_text("".join(f"{i} {m}\n" for i, m in zip(ids, makers.values())))
    (data / "images").mkdir()
    write_jpg(data / "images" / "00000.jpg")
    return root


def full_copy_makers() -> dict[str, str]:
    makers = {v: name[: -len(v) - 1] for v, name in zip(AIRCRAFT_VARIANTS, AIRCRAFT_NAMES)}
    makers.update({v: m for v, m, _ in DIFFERING.values()})
    return makers


def test_aircraft_authors_names_where_the_files_differ(tmp_path):
    root = write_aircraft(tmp_path, full_copy_makers())
    own = load_dataset("aircraft", root, "train", class_names="dataset").classnames
    authors = load_dataset("aircraft", root, "train", class_names="authors").classnames
    assert len(own) == len(authors) == 100
    assert {i: (own[i], authors[i]) for i in range(100) if own[i] != authors[i]} == {
        i: (f"{m} {v}", name) for i, (v, m, name) in DIFFERING.items()}
    assert renamed_classes("aircraft", root, "test", "authors") == {i: (f"{m} {v}", n) for i, (v, m, n) in DIFFERING.items()}
    assert renamed_classes("aircraft", root, "test", "dataset") == {}
    # a few the rule "<maker> <variant>" gives with the maker repeated, as the authors' list has them
    assert [authors[i] for i in (40, 41, 63, 70)] == ["Beechcraft Beechcraft 1900", "Boeing Boeing 717",
                                                      "Dornier Dornier 328", "Embraer Embraer Legacy 600"]
    assert load_dataset("aircraft", root, "test", class_names="authors").classnames == authors


def test_aircraft_authors_list_invariants():
    assert len(AIRCRAFT_NAMES) == len(set(AIRCRAFT_NAMES)) == len(AIRCRAFT_VARIANTS) == len(set(AIRCRAFT_VARIANTS)) == 100
    assert all(name.endswith(" " + v) for v, name in zip(AIRCRAFT_VARIANTS, AIRCRAFT_NAMES))
    assert {name[: -len(v) - 1] for v, name in zip(AIRCRAFT_VARIANTS, AIRCRAFT_NAMES)} == AUTHORS_MAKERS
    assert (AIRCRAFT_VARIANTS[0], AIRCRAFT_VARIANTS[21], AIRCRAFT_VARIANTS[99]) == ("707-320", "A300B4", "Yak-42")


def test_aircraft_partial_copy_applies_names_by_variant(aircraft_root):
    """The fixture's four variants (labels 0..3 there) take the authors' names of their variants."""
    ds = load_dataset("aircraft", aircraft_root, "trainval", class_names="authors")
    assert ds.classnames == ["Boeing 707-320", "Airbus A300B4", "ATR ATR-42", "Dassault Aviation Falcon 2000"]
    assert class_names_record(ds, "authors") == {"source": "authors", "renamed": {}, "labels": ds.classnames,
                                                 "template": ds.template}


def test_aircraft_unknown_variant_needs_the_dataset_names(tmp_path):
    root = write_aircraft(tmp_path, {"707-320": "Boeing", "Concorde": "Aerospatiale"})
    with pytest.raises(ConfigError, match=r"'Concorde'.*--class-names dataset"):
        load_dataset("aircraft", root, "train", class_names="authors")
    assert load_dataset("aircraft", root, "train", class_names="dataset").classnames == ["Boeing 707-320", "Aerospatiale Concorde"]


def test_dogs_label_64_is_brittany(tmp_path):
    train = ["n02085620-Chihuahua/n02085620_1.jpg", "n02101388-Brittany_spaniel/n02101388_1.jpg"]
    write_dogs_list(tmp_path / "train_list.mat", train, [1, 2])
    write_dogs_list(tmp_path / "test_list.mat", train[::-1], [2, 1])
    for n, rel in enumerate(train):
        write_jpg(tmp_path / "Images" / rel, seed=n)
    assert load_dataset("dogs", tmp_path, "train").classnames == ["Chihuahua", "Brittany spaniel"]  # the files' (default)
    ds = load_dataset("dogs", tmp_path, "train", class_names="authors")
    assert ds.classnames == ["Chihuahua", "Brittany"]
    record = class_names_record(ds, "authors")
    assert record == {"source": "authors", "renamed": {"1": {"dataset": "Brittany spaniel", "used": "Brittany"}},
                      "labels": ["Chihuahua", "Brittany"], "template": ds.template}
    assert describe_class_names(record) == ("class names: authors, 1 renamed from the data set's own "
                                            "(1: 'Brittany spaniel' -> 'Brittany')")


def test_dogs_authors_list_differs_from_the_folder_names_only_at_64():
    folder_names = list(DOGS_NAMES)
    folder_names[64] = "Brittany spaniel"
    assert len(set(DOGS_NAMES)) == 120 and DOGS_NAMES[64] == "Brittany"
    assert authors_dogs_names(folder_names) == list(DOGS_NAMES)
    assert (DOGS_NAMES[0], DOGS_NAMES[4], DOGS_NAMES[14], DOGS_NAMES[90]) == (
        "Chihuahua", "Shih-Tzu", "black-and-tan coonhound", "EntleBucher")
    with pytest.raises(ConfigError, match="not in the authors' Stanford Dogs list"):
        authors_dogs_names(["Brittany"])  # the authors' spelling is no folder's name


def test_aircraft_authors_names_for_every_variant_in_any_order():
    assert authors_aircraft_names(list(AIRCRAFT_VARIANTS[::-1])) == list(AIRCRAFT_NAMES[::-1])


def test_cub_and_pets_are_unchanged_and_a_bad_source_is_refused(cub_root, pets_root):
    """The authors' CUB and Pets lists are what the loaders derive from the files (no table: nothing to rename)."""
    for name, root, split in (("cub", cub_root, "train"), ("pets", pets_root, "trainval")):
        assert (load_dataset(name, root, split, class_names="authors").classnames
                == load_dataset(name, root, split).classnames)
        assert renamed_classes(name, root, split, "authors") == {}
    with pytest.raises(ConfigError, match="class_names must be 'authors'"):
        load_dataset("cub", cub_root, "train", class_names="paper")


def test_config_default_flag_and_old_runs(tmp_path):
    cfg = make_config("calibrate", "paper", runs=tmp_path, dataset="aircraft")
    assert cfg.class_names == "authors"
    assert make_config("distill", "smoke", runs=tmp_path).class_names == "authors"
    with pytest.raises(ConfigError, match="class_names must be one of"):
        make_config("calibrate", "paper", runs=tmp_path, class_names="paper")
    args = build_parser().parse_args(["calibrate", "--class-names", "dataset"])
    assert args.class_names == "dataset"
    # a run saved before the option prompted with the files' names on Aircraft and Dogs, and the same names elsewhere
    saved = {k: v for k, v in to_dict(cfg).items() if k != "class_names"}
    assert config_diff(saved, to_dict(cfg)) == ["class_names: 'dataset' != 'authors'"]
    cub = make_config("calibrate", "paper", runs=tmp_path)
    assert config_diff({k: v for k, v in to_dict(cub).items() if k != "class_names"}, to_dict(cub)) == []
