"""Fault injection: every fault a user can cause or suffer ends in one clear message with nothing lost.

Item (issue "Reliability") -> test:
 1 missing data / file / split ........ test_missing_data_is_reported_before_the_teacher_loads (+ test_data.py)
 2 corrupt image ...................... test_corrupt_image_stops_with_its_name_or_is_skipped_on_request
 3 SIGKILL mid-run, resume ............ test_sigkill_then_resume_gives_the_uninterrupted_numbers
 4 non-finite loss .................... test_non_finite_loss_names_epoch_step_and_term
 5 unwritable output, disk full ....... test_unwritable_output_and_disk_full
 6 mismatched anchors / resume config . test_stage_runs.py::test_refusals, test_stage1.py::test_anchors_roundtrip_and_mismatch
 7 invalid parameters ................. test_stage_runs.py::test_refusals, test_invalid_parameters_fail_before_heavy_work
 8 teacher weights offline ............ test_models.py::test_teacher_tag_offline_says_how_to_fix
 9 two runs, one folder ............... test_a_second_process_on_the_same_folder_is_refused
10 failing notebook in the pipeline ... test_pipeline.py::test_pipeline_end_to_end_with_failure_recovery_and_book
11 pickled payloads ................... test_pickled_payloads_are_refused_and_never_run
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from pand_core import cli
from pand_core.config import make_config
from pand_core.infra.errors import (
    ConfigError,
    CorruptImageError,
    DatasetNotFoundError,
    NonFiniteLossError,
    OutputError,
    RunLockedError,
    UnsafeFileError,
)

TINY = {"teacher": "pand-tiny-clip", "image_size": 32, "resize": 36, "student_pretrained": False, "teacher_mode": "online"}


@pytest.fixture
def world(tmp_path, monkeypatch):
    """A private small synthetic world (tests here damage it) plus isolated runs and cache folders."""
    from pand_core.miniature.world import SyntheticSpec, make_synthetic_cub

    monkeypatch.setenv("PAND_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PAND_RUNS", str(tmp_path / "runs"))
    make_synthetic_cub(tmp_path / "data", SyntheticSpec(n_classes=4, train_per_class=4, test_per_class=2, image_size=32), progress=False)
    return tmp_path


def distill_cfg(world, **kw):
    return make_config("distill", "smoke", data_root=str(world / "data"), **{**TINY, "batch_size": 8, "epochs": 2, **kw})


def test_missing_data_is_reported_before_the_teacher_loads(world, monkeypatch, capsys):
    from pand_core.stage2 import distill as d
    from pand_core.stage2 import feeding

    monkeypatch.setattr(feeding, "load_teacher", lambda *a, **k: (_ for _ in ()).throw(AssertionError("teacher loaded first")))
    with pytest.raises(DatasetNotFoundError, match=r"missing .*nowhere\nExpected layout[\s\S]*images.txt"):
        d.distill(make_config("distill", "smoke", method="pand-no-psc", data_root=str(world / "nowhere"), **TINY))
    (world / "data" / "CUB_200_2011" / "classes.txt").unlink()
    assert cli.main(["distill", "--profile", "smoke", "--method", "vl2lite", "--data-root", str(world / "data")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: CUB-200-2011 not found: missing") and "classes.txt" in err and "Traceback" not in err


def test_corrupt_image_stops_with_its_name_or_is_skipped_on_request(world, capsys):
    from pand_core.stage2.distill import distill

    bad = sorted((world / "data" / "CUB_200_2011" / "images").rglob("*.jpg"))[1]
    bad.write_bytes(bad.read_bytes()[:200])  # truncated
    args = ["distill", "--profile", "smoke", "--data-root", str(world / "data"), "--method", "ce", "--epochs", "1",
            "--batch-size", "8", "--image-size", "32", "--resize", "36", "--num-workers", "2"]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert bad.name in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    res = distill(distill_cfg(world, method="ce", epochs=1, skip_bad_images=True, out=str(world / "skip")), progress=False)
    assert len(res["skipped_images"]) == 1 and bad.name in res["skipped_images"][0]
    assert bad.name in (world / "skip" / "run.log").read_text()


@pytest.mark.slow
def test_sigkill_then_resume_gives_the_uninterrupted_numbers(world):
    from pand_core.stage2.distill import distill

    kw = dict(method="pand-no-psc", epochs=4, nlrd_group_size=4)
    full = distill(distill_cfg(world, out=str(world / "full"), **kw), progress=False)
    out = world / "killed"
    cmd = [sys.executable, "-m", "pand_core", "distill", "--profile", "smoke", "--data-root", str(world / "data"),
           "--method", "pand-no-psc", "--epochs", "4", "--batch-size", "8", "--nlrd-group-size", "4",
           "--teacher", "pand-tiny-clip", "--image-size", "32", "--resize", "36", "--teacher-mode", "online",
           "--no-student-pretrained", "--out", str(out)]
    paused = world / "killed.paused"
    # The killed process is the command line itself, held at the start of its third epoch (after two epochs and
    # their checkpoints), so the kill always lands mid-run however fast the machine is.
    hold = ("import sys, time\nimport pand_core.stage2.distill as d\nfrom pand_core import cli\nreal = d.train_one_epoch\n"
            "def held(*args):\n    if args[6] == 2:\n        open(sys.argv[1], 'w').close()\n        time.sleep(600)\n"
            "    return real(*args)\nd.train_one_epoch = held\nsys.exit(cli.main(sys.argv[2:]))")
    proc = subprocess.Popen([sys.executable, "-c", hold, str(paused), *cmd[3:]], env=dict(os.environ),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    while time.time() < deadline and not paused.exists() and proc.poll() is None:
        time.sleep(0.05)
    assert paused.exists(), proc.stderr.read().decode()[-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "result.json").exists()
    ckpt = torch.load(out / "checkpoint_last.pt", weights_only=True)  # intact: written by rename, never in place
    assert ckpt["epoch"] == 1  # the last epoch that finished, and wrote its checkpoint, before the kill
    assert cli.main(cmd[3:] + ["--resume"]) == 0
    resumed = json.loads((out / "result.json").read_text())
    assert resumed["test_acc_last"] == full["test_acc_last"] and resumed["test_acc_best"] == full["test_acc_best"]
    a = torch.load(world / "full" / "checkpoint_last.pt", weights_only=True)["model"]
    b = torch.load(out / "checkpoint_last.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_non_finite_loss_names_epoch_step_and_term(world, monkeypatch):
    from pand_core.stage2 import distill as d

    real = d.stage2_losses
    calls = {"n": 0}

    def poisoned(cfg, out, labels, *args):
        total, terms = real(cfg, out, labels, *args)
        calls["n"] += 1
        if calls["n"] == 4:  # 16 training images, batches of 8: 2 steps per epoch -> epoch 1, step 1
            terms["kd"] = terms["kd"] * float("nan")
            total = total + terms["kd"]
        return total, terms

    monkeypatch.setattr(d, "stage2_losses", poisoned)
    cfg = distill_cfg(world, method="vl2lite", epochs=3)
    with pytest.raises(NonFiniteLossError, match=r"Stage 2 loss became non-finite at epoch 1, step 1 \(term\(s\): kd\)") as e:
        d.distill(cfg, progress=False)
    assert "last good checkpoint is intact" in str(e.value)
    ckpt = torch.load(Path(cfg.out) / "checkpoint_last.pt", weights_only=True)
    assert ckpt["epoch"] == 0 and all(torch.isfinite(v).all() for v in ckpt["model"].values() if v.is_floating_point())


def test_unwritable_output_and_disk_full(world, monkeypatch):
    from pand_core.stage2 import distill as d
    from pand_core.infra import files

    blocker = world / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(OutputError, match="cannot create the run folder"):
        d.distill(distill_cfg(world, method="ce", out=str(blocker / "run")), progress=False)
    cfg = distill_cfg(world, method="ce", epochs=2, out=str(world / "full-disk"))
    real_save = torch.save
    state = {"saves": 0}

    def save(obj, f, *a, **k):
        if "checkpoint_last" in str(f):
            state["saves"] += 1
            if state["saves"] == 2:  # the second epoch's checkpoint hits a full disk
                raise OSError(28, "No space left on device")
        return real_save(obj, f, *a, **k)

    monkeypatch.setattr(torch, "save", save)
    with pytest.raises(OutputError, match=r"the disk is full[\s\S]*previous version of the file, if any, is intact"):
        d.distill(cfg, progress=False)
    ckpt = torch.load(Path(cfg.out) / "checkpoint_last.pt", weights_only=True)
    assert ckpt["epoch"] == 0  # epoch 0's checkpoint survived
    assert not list(Path(cfg.out).glob(".*.tmp"))  # no temp file left behind


def test_a_second_process_on_the_same_folder_is_refused(world):
    from pand_core.infra.rundir import RunDir

    out = world / "shared"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({str(out / '.lock')!r}, os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX); os.write(fd, str(os.getpid()).encode())\n"
        "print('locked', flush=True); time.sleep(60)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunLockedError, match=rf"in use by another running process \(pid {holder.pid}\)"):
            RunDir(out, {"a": 1}, resume=True)
    finally:
        holder.kill()
        holder.wait()
    run = RunDir(out, {"a": 1})  # the holder is gone (killed): its lock went with it
    run.close()


def test_invalid_parameters_fail_before_heavy_work(world, capsys):
    for args, text in ((["--epochs", "0"], "epochs must be positive"), (["--nlrd-k", "32"], "smaller than nlrd_group_size"),
                       (["--student", "resnet1800"], "unknown student"), (["--teacher", "ViT-Z"], "unknown teacher"),
                       (["--batch-size", "3", "--nlrd-group-size", "none"], "batch_size (3) must be at least")):
        assert cli.main(["distill", "--profile", "smoke", "--method", "pand-no-psc", *args]) == 2
        assert text in capsys.readouterr().err
    assert not (world / "runs").exists()  # nothing was created


class _Payload:
    def __reduce__(self):  # unpickling this would create a marker file
        return (Path.touch, (Path(os.environ["PAND_MARKER"]),))


def test_pickled_payloads_are_refused_and_never_run(world, monkeypatch):
    from pand_core.stage1.prompts import load_anchors
    from pand_core.infra.rundir import load_checkpoint

    marker = world / "pwned"
    monkeypatch.setenv("PAND_MARKER", str(marker))
    evil = world / "evil.pt"
    torch.save({"anchors": torch.zeros(2, 2), "meta": {"x": _Payload()}}, evil)
    for loader in (lambda: load_anchors(evil), lambda: load_checkpoint(evil)):
        with pytest.raises(UnsafeFileError, match="refusing to load"):
            loader()
    from pand_core.models import features
    from pand_core.data import load_dataset

    class FakeTeacher:
        name, source, preprocess = "t", "random", None

    ds = load_dataset("cub", world / "data", "test")
    ident = features._cache_identity(FakeTeacher(), ds, None, "fp32")
    cache_file = world / "cache" / "features" / f"cub-test-{features._key(ident)}.pt"
    cache_file.parent.mkdir(parents=True)
    torch.save({"features": _Payload(), "meta": {"identity": ident}}, cache_file)
    with pytest.raises(UnsafeFileError):
        features._load_cached(cache_file, ident)
    assert not marker.exists()  # nothing ran
