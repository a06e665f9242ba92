"""Stage 1 (`stage1.calibrate`) and Stage 2 (`stage2.distill`) runs on the small world: every method, the teacher's
precision and bank, resume, early stop, evaluation, DDP, batching, refusals and the CLI's exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pand_core import cli
from pand_core.config import METHODS, make_config
from pand_core.data import load_dataset, paper_test_transform
from pand_core.infra.errors import ConfigError
from pand_core.models.features import cached_features


@pytest.fixture
def env(tmp_path, monkeypatch, synthetic_root):
    """Isolated cache and runs folders; the small synthetic world as data root."""
    monkeypatch.setenv("PAND_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PAND_RUNS", str(tmp_path / "runs"))
    return {"root": str(synthetic_root), "tmp": tmp_path}


def smoke(stage, env, **kw):
    """The smoke profile on the small world with the random tiny teacher (32 px): engine tests stay fast."""
    tiny = {"teacher": "pand-tiny-clip"} if stage == "calibrate" else {"teacher": "pand-tiny-clip", "image_size": 32,
                                                                       "resize": 36, "student_pretrained": False,
                                                                       "teacher_mode": "online"}
    return make_config(stage, "smoke", data_root=env["root"], **{**tiny, **kw})


def test_one_teacher_precision_for_features_bank_and_online_teacher(synthetic_root, tiny_teacher, tmp_path, env):
    """Precision is part of every cache key and the same context runs the teacher in every mode; runs record it."""
    from pand_core.stage2.distill import distill
    from pand_core.models.features import teacher_autocast

    test = load_dataset("cub", synthetic_root, "test")
    f32, _ = cached_features(tiny_teacher, test, tmp_path, progress=False)
    b16, _ = cached_features(tiny_teacher, test, tmp_path, progress=False, precision="bf16")
    assert len(list((tmp_path / "features").glob("*.pt"))) == 2  # two keys, never one reused for the other
    assert not torch.equal(f32, b16) and torch.allclose(f32, b16, atol=5e-2)  # bf16 is close, not equal
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        plain = tiny_teacher.encode_image(x)
        with teacher_autocast("fp32", torch.device("cpu")):
            assert torch.equal(tiny_teacher.encode_image(x), plain)  # fp32: no autocast at all
        with teacher_autocast("bf16", torch.device("cpu")):
            assert not torch.equal(tiny_teacher.encode_image(x), plain)
    res = distill(smoke("distill", env, method="vl2lite", epochs=1, teacher_precision="bf16", teacher_mode="bank",
                        out=str(tmp_path / "b")), progress=False)
    assert res["teacher_precision"] == "bf16"
    with pytest.raises(ConfigError, match="teacher_precision"):
        smoke("distill", env, method="pand", teacher_precision="fp8")


# ------------------------------------------------------------------------------------------ Stage 1
@pytest.mark.parametrize("select_on", ["last", "val", "test"])
def test_calibrate_writes_labelled_anchors(env, select_on):
    from pand_core.stage1.calibrate import calibrate
    from pand_core.stage1.prompts import load_anchors

    res = calibrate(smoke("calibrate", env, epochs=4, n_ctx=4, select_on=select_on, val_fraction=0.25), progress=False)
    out = Path(res["anchors"]).parent
    assert {"config.json", "metrics.jsonl", "anchors.pt", "result.json", "run.log"} <= {p.name for p in out.iterdir()}
    lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    held = "val_acc" if select_on == "val" else "test_acc"
    assert len(lines) == 4 and all(held in r and "train_acc" in r and "loss" in r for r in lines)
    anchors, meta = load_anchors(out / "anchors.pt", num_classes=6, dim=64)
    assert meta["selected_on"] == select_on and res["selected_on"] == select_on
    assert ("ORIGINAL PROTOCOL" in res["selection"]) == (select_on == "test")
    assert "test" in res["hand_prompt_acc"] and "test" in res["calibrated_acc"]
    if select_on != "last":
        best = max(lines, key=lambda r: r[held])
        assert meta["epoch"] == best["epoch"]


def test_calibrate_selects_on_aircrafts_official_val_split(env, aircraft_root):
    """The original selects Aircraft's anchors on its official `val` split, not on a hold-out of train."""
    from pand_core.stage1.calibrate import calibrate

    cfg = smoke("calibrate", dict(env, root=str(aircraft_root)), dataset="aircraft", epochs=3, n_ctx=4, select_on="val",
                val_fraction=0.5, batch_size=2)
    res = calibrate(cfg, progress=False)
    assert res["selection"] == "anchors of the epoch with the best accuracy on the data set's official validation split"
    assert res["hand_prompt_acc"]["val"] in (0.0, 50.0, 100.0)  # scored on the 2 images of the official val split
    rows = [json.loads(x) for x in (Path(res["anchors"]).parent / "metrics.jsonl").read_text().splitlines()]
    assert all("val_acc" in r for r in rows)
    cub = calibrate(smoke("calibrate", env, epochs=2, n_ctx=4, select_on="val", val_fraction=0.25), progress=False)
    assert "stratified hold-out of train" in cub["selection"]  # CUB has no official val split


def test_calibrate_early_stop_is_recorded_and_last_means_the_last_epoch_run(env, monkeypatch):
    """Zero test features make the held-out (test) accuracy constant: best at epoch 0, so patience 2 stops Stage 1
    after epoch 2 of 6, and "last" keeps epoch 2's anchors."""
    from pand_core.stage1 import calibrate as cal_mod

    real, calls = cal_mod.cached_features, []

    def zero_test_features(teacher, dataset, *args, **kwargs):
        f, y = real(teacher, dataset, *args, **kwargs)
        calls.append(len(y))
        return (torch.zeros_like(f) if len(calls) == 2 else f), y  # calls: train, then test

    monkeypatch.setattr(cal_mod, "cached_features", zero_test_features)
    res = cal_mod.calibrate(smoke("calibrate", env, epochs=6, n_ctx=4, early_stop_patience=2), progress=False)
    out = Path(res["anchors"]).parent
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [0, 1, 2] and len({r["test_acc"] for r in rows}) == 1
    assert res["stopped_early_at_epoch"] == 2 and res["selected_epoch"] == 2 and res["early_stop_watches"] == "test"
    assert "early stop after epoch 2" in (out / "run.log").read_text()
    with pytest.raises(ConfigError, match="early_stop_patience"):
        smoke("calibrate", env, early_stop_patience=-1)


# ------------------------------------------------------------------------------------------ Stage 2
@pytest.fixture
def anchors(env):
    from pand_core.stage1.calibrate import calibrate

    return calibrate(smoke("calibrate", env, epochs=2, n_ctx=4), progress=False)["anchors"]


@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_runs_and_logs_its_terms(env, anchors, method):
    from pand_core.stage2.distill import distill

    cfg = smoke("distill", env, method=method, epochs=2, anchors=anchors, batch_size=8, nlrd_group_size=4)
    res = distill(cfg, progress=False)
    out = Path(cfg.out)
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [0, 1]
    assert res["test_images_scored"] == 18 and res["method"] == method
    assert res["test_acc_last"] == rows[-1]["test_acc"]
    assert res["test_acc_best"] == max(r["test_acc"] for r in rows)
    spec = METHODS[method]
    keys = set(rows[0])
    assert ("hinton_kd" in keys) == spec.hinton and ("img" in keys) == spec.feature_terms
    if spec.feature_terms:
        assert (rows[0]["nlrd"] > 0) == spec.nlrd
    assert res["teacher_mode"] == ("online" if spec.teacher else "none")
    assert (res["teacher"] is None) == (not spec.teacher)
    assert (out / "checkpoint_last.pt").exists() and (out / "checkpoint_best.pt").exists()


def test_ce_never_loads_a_teacher(env, monkeypatch):
    from pand_core.stage2 import distill as d
    from pand_core.stage2 import feeding

    monkeypatch.setattr(feeding, "load_teacher", lambda *a, **k: (_ for _ in ()).throw(AssertionError("teacher loaded")))
    d.distill(smoke("distill", env, method="ce", epochs=1, batch_size=8), progress=False)


def test_bank_mode_trains_on_the_banks_features_not_the_online_teacher(env, anchors, monkeypatch):
    """Once the bank is built, training never runs the teacher's image tower; and what the bank holds is what the
    loss sees (a changed bank changes the run)."""
    from pand_core.stage2.distill import distill
    from pand_core.infra.files import safe_load
    from pand_core.models import Teacher

    kw = dict(method="pand", teacher_mode="bank", bank_views=2, epochs=2, anchors=anchors, batch_size=8, nlrd_group_size=4)
    res = distill(smoke("distill", env, out=str(env["tmp"] / "first"), **kw), progress=False)
    assert res["teacher_mode"] == "bank" and res["train_views"] == "2 stored views per image"
    [bank_file] = (env["tmp"] / "cache" / "banks").glob("*.pt")

    def metrics(name):
        return [{k: v for k, v in json.loads(x).items() if k != "epoch_time_s"}
                for x in (env["tmp"] / name / "metrics.jsonl").read_text().splitlines()]

    with monkeypatch.context() as m:
        m.setattr(Teacher, "encode_image", lambda *a, **k: (_ for _ in ()).throw(AssertionError("online teacher ran")))
        distill(smoke("distill", env, out=str(env["tmp"] / "again"), **kw), progress=False)
    assert metrics("again") == metrics("first")
    blob = safe_load(bank_file)
    blob["bank"] = blob["bank"].flip(-1)  # other features under the same key
    torch.save(blob, bank_file)
    distill(smoke("distill", env, out=str(env["tmp"] / "changed"), **kw), progress=False)
    assert [r["kd"] for r in metrics("changed")] != [r["kd"] for r in metrics("first")]


def test_val_split_gives_val_selected_accuracy(env):
    from pand_core.stage2.distill import distill

    res = distill(smoke("distill", env, method="ce", epochs=2, batch_size=8, val_fraction=0.25), progress=False)
    rows = [json.loads(x) for x in (Path(res_out(env, "ce")) / "metrics.jsonl").read_text().splitlines()]
    best_val = max(rows, key=lambda r: r["val_acc"])
    assert res["val_selected_test_acc"] == best_val["test_acc"]


def res_out(env, method, student="pand-mini-resnet", seed=0):
    return env["tmp"] / "runs" / "smoke" / "cub" / f"{method}-{student}-s{seed}"


@pytest.mark.slow
def test_resume_gives_the_same_numbers_as_an_uninterrupted_run(env, anchors):
    from pand_core.stage2.distill import distill

    kw = dict(method="pand", epochs=3, anchors=anchors, batch_size=8, nlrd_group_size=4)
    full = distill(smoke("distill", env, out=str(env["tmp"] / "full"), **kw), progress=False)

    class Interrupt(Exception):
        pass

    def stop_after_first(record):
        if record["epoch"] == 1:
            raise Interrupt

    cut = smoke("distill", env, out=str(env["tmp"] / "cut"), **kw)
    with pytest.raises(Interrupt):
        distill(cut, progress=False, on_epoch_end=stop_after_first)
    resumed = distill(cut, resume=True, progress=False)
    rows_full = [json.loads(x) for x in (env["tmp"] / "full" / "metrics.jsonl").read_text().splitlines()]
    rows_cut = [json.loads(x) for x in (env["tmp"] / "cut" / "metrics.jsonl").read_text().splitlines()]
    drop = ("epoch_time_s",)
    assert [{k: v for k, v in r.items() if k not in drop} for r in rows_cut] == [
        {k: v for k, v in r.items() if k not in drop} for r in rows_full
    ]
    assert resumed["test_acc_last"] == full["test_acc_last"] and resumed["test_acc_best"] == full["test_acc_best"]
    a = torch.load(env["tmp"] / "full" / "checkpoint_last.pt", weights_only=True)["model"]
    b = torch.load(env["tmp"] / "cut" / "checkpoint_last.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_early_stop_follows_the_originals_rule_and_a_stopped_run_counts_as_finished(env, monkeypatch):
    """Test accuracies 50, 60, 55, 58, 59, 70 with patience 2: the best is epoch 1, so training stops after epoch 3."""
    from pand_core.stage2 import distill as distill_mod

    accs = iter([50.0, 60.0, 55.0, 58.0, 59.0, 70.0] * 2)
    monkeypatch.setattr(distill_mod, "evaluate", lambda *a, **k: (next(accs), 18))
    cfg = smoke("distill", env, method="ce", epochs=6, early_stop_patience=2, out=str(env["tmp"] / "es"))
    res = distill_mod.distill(cfg, progress=False)
    rows = [json.loads(x) for x in (env["tmp"] / "es" / "metrics.jsonl").read_text().splitlines()]
    assert [r["test_acc"] for r in rows] == [50.0, 60.0, 55.0, 58.0]
    assert res["stopped_early_at_epoch"] == 3 and res["best_epoch"] == 1 and res["test_acc_best"] == 60.0
    assert res["test_acc_last"] == 58.0 and res["early_stop_patience"] == 2
    assert "early stop after epoch 3" in (env["tmp"] / "es" / "run.log").read_text()
    assert distill_mod.distill(cfg, resume=True, progress=False) == res  # finished: --resume does not train on
    off = distill_mod.distill(smoke("distill", env, method="ce", epochs=6, out=str(env["tmp"] / "off")), progress=False)
    assert off["stopped_early_at_epoch"] is None and off["early_stop_patience"] == 0  # off by default: all 6 epochs
    with pytest.raises(ConfigError, match="early_stop_patience"):
        smoke("distill", env, method="ce", early_stop_patience=-1)


def test_same_seed_reproduces_and_other_seed_differs(env):
    from pand_core.stage2.distill import distill

    r1 = distill(smoke("distill", env, method="ce", epochs=1, batch_size=8, out=str(env["tmp"] / "a")), progress=False)
    r2 = distill(smoke("distill", env, method="ce", epochs=1, batch_size=8, out=str(env["tmp"] / "b")), progress=False)
    r3 = distill(smoke("distill", env, method="ce", epochs=1, batch_size=8, seed=1, out=str(env["tmp"] / "c")),
                 progress=False)
    ma, mb, mc = ((env["tmp"] / n / "metrics.jsonl").read_text().split('"epoch_time_s"')[0] for n in "abc")
    assert ma == mb and r1["test_acc_last"] == r2["test_acc_last"]
    assert mc != ma  # another seed: other initial weights, views and batch order, hence other losses


def test_evaluation_scores_every_test_image(env):
    from pand_core.stage2.distill import evaluate
    from pand_core.models import build_student

    cfg = smoke("distill", env, method="ce", batch_size=4)  # 18 test images: 4 full batches + 2
    test = load_dataset("cub", env["root"], "test", transform=paper_test_transform(32))
    torch.manual_seed(0)
    student = build_student("resnet18", 6, pretrained=False).eval()
    acc, scored = evaluate(student, test, cfg, torch.device("cpu"))
    assert scored == len(test) == 18
    with torch.no_grad():
        x = torch.stack([test[i][0] for i in range(len(test))])
        manual = (student(x).logits.argmax(-1) == torch.tensor(test.targets)).float().mean().item() * 100
    assert acc == pytest.approx(manual)


# ------------------------------------------------------------------------------------------- refusals
def test_refusals(env, anchors, tmp_path):
    from pand_core.stage2.distill import distill
    from pand_core.stage1.prompts import save_anchors

    with pytest.raises(ConfigError, match="unknown method"):
        smoke("distill", env, method="pandas")
    with pytest.raises(ConfigError, match="nlrd_k .* smaller than nlrd_group_size"):
        smoke("distill", env, nlrd_k=4, nlrd_group_size=4)
    with pytest.raises(ConfigError, match="batch_size"):
        smoke("distill", env, batch_size=3, nlrd_group_size=None)
    with pytest.raises(ConfigError, match="epochs must be positive"):
        smoke("distill", env, epochs=0)
    with pytest.raises(ConfigError, match="unknown student"):
        smoke("distill", env, method="ce", student="resnet-18")
    with pytest.raises(ConfigError, match="unknown teacher"):
        smoke("calibrate", env, teacher="convnext-xxl")
    wrong = save_anchors(tmp_path / "wrong.pt", torch.randn(5, 64), {"classnames": list("abcde"), "teacher": {"name": "pand-tiny-clip"}})
    with pytest.raises(ConfigError, match="classes: file has 5, expected 6"):
        distill(smoke("distill", env, method="pand", anchors=str(wrong), epochs=1), progress=False)
    cfg = smoke("distill", env, method="ce", epochs=1, batch_size=8)
    distill(cfg, progress=False)
    with pytest.raises(ConfigError, match="already holds a run"):
        distill(cfg, progress=False)
    other = smoke("distill", env, method="ce", epochs=2, batch_size=8, out=cfg.out)
    with pytest.raises(ConfigError, match=r"config differs[\s\S]*epochs: 1 != 2"):
        distill(other, resume=True, progress=False)


def test_cli_exit_codes_and_messages(env, capsys):
    assert cli.main(["distill", "--profile", "smoke", "--method", "nope"]) == 2
    assert "unknown method 'nope'" in capsys.readouterr().err
    assert cli.main(["distill", "--profile", "smoke", "--data-root", str(env["tmp"] / "missing"), "--method", "ce"]) == 2
    err = capsys.readouterr().err
    assert "CUB-200-2011 not found" in err and "missing" in err
    tiny = ["--profile", "smoke", "--data-root", env["root"], "--teacher", "pand-tiny-clip"]
    assert cli.main(["calibrate", *tiny, "--epochs", "2", "--n-ctx", "4"]) == 0
    assert "Stage 1 done" in capsys.readouterr().out
    assert cli.main(["distill", *tiny, "--image-size", "32", "--resize", "36", "--method", "pand", "--epochs", "1",
                     "--batch-size", "8", "--nlrd-group-size", "4"]) == 0  # finds calibrate's anchors by itself
    assert "Stage 2 pand done" in capsys.readouterr().out


@pytest.mark.slow
def test_ddp_two_cpu_processes(env, tmp_path):
    """torchrun --nproc_per_node=2 on gloo: one result, the full test set scored once, ranks in step."""
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29533", "-m", "pand_core",
           "distill", "--profile", "smoke", "--data-root", env["root"], "--method", "pand-no-psc", "--epochs", "2",
           "--teacher", "pand-tiny-clip", "--image-size", "32", "--resize", "36",
           "--batch-size", "10", "--nlrd-group-size", "4", "--out", str(out), "--num-workers", "0"]  # ranks: 5, 5, 2
    proc = subprocess.run(cmd, cwd=tmp_path, env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads((out / "result.json").read_text())
    assert res["world_size"] == 2 and res["test_images_scored"] == 18
    rows = (out / "metrics.jsonl").read_text().splitlines()
    assert len(rows) == 2  # written by rank 0 only


def test_epoch_batches_keep_the_last_partial_batch_like_the_originals_sampler():
    from pand_core.stage2.feeding import epoch_batches

    one = epoch_batches(10, 4, seed=0, epoch=0)
    assert [len(b) for b in one] == [4, 4, 2] and sorted(sum(one, [])) == list(range(10))
    assert [len(b) for b in epoch_batches(9, 4, seed=0, epoch=0)] == [4, 4]  # a trailing batch of one is dropped
    assert epoch_batches(10, 4, seed=0, epoch=1) != one and epoch_batches(10, 4, seed=0, epoch=0) == one
    # four ranks, as the original's DistributedSampler: 18 padded to 20 by the permutation's head, 5 samples each
    ranks = [epoch_batches(18, 3, seed=0, epoch=0, rank=r, world=4) for r in range(4)]
    assert all([len(b) for b in r] == [3, 2] for r in ranks)
    order = epoch_batches(18, 18, seed=0, epoch=0)[0]
    assert sorted(i for r in ranks for b in r for i in b) == sorted(list(range(18)) + order[:2])
    assert [r[0][0] for r in ranks] == order[:4]  # dealt round-robin
    assert [len(b) for b in epoch_batches(3, 4, seed=0, epoch=0, rank=1, world=4)] == [1]  # n < world: still one step


@pytest.mark.parametrize("augment", ["cpu", "device"])
def test_training_sees_every_image_each_epoch(env, monkeypatch, augment):
    """24 training images at batch 10: steps of 10, 10 and 4, on the CPU loader and the device path alike."""
    from pand_core.stage2 import distill as distill_mod

    sizes = []
    real = distill_mod.stage2_losses
    monkeypatch.setattr(distill_mod, "stage2_losses", lambda cfg, out, y, *a: sizes.append(len(y)) or real(cfg, out, y, *a))
    distill_mod.distill(smoke("distill", env, method="pand-no-psc", epochs=2, batch_size=10, augment=augment,
                              nlrd_group_size=4), progress=False)
    assert sizes == [10, 10, 4] * 2


def test_resuming_a_finished_run_returns_its_result(env):
    from pand_core.stage2.distill import distill

    cfg = smoke("distill", env, method="ce", epochs=1, batch_size=8)
    first = distill(cfg, progress=False)
    again = distill(cfg, resume=True, progress=False)
    assert again == json.loads(json.dumps(first))


def test_device_augmentation_path_trains_and_resumes_exactly(env):
    from pand_core.stage2.distill import distill

    kw = dict(method="ce", epochs=2, batch_size=8, augment="device")
    full = distill(smoke("distill", env, out=str(env["tmp"] / "dev-full"), **kw), progress=False)

    class Stop(Exception):
        pass

    def stop(record):
        raise Stop

    cut = smoke("distill", env, out=str(env["tmp"] / "dev-cut"), **kw)
    with pytest.raises(Stop):
        distill(cut, progress=False, on_epoch_end=stop)
    resumed = distill(cut, resume=True, progress=False)
    assert resumed["test_acc_last"] == full["test_acc_last"]
    a = torch.load(env["tmp"] / "dev-full" / "checkpoint_last.pt", weights_only=True)["model"]
    b = torch.load(env["tmp"] / "dev-cut" / "checkpoint_last.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(ConfigError, match="bank"):
        smoke("distill", env, method="pand", teacher_mode="bank", augment="device")


def test_options_added_later_do_not_orphan_earlier_runs():
    from pand_core.config import config_diff, to_dict

    current = to_dict(make_config("distill", "smoke", method="ce"))
    old = {k: v for k, v in current.items() if k not in ("augment", "skip_bad_images")}  # saved before they existed
    assert config_diff(old, current) == []
    assert config_diff(old, dict(current, augment="device")) == ["augment: 'cpu' != 'device'"]


def test_in_memory_evaluation_set_scores_like_the_files(env):
    """The test split held as tensors gives the same accuracy as decoding it from disk; a set over the limit stays
    a file-backed dataset (CUB at 224 px)."""
    from pand_core.data import paper_test_transform
    from pand_core.stage2.distill import evaluate
    from pand_core.stage2.feeding import in_memory
    from pand_core.models import build_student

    cfg = smoke("distill", env)
    test = load_dataset("cub", env["root"], "test", transform=paper_test_transform(32))
    held = in_memory(test)
    assert isinstance(held, torch.utils.data.TensorDataset) and len(held) == len(test)
    assert torch.equal(held[4][0], test[4][0]) and int(held[4][1]) == test[4][1]
    assert in_memory(test, limit_bytes=1000) is test
    torch.manual_seed(0)
    student = build_student("pand-mini-resnet", len(test.classnames), pretrained=False)
    assert evaluate(student, held, cfg, torch.device("cpu")) == evaluate(student, test, cfg, torch.device("cpu"))


def test_a_method_with_learned_anchors_names_the_missing_stage1_file(env):
    """Before Stage 1 has run, `pand` points at the anchors of its seed's calibrate run and says how to make them."""
    from pand_core.stage2.feeding import load_sources

    cfg = smoke("distill", env, method="pand", seed=4, out=str(env["tmp"] / "run"))
    with pytest.raises(ConfigError, match=r"needs Stage 1 anchors, and \S*calibrate-s4/anchors.pt does not exist"):
        load_sources(cfg)
