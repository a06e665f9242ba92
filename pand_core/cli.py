"""The `pand` command (also `python -m pand_core`): the stages (`calibrate`, `distill`), `data download`, a deployable
student (`export` a run, `predict` with the export alone), and every other entry point as a subcommand — `study`, `pipeline`, `deviations`, `regimes`, `miniature`, `warm-caches` — each the
same as `python -m pand_core.<module>`, which keeps working.

Every field of the stage's config is a flag; a profile fills the defaults. The rule of every entry point (this
command line, `pand_core.study`, `pand_core.pipeline`, the notebooks): the profile is `smoke` (offline, the
miniature) unless `paper` is named. Without `--data-root` a stage reads `$PAND_DATA`, else `$PAND_CACHE/data`, the
folder `data download` fills. Bad input stops with one `error:` line and exit code 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import types
import typing
from pathlib import Path
from typing import Any

from .config import (DATASET_NAMES, DOWNLOADABLE_NAMES, METHODS, PROFILE_OVERRIDES, PROFILES, CalibrateConfig,
                     DistillConfig, make_config)
from .infra.errors import ConfigError, exit_status

# Plain registries only: importing the command line (and `--help`) loads no torch; a stage imports it when it runs.

# The other entry points: subcommand -> (module whose `main(argv, prog)` runs it, what it does). Their own parsers
# read the rest of the command line, so `pand study --help` is `python -m pand_core.study --help`.
SUBCOMMANDS = {
    "study": ("pand_core.study", "paired seeds of every method on one data set, and the study's summary"),
    "pipeline": ("pand_core.pipeline", "the studies, then every notebook of the book (papermill), then the book"),
    "deviations": ("pand_core.deviations", "the sizes of the project's deviations from the original protocol"),
    "regimes": ("pand_core.regimes", "the pre-registered regime map (training length x labelled data)"),
    "miniature": ("pand_core.miniature.__main__", "check or rebuild the miniature's shipped teacher and student"),
    "warm-caches": ("pand_core.book.firstrun", "do dependencies' first-run work (matplotlib's font cache) now"),
}

HELP = {
    "profile": "named defaults: 'smoke' (offline miniature, the default of every entry point) or 'paper' (the authors' recipe: pass it explicitly)",
    "method": " | ".join(METHODS),
    "student_weights": "torchvision weights tag of the student: IMAGENET1K_V1 (the original's pretrained=True) or DEFAULT (newest)",
    "dataset": " | ".join(DATASET_NAMES),
    "template": "dataset folder only: the hand-written prompt, '{}' for the class name (default: DATA_ROOT/template.txt, "
                "else the paper's 'a photo of a {}.')",
    "data_root": "folder holding the data set (default: on smoke/cub the book's world; else $PAND_DATA, else $PAND_CACHE/data, where `data download` puts it)",
    "class_names": "the prompts' class names: authors (the original code's lists; on Aircraft and Dogs they differ from "
                   "the files) | dataset (the names the data set's files give)",
    "prompt_precision": "Stage 1's steps: auto (fp16 on CUDA, fp32 elsewhere) | fp32 | bf16 (text encoder only, "
                        "logits fp32) | fp16 (the original's 16-mixed: text encoder and logits, loss scaling)",
    "teacher": "open_clip model name",
    "teacher_weights": "open_clip pretrained tag, local weights file or directory; 'none' for random weights",
    "teacher_mode": "online (teacher runs on every batch, faithful) | bank (precomputed augmented views, fast)",
    "anchors": "Stage 1 anchors file (calibrate's anchors.pt), for methods with learned anchors (default: the "
               "calibrate run of the same profile, data set and seed under $PAND_RUNS)",
    "cache": "cache folder: teacher features, views, banks, decoded images, the miniature's world and weights "
             "(default: $PAND_CACHE, else ~/.cache/pand)",
    "select_on": "which Stage 1 epoch's anchors to keep: last | val (Aircraft: its official val split; others: a hold-out of train) | test (the original protocol)",
    "distill.batch_size": "global batch; on paper ce-original takes the original's 512 unless this is given",
    "student": "torchvision classifier, e.g. resnet18, mobilenet_v2",
    "out": "run directory (config.json, metrics.jsonl, checkpoints, result.json, run.log; default: "
           "$PAND_RUNS/<profile>/<dataset>/<run>, $PAND_RUNS defaulting to runs/)",
    "nlrd_group_size": "NLRD neighbourhood groups within the batch; 'none' for the whole batch",
    "early_stop_patience": "stop after this many epochs without a new best held-out accuracy, as the original did "
                           "(Stage 2: 100 on TEST; Stage 1: 50 on the selection split, test unless --select-on val); "
                           "0: off. On test it selects on the test split: use only to reproduce the original",
    "teacher_precision": "the teacher's forward pass, the same in every mode (features, bank, online): fp32 | bf16 | fp16",
    "augment": "cpu (PIL transforms in loader workers) | device (decode once to uint8, augment batches on the GPU)",
}


def _base_type(tp: Any) -> tuple[type, bool]:
    """(scalar type, optional?) of a dataclass field annotation such as `int | None`."""
    if isinstance(tp, str):
        tp = eval(tp, {"typing": typing})  # annotations are strings under `from __future__ import annotations`
    args = typing.get_args(tp)
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        inner = [a for a in args if a is not type(None)]
        return inner[0], True
    return tp, False


def _converter(kind: type, optional: bool):
    def convert(text: str):
        if optional and text.lower() in ("none", "null"):
            return None
        return kind(text)

    convert.__name__ = kind.__name__
    return convert


def add_config_flags(parser: argparse.ArgumentParser, cls: type, stage: str) -> None:
    """One flag per field of `cls`, its help naming the field's value on each profile."""
    for f in dataclasses.fields(cls):
        if f.name in ("profile", "seeding"):  # the profile has its own flag; the seeding version is the code's
            continue
        kind, optional = _base_type(f.type)
        flag = "--" + f.name.replace("_", "-")
        smoke = PROFILE_OVERRIDES["smoke"][stage].get(f.name, f.default)
        if smoke != f.default:
            values = f" (smoke: {smoke!r}, paper: {f.default!r})"
        else:  # None: the help says what is used instead
            values = "" if f.default is None else f" (both profiles: {f.default!r})"
        help_text = (HELP.get(f"{stage}.{f.name}", HELP.get(f.name, "")) + values).lstrip()
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS, help=help_text)
        else:
            parser.add_argument(flag, type=_converter(kind, optional), default=argparse.SUPPRESS, help=help_text)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pand", description="PAND reproduction: the stages, the data sets, the studies "
                                "and the book (`pand <command> --help` for each command's flags).")
    sub = p.add_subparsers(dest="command", required=True, metavar="command")
    for name, cls, text in (
        ("calibrate", CalibrateConfig, "Stage 1: learn prompt context on the frozen teacher, write anchors.pt"),
        ("distill", DistillConfig, "Stage 2: distil the teacher into a student with one of the methods"),
    ):
        sp = sub.add_parser(name, help=text, description=text)
        sp.add_argument("--profile", choices=PROFILES, default="smoke", help=HELP["profile"])
        sp.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
        add_config_flags(sp, cls, name)
    dp = sub.add_parser("data", help="data sets: fetch the official archives", description="Data sets.")
    dsub = dp.add_subparsers(dest="data_command", required=True)
    text = ("fetch a data set's official archives, verify their checksums, extract them into the layout the loaders "
            "read (a second call returns at once); $PAND_DOWNLOAD_MIRROR=URL fetches URL/<archive file name>")
    dl = dsub.add_parser("download", help=text, description=text)
    dl.add_argument("name", nargs="?", choices=list(DATASET_NAMES), help="data set (cars: only from --archive or a folder)")
    dl.add_argument("--all", action="store_true", help="every data set with an official download: " + ", ".join(DOWNLOADABLE_NAMES))
    dl.add_argument("--data-root", default=None, help="where to put it: the folder the stages' --data-root names "
                                                      "(default: $PAND_DATA, else $PAND_CACHE/data)")
    dl.add_argument("--root", dest="data_root", help=argparse.SUPPRESS)  # the flag's earlier name
    dl.add_argument("--archive", default=None, help="Stanford Cars: a local .tgz/.tar/.zip or folder holding stanford_cars/")
    dl.add_argument("--keep-archives", action="store_true", help="keep the archives after extraction (default: deleted)")
    text = ("write a finished Stage 2 run's student as one deployable folder: TorchScript, ONNX, labels.json, "
            "preprocessing.json, export.json (run, test accuracy, checks)")
    ep = sub.add_parser("export", help=text, description=text)
    ep.add_argument("run_dir", metavar="RUN_DIR", help="the Stage 2 run folder (the --out of `pand distill`)")
    ep.add_argument("--out", default=None, help="the export folder (default: RUN_DIR/export)")
    ep.add_argument("--which", choices=("last", "best"), default="last",
                    help="checkpoint: last (the last epoch's, default) or best (the best test epoch's: optimistic)")
    text = "classify images with an export folder alone (not the training code): top-k classes and probabilities"
    pp = sub.add_parser("predict", help=text, description=text)
    pp.add_argument("export_dir", metavar="EXPORT_DIR", help="the folder `pand export` wrote")
    pp.add_argument("images", metavar="IMAGES", nargs="+", help="image files or folders (every image file inside, sorted)")
    pp.add_argument("--top-k", type=int, default=5, help="classes per image (default: 5)")
    pp.add_argument("--csv", default=None, metavar="FILE", help="write path,rank,class,probability rows to FILE "
                                                                "instead of printing one line per image")
    pp.add_argument("--engine", choices=("onnx", "torchscript"), default="onnx",
                    help="onnx (onnxruntime, default) or torchscript (torch.jit)")
    for name, (_, text) in SUBCOMMANDS.items():
        sub.add_parser(name, help=text, add_help=False)  # listed here; its own parser reads its flags
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in SUBCOMMANDS:
        import importlib

        module = importlib.import_module(SUBCOMMANDS[argv[0]][0])
        return module.main(argv[1:], prog=f"pand {argv[0]}")
    args = vars(build_parser().parse_args(argv))
    if args["command"] == "data":
        return exit_status(lambda: _data(args))
    if args["command"] == "export":
        return exit_status(lambda: _export(args))
    if args["command"] == "predict":
        return exit_status(lambda: _predict(args))
    return exit_status(lambda: _run(args.pop("command"), args.pop("profile"), args.pop("resume"), args))


def _data(args: dict) -> None:
    """`data download`: fetch one data set (or `--all`) and print where each one is."""
    from .assets import data_home
    from .data.download import download

    if args["all"] == bool(args["name"]):
        raise ConfigError("name one data set (" + ", ".join(DATASET_NAMES) + ") or pass --all, not both.")
    root = Path(args["data_root"]).expanduser() if args["data_root"] else data_home()
    for name in DOWNLOADABLE_NAMES if args["all"] else [args["name"]]:
        download(name, root, archive=args["archive"], keep_archives=args["keep_archives"])
        where = ("the stages read it there without --data-root" if root == data_home() else f"pass --data-root {root}")
        print(f"{name}: ready in {root} ({where}; in Python: load_dataset({name!r}, {str(root)!r}, split))")


def _export(args: dict) -> None:
    """`export`: write the run's deployable folder and print where it is, with the run's test accuracy."""
    import json

    from .deploy import export_run

    out = export_run(args["run_dir"], args["out"], args["which"])
    info = json.loads((out / "export.json").read_text())
    acc = "n/a" if info["test_acc"] is None else f"{info['test_acc']:.2f} %"
    print(f"exported {info['method']} {info['student']} on {info['dataset']} ({info['num_classes']} classes, "
          f"{args['which']} checkpoint, test accuracy {acc}) to {out}: " + ", ".join(sorted(info["files"]) + ["export.json"]))


def _predict(args: dict) -> None:
    """`predict`: one line per image (its top-k classes and probabilities), or a CSV; unreadable files on stderr."""
    from .deploy import predict_images, write_predictions_csv

    results = predict_images(args["export_dir"], args["images"], top_k=args["top_k"], engine=args["engine"])
    skipped = [r for r in results if "error" in r]
    done = len(results) - len(skipped)
    if skipped:
        print(f"skipped {len(skipped)} unreadable file(s): " + "; ".join(f"{r['path']} ({r['error']})" for r in skipped),
              file=sys.stderr)
    if not done:
        raise ConfigError(f"none of the {len(results)} file(s) could be read as an image.")
    if args["csv"]:
        path = write_predictions_csv(results, args["csv"])
        k = next(len(r["top_k"]) for r in results if r["top_k"])
        print(f"wrote the top-{k} classes of {done} image(s) to {path}")
        return
    for r in results:
        if r["top_k"]:
            print(f"{r['path']}: " + " | ".join(f"{name} {p:.4f}" for name, p in r["top_k"]))


def _run(command: str, profile: str, resume: bool, args: dict) -> None:
    """Build the stage's config from the flags, run it, print its one-line summary."""
    cfg = make_config(command, profile, **args)
    if command == "calibrate":
        from .stage1.calibrate import calibrate

        res = calibrate(cfg, resume=resume)
        print(f"Stage 1 done: hand prompts {res['hand_prompt_acc']['test']:.2f} % -> calibrated "
              f"{res['calibrated_acc']['test']:.2f} % test accuracy ({res['selection']}); anchors: {res['anchors']}")
    else:
        from .stage2.distill import distill

        res = distill(cfg, resume=resume)
        if res.get("test_acc_last") is not None:
            print(f"Stage 2 {res['method']} done: test accuracy last epoch {res['test_acc_last']:.2f} % (clean), "
                  f"best epoch {res['test_acc_best']:.2f} % @ {res['best_epoch']} (chosen on test, optimistic); "
                  f"results in {cfg.out}/result.json")

if __name__ == "__main__":
    sys.exit(main())
