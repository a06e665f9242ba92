"""The authors' class-name lists, kept as data by label: applied where they differ from the names the data set's own
files give (FGVC-Aircraft, Stanford Dogs), kept where they agree (CUB-200, Oxford-IIIT Pet) so tests can show it.

The original code reads each data set's class names from a fixed list (`configs/data/attributes/<n>_<NAME>.yaml`, one
name per label, taken in file order and filled into the data set's prompt template: Stage 2's hand prompts and Stage
1's CoOp prompts alike). On CUB-200 and Oxford-IIIT Pet those lists are what the project's loaders derive from the
files (`cub.cub_classname`: `classes.txt`'s folder name without "NNN." and with spaces for "_"; `pets.pets_classname`:
the image-name stem of each CLASS-ID, words capitalised), every one of the 200 and 37 names. On FGVC-Aircraft and
Stanford Dogs they are not:

* Aircraft: the authors write "<manufacturer> <variant>" with 28 manufacturers (no "Canadair", no "Lockheed Martin":
  "Bombardier Aerospace CRJ-200", "Lockheed Corporation F-16A/B"), where `aircraft.aircraft_classnames` reads each
  variant's manufacturer from the data set's per-image lists (30 manufacturers).
* Dogs: label 64 is "Brittany" in the authors' list and "Brittany spaniel" in the synset folder name; the other 119 agree.

Where the lists come from (the public code index this project reads; repository@commit, path):

* Pets: PAND's own `configs/data/attributes/4_OxfordIIITPet.yaml` (LLLVTA/PAND@1baf6ee), labels 0..36 in the data
  set's CLASS-ID order, which its loader uses (`src/data/components/kd_dataloader.py`). The VL2Lite copies of that path
  (oguzakif/vl2det@69986b5, Myleswork/VL2Lite@bdefcdbb) list the same breeds in another order and case.
* CUB, Aircraft, Dogs: PAND's own copies of these three files are not in the index (it holds, under
  `configs/data/attributes/` of LLLVTA/PAND@26902f2 and @1baf6ee, only `3_DTD.yaml`, `4_OxfordIIITPet.yaml`,
  `6_StanfordCars.yaml` and `cub_feature.json`); PAND's Stage 1 script reads them from a checkout named VL2Lite
  (`CONFIG_PATH=.../VL2Lite/configs/data/attributes/${DATASET}.yaml`, `scripts/run_coop_stagePSC.sh` @26902f2).
  The lists here are the VL2Lite code's files at those paths (oguzakif/vl2det@69986b5; its CUB and Aircraft lists
  are identical in Myleswork/VL2Lite@bdefcdbb). The CUB list's 200 names are, in the same order, the keys of PAND's
  own `configs/data/attributes/cub_feature.json` (@1baf6ee); the Aircraft and Dogs lists have exactly the features a
  line-by-line comparison with LLLVTA/PAND@26902f2 reported (28 manufacturers, the two examples above, "Brittany" at
  label 64).

`class_names="authors"` (the run configs' default) applies the Aircraft and Dogs lists by key: Aircraft by variant, Dogs
by the folder-derived name, so a partial copy of a data set works; `class_names="dataset"` keeps the names the files
give. CUB and Pets need no table: both sources give the same names.
"""

from __future__ import annotations

from ..config import CLASS_NAME_SOURCES
from ..infra.errors import ConfigError

SOURCE = {
    "cub": "configs/data/attributes/0_CUB_200_2011.yaml",
    "aircraft": "configs/data/attributes/1_FGVC_AIRCRAFT.yaml",
    "pets": "configs/data/attributes/4_OxfordIIITPet.yaml",
    "dogs": "configs/data/attributes/5_StanfordDogs.yaml",
}

# The authors' CUB-200-2011 names, label 0..199 (their list counts from 1).
CUB_NAMES: tuple[str, ...] = (
    'Black footed Albatross', 'Laysan Albatross', 'Sooty Albatross', 'Groove billed Ani', 'Crested Auklet',
    'Least Auklet', 'Parakeet Auklet', 'Rhinoceros Auklet', 'Brewer Blackbird', 'Red winged Blackbird',
    'Rusty Blackbird', 'Yellow headed Blackbird', 'Bobolink', 'Indigo Bunting', 'Lazuli Bunting', 'Painted Bunting',
    'Cardinal', 'Spotted Catbird', 'Gray Catbird', 'Yellow breasted Chat', 'Eastern Towhee', 'Chuck will Widow',
    'Brandt Cormorant', 'Red faced Cormorant', 'Pelagic Cormorant', 'Bronzed Cowbird', 'Shiny Cowbird',
    'Brown Creeper', 'American Crow', 'Fish Crow', 'Black billed Cuckoo', 'Mangrove Cuckoo', 'Yellow billed Cuckoo',
    'Gray crowned Rosy Finch', 'Purple Finch', 'Northern Flicker', 'Acadian Flycatcher', 'Great Crested Flycatcher',
    'Least Flycatcher', 'Olive sided Flycatcher', 'Scissor tailed Flycatcher', 'Vermilion Flycatcher',
    'Yellow bellied Flycatcher', 'Frigatebird', 'Northern Fulmar', 'Gadwall', 'American Goldfinch',
    'European Goldfinch', 'Boat tailed Grackle', 'Eared Grebe', 'Horned Grebe', 'Pied billed Grebe', 'Western Grebe',
    'Blue Grosbeak', 'Evening Grosbeak', 'Pine Grosbeak', 'Rose breasted Grosbeak', 'Pigeon Guillemot',
    'California Gull', 'Glaucous winged Gull', 'Heermann Gull', 'Herring Gull', 'Ivory Gull', 'Ring billed Gull',
    'Slaty backed Gull', 'Western Gull', 'Anna Hummingbird', 'Ruby throated Hummingbird', 'Rufous Hummingbird',
    'Green Violetear', 'Long tailed Jaeger', 'Pomarine Jaeger', 'Blue Jay', 'Florida Jay', 'Green Jay',
    'Dark eyed Junco', 'Tropical Kingbird', 'Gray Kingbird', 'Belted Kingfisher', 'Green Kingfisher',
    'Pied Kingfisher', 'Ringed Kingfisher', 'White breasted Kingfisher', 'Red legged Kittiwake', 'Horned Lark',
    'Pacific Loon', 'Mallard', 'Western Meadowlark', 'Hooded Merganser', 'Red breasted Merganser', 'Mockingbird',
    'Nighthawk', 'Clark Nutcracker', 'White breasted Nuthatch', 'Baltimore Oriole', 'Hooded Oriole', 'Orchard Oriole',
    'Scott Oriole', 'Ovenbird', 'Brown Pelican', 'White Pelican', 'Western Wood Pewee', 'Sayornis', 'American Pipit',
    'Whip poor Will', 'Horned Puffin', 'Common Raven', 'White necked Raven', 'American Redstart', 'Geococcyx',
    'Loggerhead Shrike', 'Great Grey Shrike', 'Baird Sparrow', 'Black throated Sparrow', 'Brewer Sparrow',
    'Chipping Sparrow', 'Clay colored Sparrow', 'House Sparrow', 'Field Sparrow', 'Fox Sparrow',
    'Grasshopper Sparrow', 'Harris Sparrow', 'Henslow Sparrow', 'Le Conte Sparrow', 'Lincoln Sparrow',
    'Nelson Sharp tailed Sparrow', 'Savannah Sparrow', 'Seaside Sparrow', 'Song Sparrow', 'Tree Sparrow',
    'Vesper Sparrow', 'White crowned Sparrow', 'White throated Sparrow', 'Cape Glossy Starling', 'Bank Swallow',
    'Barn Swallow', 'Cliff Swallow', 'Tree Swallow', 'Scarlet Tanager', 'Summer Tanager', 'Artic Tern', 'Black Tern',
    'Caspian Tern', 'Common Tern', 'Elegant Tern', 'Forsters Tern', 'Least Tern', 'Green tailed Towhee',
    'Brown Thrasher', 'Sage Thrasher', 'Black capped Vireo', 'Blue headed Vireo', 'Philadelphia Vireo',
    'Red eyed Vireo', 'Warbling Vireo', 'White eyed Vireo', 'Yellow throated Vireo', 'Bay breasted Warbler',
    'Black and white Warbler', 'Black throated Blue Warbler', 'Blue winged Warbler', 'Canada Warbler',
    'Cape May Warbler', 'Cerulean Warbler', 'Chestnut sided Warbler', 'Golden winged Warbler', 'Hooded Warbler',
    'Kentucky Warbler', 'Magnolia Warbler', 'Mourning Warbler', 'Myrtle Warbler', 'Nashville Warbler',
    'Orange crowned Warbler', 'Palm Warbler', 'Pine Warbler', 'Prairie Warbler', 'Prothonotary Warbler',
    'Swainson Warbler', 'Tennessee Warbler', 'Wilson Warbler', 'Worm eating Warbler', 'Yellow Warbler',
    'Northern Waterthrush', 'Louisiana Waterthrush', 'Bohemian Waxwing', 'Cedar Waxwing',
    'American Three toed Woodpecker', 'Pileated Woodpecker', 'Red bellied Woodpecker', 'Red cockaded Woodpecker',
    'Red headed Woodpecker', 'Downy Woodpecker', 'Bewick Wren', 'Cactus Wren', 'Carolina Wren', 'House Wren',
    'Marsh Wren', 'Rock Wren', 'Winter Wren', 'Common Yellowthroat',
)

# The authors' Oxford-IIIT Pet names, label 0..36 (CLASS-ID − 1).
PETS_NAMES: tuple[str, ...] = (
    'Abyssinian', 'American Bulldog', 'American Pit Bull Terrier', 'Basset Hound', 'Beagle', 'Bengal', 'Birman',
    'Bombay', 'Boxer', 'British Shorthair', 'Chihuahua', 'Egyptian Mau', 'English Cocker Spaniel', 'English Setter',
    'German Shorthaired', 'Great Pyrenees', 'Havanese', 'Japanese Chin', 'Keeshond', 'Leonberger', 'Maine Coon',
    'Miniature Pinscher', 'Newfoundland', 'Persian', 'Pomeranian', 'Pug', 'Ragdoll', 'Russian Blue', 'Saint Bernard',
    'Samoyed', 'Scottish Terrier', 'Shiba Inu', 'Siamese', 'Sphynx', 'Staffordshire Bull Terrier', 'Wheaten Terrier',
    'Yorkshire Terrier',
)

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


__all__ = ["AIRCRAFT_NAMES", "AIRCRAFT_VARIANTS", "CLASS_NAME_SOURCES", "CUB_NAMES", "DOGS_DIFFERENCES", "DOGS_NAMES",
           "PETS_NAMES", "SOURCE", "authors_aircraft_names", "authors_dogs_names", "check_source"]
