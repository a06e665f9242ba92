"""The class names the authors' prompts use where they differ from the names the data set's own files give.

The original code reads each data set's class names from a fixed list (`configs/data/attributes/<n>_<NAME>.yaml`, one
name per label, filled into the data set's prompt template). On CUB-200 and Oxford-IIIT Pet those lists are what the
project's loaders derive from the files (`cub.py`, `pets.py`). On FGVC-Aircraft and Stanford Dogs they are not:

* Aircraft: the authors write "<manufacturer> <variant>" with 28 manufacturers (no "Canadair", no "Lockheed Martin":
  "Bombardier Aerospace CRJ-200", "Lockheed Corporation F-16A/B"), where `aircraft.aircraft_classnames` reads each
  variant's manufacturer from the data set's per-image lists (30 manufacturers).
* Dogs: label 64 is "Brittany" in the authors' list and "Brittany spaniel" in the synset folder name; the other 119 agree.

Where the lists come from: PAND's own copies of these two files (LLLVTA/PAND) are not in the code index this project
could read offline; the same paths in the VL2Lite code it builds on (oguzakif/vl2det@69986b5, identical Aircraft list
in Myleswork/VL2Lite@bdefcdbb) have exactly the features a line-by-line comparison with LLLVTA/PAND@26902f2 reported
(28 manufacturers, the two examples above, "Brittany" at label 64). They are copied here as data, by label.

`class_names="authors"` (the run configs' default) applies them by key: Aircraft by variant, Dogs by the folder-derived
name, so a partial copy of a data set works; `class_names="dataset"` keeps the names the files give.
"""

from __future__ import annotations

from ..config import CLASS_NAME_SOURCES
from ..infra.errors import ConfigError

SOURCE = {
    "aircraft": "configs/data/attributes/1_FGVC_AIRCRAFT.yaml",
    "dogs": "configs/data/attributes/5_StanfordDogs.yaml",
}

# FGVC-Aircraft 2013b `data/variants.txt`, in label order (the order of the authors' list, label 0 first).
AIRCRAFT_VARIANTS: tuple[str, ...] = (
    '707-320', '727-200', '737-200', '737-300', '737-400', '737-500', '737-600', '737-700', '737-800', '737-900',
    '747-100', '747-200', '747-300', '747-400', '757-200', '757-300', '767-200', '767-300', '767-400', '777-200',
    '777-300', 'A300B4', 'A310', 'A318', 'A319', 'A320', 'A321', 'A330-200', 'A330-300', 'A340-200', 'A340-300',
    'A340-500', 'A340-600', 'A380', 'ATR-42', 'ATR-72', 'An-12', 'BAE 146-200', 'BAE 146-300', 'BAE-125',
    'Beechcraft 1900', 'Boeing 717', 'C-130', 'C-47', 'CRJ-200', 'CRJ-700', 'CRJ-900', 'Cessna 172', 'Cessna 208',
    'Cessna 525', 'Cessna 560', 'Challenger 600', 'DC-10', 'DC-3', 'DC-6', 'DC-8', 'DC-9-30', 'DH-82', 'DHC-1',
    'DHC-6', 'DHC-8-100', 'DHC-8-300', 'DR-400', 'Dornier 328', 'E-170', 'E-190', 'E-195', 'EMB-120', 'ERJ 135',
    'ERJ 145', 'Embraer Legacy 600', 'Eurofighter Typhoon', 'F-16A/B', 'F/A-18', 'Falcon 2000', 'Falcon 900',
    'Fokker 100', 'Fokker 50', 'Fokker 70', 'Global Express', 'Gulfstream IV', 'Gulfstream V', 'Hawk T1', 'Il-76',
    'L-1011', 'MD-11', 'MD-80', 'MD-87', 'MD-90', 'Metroliner', 'Model B200', 'PA-28', 'SR-20', 'Saab 2000',
    'Saab 340', 'Spitfire', 'Tornado', 'Tu-134', 'Tu-154', 'Yak-42',
)

# The authors' Aircraft names, label 0..99: "<manufacturer> <variant>" with the variant of the same label above.
AIRCRAFT_NAMES: tuple[str, ...] = (
    'Boeing 707-320', 'Boeing 727-200', 'Boeing 737-200', 'Boeing 737-300', 'Boeing 737-400', 'Boeing 737-500',
    'Boeing 737-600', 'Boeing 737-700', 'Boeing 737-800', 'Boeing 737-900', 'Boeing 747-100', 'Boeing 747-200',
    'Boeing 747-300', 'Boeing 747-400', 'Boeing 757-200', 'Boeing 757-300', 'Boeing 767-200', 'Boeing 767-300',
    'Boeing 767-400', 'Boeing 777-200', 'Boeing 777-300', 'Airbus A300B4', 'Airbus A310', 'Airbus A318',
    'Airbus A319', 'Airbus A320', 'Airbus A321', 'Airbus A330-200', 'Airbus A330-300', 'Airbus A340-200',
    'Airbus A340-300', 'Airbus A340-500', 'Airbus A340-600', 'Airbus A380', 'ATR ATR-42', 'ATR ATR-72',
    'Antonov An-12', 'British Aerospace BAE 146-200', 'British Aerospace BAE 146-300', 'British Aerospace BAE-125',
    'Beechcraft Beechcraft 1900', 'Boeing Boeing 717', 'Lockheed Corporation C-130', 'Douglas Aircraft Company C-47',
    'Bombardier Aerospace CRJ-200', 'Bombardier Aerospace CRJ-700', 'Bombardier Aerospace CRJ-900',
    'Cessna Cessna 172', 'Cessna Cessna 208', 'Cessna Cessna 525', 'Cessna Cessna 560',
    'Bombardier Aerospace Challenger 600', 'Douglas Aircraft Company DC-10', 'Douglas Aircraft Company DC-3',
    'Douglas Aircraft Company DC-6', 'Douglas Aircraft Company DC-8', 'Douglas Aircraft Company DC-9-30',
    'de Havilland DH-82', 'de Havilland DHC-1', 'de Havilland DHC-6', 'de Havilland DHC-8-100',
    'de Havilland DHC-8-300', 'Robin DR-400', 'Dornier Dornier 328', 'Embraer E-170', 'Embraer E-190',
    'Embraer E-195', 'Embraer EMB-120', 'Embraer ERJ 135', 'Embraer ERJ 145', 'Embraer Embraer Legacy 600',
    'Eurofighter Eurofighter Typhoon', 'Lockheed Corporation F-16A/B', 'McDonnell Douglas F/A-18',
    'Dassault Aviation Falcon 2000', 'Dassault Aviation Falcon 900', 'Fokker Fokker 100', 'Fokker Fokker 50',
    'Fokker Fokker 70', 'Bombardier Aerospace Global Express', 'Gulfstream Aerospace Gulfstream IV',
    'Gulfstream Aerospace Gulfstream V', 'British Aerospace Hawk T1', 'Ilyushin Il-76', 'Lockheed Corporation L-1011',
    'McDonnell Douglas MD-11', 'McDonnell Douglas MD-80', 'McDonnell Douglas MD-87', 'McDonnell Douglas MD-90',
    'Fairchild Metroliner', 'Beechcraft Model B200', 'Piper PA-28', 'Cirrus Aircraft SR-20', 'Saab Saab 2000',
    'Saab Saab 340', 'Supermarine Spitfire', 'Panavia Tornado', 'Tupolev Tu-134', 'Tupolev Tu-154', 'Yakovlev Yak-42',
)

# The authors' Stanford Dogs names, label 0..119 (their list counts from 1).
DOGS_NAMES: tuple[str, ...] = (
    'Chihuahua', 'Japanese spaniel', 'Maltese dog', 'Pekinese', 'Shih-Tzu', 'Blenheim spaniel', 'papillon',
    'toy terrier', 'Rhodesian ridgeback', 'Afghan hound', 'basset', 'beagle', 'bloodhound', 'bluetick',
    'black-and-tan coonhound', 'Walker hound', 'English foxhound', 'redbone', 'borzoi', 'Irish wolfhound',
    'Italian greyhound', 'whippet', 'Ibizan hound', 'Norwegian elkhound', 'otterhound', 'Saluki',
    'Scottish deerhound', 'Weimaraner', 'Staffordshire bullterrier', 'American Staffordshire terrier',
    'Bedlington terrier', 'Border terrier', 'Kerry blue terrier', 'Irish terrier', 'Norfolk terrier',
    'Norwich terrier', 'Yorkshire terrier', 'wire-haired fox terrier', 'Lakeland terrier', 'Sealyham terrier',
    'Airedale', 'cairn', 'Australian terrier', 'Dandie Dinmont', 'Boston bull', 'miniature schnauzer',
    'giant schnauzer', 'standard schnauzer', 'Scotch terrier', 'Tibetan terrier', 'silky terrier',
    'soft-coated wheaten terrier', 'West Highland white terrier', 'Lhasa', 'flat-coated retriever',
    'curly-coated retriever', 'golden retriever', 'Labrador retriever', 'Chesapeake Bay retriever',
    'German short-haired pointer', 'vizsla', 'English setter', 'Irish setter', 'Gordon setter', 'Brittany', 'clumber',
    'English springer', 'Welsh springer spaniel', 'cocker spaniel', 'Sussex spaniel', 'Irish water spaniel', 'kuvasz',
    'schipperke', 'groenendael', 'malinois', 'briard', 'kelpie', 'komondor', 'Old English sheepdog',
    'Shetland sheepdog', 'collie', 'Border collie', 'Bouvier des Flandres', 'Rottweiler', 'German shepherd',
    'Doberman', 'miniature pinscher', 'Greater Swiss Mountain dog', 'Bernese mountain dog', 'Appenzeller',
    'EntleBucher', 'boxer', 'bull mastiff', 'Tibetan mastiff', 'French bulldog', 'Great Dane', 'Saint Bernard',
    'Eskimo dog', 'malamute', 'Siberian husky', 'affenpinscher', 'basenji', 'pug', 'Leonberg', 'Newfoundland',
    'Great Pyrenees', 'Samoyed', 'Pomeranian', 'chow', 'keeshond', 'Brabancon griffon', 'Pembroke', 'Cardigan',
    'toy poodle', 'miniature poodle', 'standard poodle', 'Mexican hairless', 'dingo', 'dhole', 'African hunting dog',
)

# Where the authors' Dogs name differs from the folder-derived one (`dogs.dogs_classname`): label -> (folder's, authors').
DOGS_DIFFERENCES: dict[int, tuple[str, str]] = {64: ("Brittany spaniel", "Brittany")}


def check_source(source: str) -> None:
    """Raise `ConfigError` unless `source` is one of `CLASS_NAME_SOURCES`."""
    if source not in CLASS_NAME_SOURCES:
        raise ConfigError(f"class_names must be 'authors' (the names the original prompts use) or 'dataset' (the "
                          f"names the data set's files give), got {source!r}.")


def authors_aircraft_names(variants: list[str]) -> list[str]:
    """The authors' name of each variant (any subset of `AIRCRAFT_VARIANTS`, any order); unknown variants are refused."""
    by_variant = dict(zip(AIRCRAFT_VARIANTS, AIRCRAFT_NAMES))
    unknown = [v for v in variants if v not in by_variant]
    if unknown:
        raise ConfigError(f"variants {unknown[:5]} are not in the authors' FGVC-Aircraft list ({SOURCE['aircraft']}); "
                          "use class_names='dataset' (--class-names dataset) for another copy of the data set.")
    return [by_variant[v] for v in variants]


def authors_dogs_names(folder_names: list[str]) -> list[str]:
    """The authors' name of each breed named by its synset folder (`dogs.dogs_classname`); unknown breeds are refused."""
    by_folder = {name: name for name in DOGS_NAMES}
    for folder, authors in DOGS_DIFFERENCES.values():  # the authors' spelling is not a folder name
        del by_folder[authors]
        by_folder[folder] = authors
    unknown = [n for n in folder_names if n not in by_folder]
    if unknown:
        raise ConfigError(f"breeds {unknown[:5]} are not in the authors' Stanford Dogs list ({SOURCE['dogs']}); "
                          "use class_names='dataset' (--class-names dataset) for another copy of the data set.")
    return [by_folder[n] for n in folder_names]


__all__ = ["AIRCRAFT_NAMES", "AIRCRAFT_VARIANTS", "CLASS_NAME_SOURCES", "DOGS_DIFFERENCES", "DOGS_NAMES", "SOURCE",
           "authors_aircraft_names", "authors_dogs_names", "check_source"]
