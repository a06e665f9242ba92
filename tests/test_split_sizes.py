"""One home per fact: the data sets' split sizes live in `config.SPLIT_SIZES` and the paper recipe's epochs and
bank views in the config; the code that derives numbers from them reads them there, and the GPU suite's docstring
lists its parts by the numbers its JSON uses."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from pand_core.config import make_config
from pand_core.config import SPLIT_SIZES
from pand_core.data.splits import TRAIN_SPLIT

ROOT = Path(__file__).resolve().parents[1]
CUB_LITERAL = re.compile(r"\b5,?994\b|\b5,?794\b")
READERS = ("pand_core/data", "pand_core/report", "pand_core/stage1", "benchmarks", "studies")  # each reads the home


def _gpu_suite():
    spec = importlib.util.spec_from_file_location("gpu_suite", ROOT / "benchmarks" / "gpu_suite.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_split_sizes_are_the_published_counts():
    assert SPLIT_SIZES == {"cub": (5994, 5794, 200), "aircraft": (3334, 3333, 100), "dogs": (12000, 8580, 120),
                           "pets": (3680, 3669, 37), "cars": (8144, 8041, 196)}
    assert set(SPLIT_SIZES) == set(TRAIN_SPLIT) - {"folder"} and SPLIT_SIZES["cub"].train == 5994  # yours: no count


def test_the_library_benchmarks_and_studies_hold_no_copy_of_cubs_sizes():
    home = ROOT / "pand_core" / "data" / "splits.py"
    copies = [f"{p.relative_to(ROOT)}:{n}" for folder in READERS for p in sorted((ROOT / folder).rglob("*.py"))
              if p != home for n, line in enumerate(p.read_text().splitlines(), 1) if CUB_LITERAL.search(line)]
    assert not copies, copies


def test_the_gpu_suite_reads_the_sizes_and_the_recipe_from_their_homes():
    suite, paper = _gpu_suite(), make_config("distill", "paper")
    assert (suite.CUB_TRAIN, suite.CUB_TEST, suite.CUB_CLASSES) == SPLIT_SIZES["cub"]
    assert (suite.PAPER_EPOCHS, suite.BANK_VIEWS) == (paper.epochs, paper.bank_views) == (300, 8)
    assert suite.SIZES["gpu"]["world"] | {"image_size": None} == {"n_classes": 200, "train_per_class": 30,
                                                                  "test_per_class": 29, "image_size": None}


def test_the_gpu_suite_docstring_lists_its_parts_by_the_jsons_numbers():
    suite = _gpu_suite()
    listed = [(int(n), name) for n, name in re.findall(r"^  (\d) (\w+) ", suite.__doc__, re.M)]
    assert listed == sorted((n, name) for name, n in suite.PART_NUMBER.items())
    run_order = ", ".join(str(suite.PART_NUMBER[name]) for name in suite.PART_ORDER)
    assert f"they run in the order {run_order} (`PART_ORDER`)" in suite.__doc__
