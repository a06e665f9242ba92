"""A deployable student: `export_run` turns a finished Stage 2 run into one folder (TorchScript, ONNX, labels, the
test preprocessing, the run's accuracy); `predict_images` classifies image files with that folder alone.

The prediction side needs only the folder, PIL, numpy and onnxruntime (or torch for TorchScript): it imports none of
pand_core's training code, torchvision or, on ONNX, torch.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any, Iterable

from .infra.errors import ConfigError, OutputError, PandError

MODEL_FILES = {"onnx": "student.onnx", "torchscript": "student.torchscript.pt"}
EXPORT_FILES = (*MODEL_FILES.values(), "labels.json", "preprocessing.json", "export.json")
ENGINES = tuple(MODEL_FILES)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")
CSV_HEADER = ("path", "rank", "class", "probability")
# torchvision's InterpolationMode values -> PIL's resampling filters (what torchvision's Resize uses on a PIL image).
_PIL_FILTERS = {"nearest": 0, "nearest-exact": 0, "lanczos": 1, "bilinear": 2, "bicubic": 3, "box": 4, "hamming": 5}
_BATCH = 32


# ------------------------------------------------------------------------------------------------------- export
def _finished_stage2(run_dir: Path) -> dict:
    """The `result.json` of the finished Stage 2 run in `run_dir`; anything else raises one `ConfigError`."""
    take = "export takes the folder of a finished Stage 2 run (the --out of `pand distill`)"
    if not run_dir.is_dir():
        raise ConfigError(f"{run_dir} is not a folder; {take}.")
    if not (run_dir / "result.json").exists():
        if (run_dir / "config.json").exists():
            raise ConfigError(f"{run_dir} holds a run that has not finished (no result.json); finish it with "
                              f"`pand distill --resume --out {run_dir}`, then export it.")
        raise ConfigError(f"{run_dir} holds no run (no config.json, no result.json); {take}.")
    result = json.loads((run_dir / "result.json").read_text())
    if "test_acc_last" not in result or not (run_dir / "checkpoint_last.pt").exists():
        what = "a Stage 1 run (`pand calibrate`: prompts, no student)" if (
            "calibrated_acc" in result or (run_dir / "anchors.pt").exists()) else "not a Stage 2 run"
        raise ConfigError(f"{run_dir} is {what}; {take}.")
    return result


def _describe_transform(transform: Any, source: str) -> dict:
    """`preprocessing.json`'s content read off a torchvision test transform (Resize, CenterCrop, ToTensor,
    Normalize); any other step raises, so the record can never silently differ from the transform."""
    from torchvision import transforms as T

    pre: dict[str, Any] = {"resize": None, "interpolation": "bilinear", "crop": None, "mean": [0.0, 0.0, 0.0],
                           "std": [1.0, 1.0, 1.0]}
    steps = []
    for t in transform.transforms:
        if isinstance(t, T.Resize):
            if t.max_size is not None:
                raise RuntimeError(f"cannot record {t!r} for deployment: max_size is not supported")
            pre["resize"] = [int(s) for s in t.size] if isinstance(t.size, (list, tuple)) and len(t.size) == 2 else int(
                t.size[0] if isinstance(t.size, (list, tuple)) else t.size)
            pre["interpolation"] = t.interpolation.value
            steps.append(f"resize to {pre['resize']} (height, width; an int: the shorter side) with PIL "
                         f"{pre['interpolation']} (antialiased)")
        elif isinstance(t, T.CenterCrop):
            pre["crop"] = [int(s) for s in t.size]
            steps.append(f"center crop {pre['crop']} (height, width; zero padding where the image is smaller)")
        elif isinstance(t, T.ToTensor):
            steps.append("to float32 in [0, 1]: pixel / 255, HWC -> CHW")
        elif isinstance(t, T.Normalize):
            pre["mean"], pre["std"] = [float(m) for m in t.mean], [float(s) for s in t.std]
            steps.append("per channel (x - mean) / std")
        else:
            raise RuntimeError(f"cannot record test transform step {t!r} for deployment")
    return {"source": source, "decode": "PIL Image.open(path).convert('RGB') (EXIF orientation not applied, as in "
            "training)", **pre, "steps": steps}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def export_run(run_dir: str | Path, out_dir: str | Path | None = None, which: str = "last") -> Path:
    """Export a finished Stage 2 run's student into one folder and return it: `student.torchscript.pt`, `student.onnx`
    (both checked against PyTorch), `labels.json`, `preprocessing.json` and `export.json` (run, accuracy, checks).

    Args:
        run_dir: The Stage 2 run folder (`pand distill --out`); anything else is refused with a `ConfigError`.
        out_dir: The folder written to (made if missing; the five files are replaced); None: `<run_dir>/export`.
        which: "last" (the last epoch's weights) or "best" (the best test epoch's).
    """
    import numpy as np
    from PIL import Image

    from .data import load_image
    from .data.transforms import paper_test_transform
    from .infra.files import atomic_write
    from .infra.version import package_version
    from .models.export import export_student
    from .stages import load_student, split_for

    if which not in ("last", "best"):
        raise ConfigError(f"which checkpoint: 'last' or 'best', got {which!r}.")
    run_dir = Path(run_dir)
    result = _finished_stage2(run_dir)
    student, cfg = load_student(run_dir, which)
    out = Path(out_dir) if out_dir is not None else run_dir / "export"

    test = split_for(cfg, "test")
    labels = list(test.classnames)
    n_classes = student.classifier.out_features
    if len(labels) != n_classes:
        raise ConfigError(f"{run_dir}: the student has {n_classes} classes but the data set's test split names "
                          f"{len(labels)} ({cfg.dataset} under {test.root}): that is not the data the run was "
                          "trained on; restore it there (or set $PAND_DATA / $PAND_CACHE as during training).")
    transform = paper_test_transform(cfg.image_size)
    pre = _describe_transform(transform, f"pand_core.data.transforms.paper_test_transform({cfg.image_size})")
    pre["input"] = {"name": "images", "layout": "NCHW", "dtype": "float32", "channels": "RGB",
                    "shape": ["batch", 3, cfg.image_size, cfg.image_size]}
    pre["output"] = {"name": "logits", "shape": ["batch", n_classes], "probabilities": "softmax over the last axis"}

    # The record must reproduce the transform: compare on a non-square random image and the first test image.
    rng = np.random.default_rng(0)
    probes = [Image.fromarray(rng.integers(0, 256, (cfg.image_size + 13, cfg.image_size + 5, 3), dtype=np.uint8))]
    for path, _ in test.samples[:5]:  # the first test image that decodes (a run may have skipped corrupt ones)
        try:
            probes.append(load_image(path))
            break
        except PandError:
            continue
    pre_err = max(float(np.abs(preprocess_image(im, pre) - transform(im).numpy()).max()) for im in probes)
    if pre_err > 1e-5:
        raise RuntimeError(f"preprocessing.json does not reproduce the test transform (max abs err {pre_err:.2e})")

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot make the export folder {out}: {e.strerror or e}; pass --out a writable folder.") from e
    checks = export_student(student, out, image_size=cfg.image_size)

    def write_json(name: str, obj: Any) -> None:
        atomic_write(out / name, lambda p: p.write_text(json.dumps(obj, indent=2) + "\n"))

    write_json("labels.json", labels)
    write_json("preprocessing.json", pre)
    write_json("export.json", {
        "run_dir": str(run_dir.resolve()),
        "method": result.get("method", cfg.method),
        "dataset": result.get("dataset", cfg.dataset),
        "class_names": cfg.class_names,
        "student": result.get("student", cfg.student),
        "num_classes": n_classes,
        "image_size": cfg.image_size,
        "checkpoint": which,
        "test_acc": result.get(f"test_acc_{which}"),  # the exported checkpoint's
        "test_acc_last": result.get("test_acc_last"),
        "test_acc_best": result.get("test_acc_best"),
        "test_acc_unit": "percent (from the run's result.json; best: chosen on the test split, optimistic)",
        "best_epoch": result.get("best_epoch"),
        "test_images_scored": result.get("test_images_scored"),
        "checks": {"torchscript_max_abs_err": checks["torchscript_max_abs_err"],
                   "onnx_max_abs_err": checks["onnx_max_abs_err"], "preprocessing_max_abs_err": pre_err},
        "files": {name: {"bytes": (out / name).stat().st_size, "sha256": _sha256(out / name)}
                  for name in (*MODEL_FILES.values(), "labels.json", "preprocessing.json")},
        "pand_core_version": package_version(),
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    })
    return out


# ------------------------------------------------------------------------------------------------------ predict
def preprocess_image(image: Any, preprocessing: dict):
    """One image as the exported student expects it: float32 `[3, H, W]`, made with PIL and numpy exactly as the
    run's test transform that `preprocessing` records (decode to RGB, resize, optional center crop, /255, normalise).

    Args:
        image: A PIL image or the path of an image file.
        preprocessing: The content of the export's `preprocessing.json`.
    """
    import numpy as np
    from PIL import Image

    if not isinstance(image, Image.Image):
        with Image.open(image) as im:
            im.load()
            image = im.convert("RGB")
    elif image.mode != "RGB":
        image = image.convert("RGB")
    size, resample = preprocessing["resize"], _PIL_FILTERS[preprocessing.get("interpolation", "bilinear")]
    if size is not None:
        w, h = image.size
        if isinstance(size, int):  # the shorter side, as torchvision's Resize(int)
            short, long = (w, h) if w <= h else (h, w)
            new_short, new_long = size, int(size * long / short)
            new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
        else:
            new_h, new_w = size
        if (new_w, new_h) != (w, h):
            image = image.resize((new_w, new_h), resample)
    pixels = np.asarray(image, dtype=np.uint8)
    if preprocessing.get("crop") is not None:
        ch, cw = preprocessing["crop"]
        h, w = pixels.shape[:2]
        if ch > h or cw > w:  # torchvision pads with zeros (left/top get the smaller half), then crops
            top, left = (ch - h) // 2 if ch > h else 0, (cw - w) // 2 if cw > w else 0
            pixels = np.pad(pixels, ((top, max(ch - h - top, 0)), (left, max(cw - w - left, 0)), (0, 0)))
            h, w = pixels.shape[:2]
        top, left = int(round((h - ch) / 2.0)), int(round((w - cw) / 2.0))
        pixels = pixels[top:top + ch, left:left + cw]
    x = pixels.astype(np.float32).transpose(2, 0, 1) / np.float32(255)
    mean = np.asarray(preprocessing["mean"], dtype=np.float32)[:, None, None]
    std = np.asarray(preprocessing["std"], dtype=np.float32)[:, None, None]
    return np.ascontiguousarray((x - mean) / std, dtype=np.float32)


def image_files(images: Iterable[str | Path]) -> list[Path]:
    """The files to classify: each file as given, each folder's image files (by suffix, recursively, hidden ones
    left out) in sorted order; a path that does not exist is kept, so that it is reported as unreadable.

    Args:
        images: Image files and folders.
    """
    found: list[Path] = []
    for item in images:
        p = Path(item)
        if p.is_dir():
            found += sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
                            and not any(part.startswith(".") for part in f.relative_to(p).parts))
        else:
            found.append(p)
    return found


def _read_export(export_dir: Path, engine: str) -> tuple[list[str], dict, Path]:
    if engine not in ENGINES:
        raise ConfigError(f"engine: {' or '.join(ENGINES)}, got {engine!r}.")
    needed = ("labels.json", "preprocessing.json", MODEL_FILES[engine])
    missing = [n for n in needed if not (export_dir / n).is_file()]
    if missing:
        raise ConfigError(f"{export_dir} is not an export folder (made by `pand export RUN_DIR`): it lacks "
                          f"{', '.join(missing)}.")
    labels = json.loads((export_dir / "labels.json").read_text())
    if isinstance(labels, dict):
        labels = [labels[str(i)] for i in range(len(labels))]
    return labels, json.loads((export_dir / "preprocessing.json").read_text()), export_dir / MODEL_FILES[engine]


def _runner(model_path: Path, engine: str):
    """A function `[B, 3, H, W] float32 -> [B, C] logits` (numpy in, numpy out) on the exported model."""
    if engine == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        return lambda x: session.run(None, {name: x})[0]
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch >= 2.9 flags TorchScript as deprecated; it still loads
        module = torch.jit.load(str(model_path), map_location="cpu").eval()

    def run(x):
        with torch.inference_mode():
            return module(torch.from_numpy(x)).numpy()

    return run


def predict_images(export_dir: str | Path, images: Iterable[str | Path], top_k: int = 5,
                   engine: str = "onnx") -> list[dict]:
    """Classify image files with an export folder alone: per file (in order) a dict with `path` and `top_k`, a list of
    `(class name, probability)`, most likely first; a file that cannot be read has `top_k` empty and `error` set.

    Args:
        export_dir: The folder `export_run` (`pand export`) wrote.
        images: Image files and folders (a folder: its image files, recursively, sorted; `image_files`).
        top_k: How many classes per image (at most the number of classes).
        engine: "onnx" (onnxruntime, no torch needed) or "torchscript" (torch.jit).
    """
    import numpy as np

    export_dir = Path(export_dir)
    labels, pre, model_path = _read_export(export_dir, engine)
    if int(top_k) < 1:
        raise ConfigError(f"top_k: at least 1, got {top_k}.")
    images = list(images)
    files = image_files(images)
    if not files:
        raise ConfigError(f"no image files in {', '.join(map(str, images)) or 'the arguments'} (suffixes: "
                          f"{' '.join(IMAGE_SUFFIXES)}).")
    k = min(int(top_k), len(labels))
    results: list[dict] = []
    arrays: list[tuple[dict, Any]] = []
    for f in files:
        entry: dict[str, Any] = {"path": str(f), "top_k": []}
        results.append(entry)
        try:
            arrays.append((entry, preprocess_image(f, pre)))
        except (OSError, ValueError, SyntaxError) as e:  # missing, not an image, truncated, corrupt
            entry["error"] = f"{type(e).__name__}: {e}" if not isinstance(e, FileNotFoundError) else "no such file"
    run = _runner(model_path, engine) if arrays else None
    for start in range(0, len(arrays), _BATCH):
        chunk = arrays[start:start + _BATCH]
        logits = np.asarray(run(np.stack([a for _, a in chunk])), dtype=np.float64)
        z = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs = z / z.sum(axis=1, keepdims=True)
        for (entry, _), p in zip(chunk, probs):
            order = np.argsort(-p, kind="stable")[:k]
            entry["top_k"] = [(labels[i], float(p[i])) for i in order]
    return results


def write_predictions_csv(results: list[dict], path: str | Path) -> Path:
    """Write `predict_images`' results as CSV (`path,rank,class,probability`, one row per class of each image's top-k;
    unreadable files have no rows), atomically; a failed write raises `OutputError`.

    Args:
        results: What `predict_images` returned.
        path: The CSV file (its folder is made if missing).
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(CSV_HEADER)
            for r in results:
                for rank, (name, p) in enumerate(r["top_k"], 1):
                    w.writerow([r["path"], rank, name, f"{p:.6f}"])
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {e.strerror or e}; nothing was written there.") from e
    return path
