"""A deployable student (`pand_core.deploy`, `pand export`, `pand predict`): one export folder per finished Stage 2
run, and predictions from that folder alone that match the PyTorch student's, on ONNX and TorchScript."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pand_core import cli
from pand_core.config import make_config
from pand_core.data import CLIP_MEAN, CLIP_STD, paper_test_transform
from pand_core.deploy import EXPORT_FILES, CSV_HEADER, export_run, predict_images, preprocess_image
from pand_core.infra.errors import ConfigError
from pand_core.stages import load_student, predict, split_for


@pytest.fixture(scope="module")
def run(tmp_path_factory, synthetic_root):
    """One tiny finished Stage 2 run (1 epoch of ce, 24 px so the 32 px images are resized) and its export."""
    from pand_core.stage2.distill import distill

    tmp = tmp_path_factory.mktemp("deploy")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PAND_CACHE", str(tmp / "cache"))
        mp.setenv("PAND_RUNS", str(tmp / "runs"))
        cfg = make_config("distill", "smoke", data_root=str(synthetic_root), method="ce", epochs=1, image_size=24,
                          resize=28, student_pretrained=False, teacher="pand-tiny-clip", teacher_mode="online",
                          out=str(tmp / "run"))
        distill(cfg, progress=False)
        export = export_run(cfg.out)
        student, cfg = load_student(cfg.out)
        test = split_for(cfg, "test", paper_test_transform(cfg.image_size))
        logits, labels = predict(student, test)
    return {"run": Path(cfg.out), "export": export, "cfg": cfg, "test": test, "tmp": tmp,
            "probs": torch.softmax(logits, dim=1).numpy(), "labels": labels}


def test_the_export_folder_holds_model_labels_preprocessing_and_the_runs_accuracy(run):
    export, cfg = run["export"], run["cfg"]
    assert export == run["run"] / "export"
    assert sorted(p.name for p in export.iterdir()) == sorted(EXPORT_FILES)
    assert json.loads((export / "labels.json").read_text()) == run["test"].classnames
    pre = json.loads((export / "preprocessing.json").read_text())
    assert pre["resize"] == [24, 24] and pre["crop"] is None and pre["interpolation"] == "bilinear"
    assert pre["mean"] == pytest.approx(CLIP_MEAN) and pre["std"] == pytest.approx(CLIP_STD)
    assert pre["input"] == {"name": "images", "layout": "NCHW", "dtype": "float32", "channels": "RGB",
                            "shape": ["batch", 3, 24, 24]}
    info = json.loads((export / "export.json").read_text())
    result = json.loads((run["run"] / "result.json").read_text())
    assert info["test_acc"] == info["test_acc_last"] == result["test_acc_last"]
    assert info["test_acc_best"] == result["test_acc_best"]
    assert (info["method"], info["dataset"], info["checkpoint"], info["num_classes"]) == ("ce", "cub", "last", 6)
    assert max(info["checks"].values()) < 1e-4 and info["pand_core_version"]
    assert info["run_dir"] == str(run["run"].resolve())


@pytest.mark.parametrize("engine", ["onnx", "torchscript"])
def test_predictions_match_the_pytorch_students(run, engine):
    paths = [p for p, _ in run["test"].samples]
    results = predict_images(run["export"], paths, top_k=6, engine=engine)
    classnames = run["test"].classnames
    assert [r["path"] for r in results] == paths and not any("error" in r for r in results)
    for r, ref in zip(results, run["probs"]):
        got = np.array([p for _, p in sorted(r["top_k"], key=lambda t: classnames.index(t[0]))])
        assert np.abs(got - ref).max() < 1e-4
        assert r["top_k"][0][0] == classnames[int(ref.argmax())]
        assert [p for _, p in r["top_k"]] == sorted((p for _, p in r["top_k"]), reverse=True)
    assert len(predict_images(run["export"], paths[:1], top_k=2, engine=engine)[0]["top_k"]) == 2


def test_preprocessing_reproduces_torchvision_with_shorter_side_resize_and_center_crop():
    """The PIL + numpy path is torchvision's, also for the steps the paper's test transform does not use."""
    from torchvision import transforms as T

    pre = {"resize": 40, "interpolation": "bicubic", "crop": [32, 36], "mean": list(CLIP_MEAN), "std": list(CLIP_STD)}
    transform = T.Compose([T.Resize(40, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop((32, 36)),
                           T.ToTensor(), T.Normalize(CLIP_MEAN, CLIP_STD)])
    rng = np.random.default_rng(1)
    for shape in [(50, 70, 3), (91, 45, 3)]:
        image = Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8))
        assert np.abs(preprocess_image(image, pre) - transform(image).numpy()).max() < 1e-6
    small = Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8))  # smaller than the crop: zero padding
    pad = {**pre, "resize": None}
    ref = T.Compose([T.CenterCrop((32, 36)), T.ToTensor(), T.Normalize(CLIP_MEAN, CLIP_STD)])(small).numpy()
    assert np.abs(preprocess_image(small, pad) - ref).max() < 1e-6


def test_a_folder_gives_its_images_sorted_and_an_unreadable_file_is_reported(run, tmp_path):
    paths = [Path(p) for p, _ in run["test"].samples[:3]]
    (tmp_path / "sub").mkdir()
    for i, p in enumerate(paths):
        shutil.copy(p, (tmp_path / "sub" if i == 0 else tmp_path) / f"img{i}{p.suffix}")
    (tmp_path / "notes.txt").write_text("not an image")  # not an image suffix: a folder leaves it out
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    results = predict_images(run["export"], [tmp_path], top_k=1)
    names = [Path(r["path"]).relative_to(tmp_path).as_posix() for r in results]
    assert names == ["broken.jpg", "img1.jpg", "img2.jpg", "sub/img0.jpg"]
    assert "error" in results[0] and results[0]["top_k"] == []
    ok = {Path(r["path"]).name: r["top_k"][0] for r in results[1:]}
    direct = predict_images(run["export"], paths, top_k=1)
    assert [ok["img0.jpg"], ok["img1.jpg"], ok["img2.jpg"]] == [r["top_k"][0] for r in direct]
    # a non-image file named directly, and one that does not exist, are reported too, never a crash
    mixed = predict_images(run["export"], [tmp_path / "notes.txt", paths[0], tmp_path / "missing.png"])
    assert ["error" in r for r in mixed] == [True, False, True] and mixed[2]["error"] == "no such file"


def test_a_folder_that_is_not_a_finished_stage2_run_is_refused(run, tmp_path):
    with pytest.raises(ConfigError, match="holds no run"):
        export_run(tmp_path)
    stage1 = tmp_path / "stage1"
    stage1.mkdir()
    (stage1 / "config.json").write_text("{}")
    (stage1 / "result.json").write_text(json.dumps({"hand_prompt_acc": {}, "calibrated_acc": {}}))
    with pytest.raises(ConfigError, match="is a Stage 1 run .*finished Stage 2 run"):
        export_run(stage1)
    (stage1 / "result.json").unlink()
    with pytest.raises(ConfigError, match="has not finished"):
        export_run(stage1)
    with pytest.raises(ConfigError, match="not an export folder"):
        predict_images(run["run"], [tmp_path])
    with pytest.raises(ConfigError, match="no image files"):
        predict_images(run["export"], [tmp_path / "stage1"])


def test_the_command_line_prints_lines_or_writes_the_csv(run, tmp_path, capsys):
    paths = [p for p, _ in run["test"].samples[:2]]
    (tmp_path / "bad.png").write_text("nope")
    assert cli.main(["predict", str(run["export"]), *paths, str(tmp_path / "bad.png"), "--top-k", "3"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"{paths[0]}: ") and lines[0].count(" | ") == 2
    assert "skipped 1 unreadable file(s): " in err and "bad.png" in err
    csv_path = tmp_path / "out" / "pred.csv"
    assert cli.main(["predict", str(run["export"]), *paths, "--top-k", "2", "--csv", str(csv_path),
                     "--engine", "torchscript"]) == 0
    rows = list(csv.reader(csv_path.open()))
    assert tuple(rows[0]) == CSV_HEADER and len(rows) == 1 + 2 * 2
    assert [r[0] for r in rows[1:]] == [paths[0]] * 2 + [paths[1]] * 2 and [r[1] for r in rows[1:]] == ["1", "2"] * 2
    assert rows[1][2] in run["test"].classnames and 0 < float(rows[1][3]) <= 1
    assert cli.main(["export", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith(f"error: {tmp_path} holds no run")


def test_predicting_with_onnx_loads_no_torch_and_no_training_code(run):
    code = ("import json, sys; from pand_core.deploy import predict_images\n"
            f"r = predict_images({str(run['export'])!r}, [{run['test'].samples[0][0]!r}], top_k=1)\n"
            "print(json.dumps([r[0]['top_k'][0][0], sorted(m for m in ('torch', 'torchvision', 'pand_core.stages', "
            "'pand_core.models', 'pand_core.data') if m in sys.modules)]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    name, loaded = json.loads(proc.stdout)
    assert name in run["test"].classnames and loaded == []


@pytest.mark.slow  # a second export: ~2-4 s
def test_pand_export_from_the_command_line_with_the_best_checkpoint(run, tmp_path, capsys):
    assert cli.main(["export", str(run["run"]), "--out", str(tmp_path / "best"), "--which", "best"]) == 0
    assert f"to {tmp_path / 'best'}: " in capsys.readouterr().out
    info = json.loads((tmp_path / "best" / "export.json").read_text())
    assert info["checkpoint"] == "best" and info["test_acc"] == info["test_acc_best"]
