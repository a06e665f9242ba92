"""A full disk or a folder without rights, met by any write of a run folder, a cache or a bank: one `OutputError`
that names the file, its folder and the free space, keeps the last good file, leaves no temporary file, and (in
Stage 2) says the last good epoch and how to resume, after which the run ends with the uninterrupted numbers."""

from __future__ import annotations

import errno
import json
from collections import namedtuple
from pathlib import Path

import pytest
import torch

from pand_core.infra import files, rundir
from pand_core.infra.errors import OutputError
from pand_core.infra.files import atomic_torch_save, atomic_write, human_bytes, write_json
from pand_core.infra.rundir import RunDir

TORCH_FULL = ("[enforce fail at inline_container.cc:595] . unexpected pos 64 vs 0", "basic_ios::clear: iostream error")
Usage = namedtuple("Usage", "total used free")


def no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.fixture
def full_disk(monkeypatch):
    """The disk of every folder reports 0 bytes free (as a full one does when its write failed)."""
    monkeypatch.setattr(files.shutil, "disk_usage", lambda p: Usage(2**30, 2**30, 0))


def leftovers(folder: Path) -> list[Path]:
    return sorted(folder.glob(".*.tmp"))


@pytest.mark.parametrize("message", TORCH_FULL)
def test_torch_save_on_a_full_disk_names_folder_and_free_space(tmp_path, monkeypatch, message):
    path = tmp_path / "run" / "checkpoint_last.pt"
    atomic_torch_save({"epoch": 0}, path)
    real = torch.save

    def half_then_fail(obj, f, *a, **k):  # what torch.save does on a full disk: part of the file, then a RuntimeError
        Path(f).write_bytes(b"PK\x03\x04" + bytes(60))
        raise RuntimeError(message)

    monkeypatch.setattr(torch, "save", half_then_fail)
    with pytest.raises(OutputError) as e:
        atomic_torch_save({"epoch": 1}, path)
    text = str(e.value)
    assert f"cannot write checkpoint_last.pt in {path.parent}" in text and " free on that disk" in text
    assert "previous version of the file, if any, is intact and no temporary file is left" in text
    assert "--out/$PAND_RUNS" in text and "$PAND_CACHE" in text and message in text
    assert isinstance(e.value.__cause__, RuntimeError) and len(text.splitlines()) == 1
    monkeypatch.setattr(torch, "save", real)
    assert torch.load(path, weights_only=True) == {"epoch": 0} and leftovers(path.parent) == []


def test_torch_save_with_no_room_left_says_the_disk_is_full(tmp_path, monkeypatch, full_disk):
    path = tmp_path / "bank.pt"
    monkeypatch.setattr(torch, "save", lambda obj, f, *a, **k: (_ for _ in ()).throw(RuntimeError(TORCH_FULL[1])))
    with pytest.raises(OutputError, match=r"cannot write bank.pt in .*: the disk is full \(0 B free on that disk; basic_ios"):
        atomic_torch_save({"x": 1}, path)
    assert not path.exists() and leftovers(tmp_path) == []


def test_a_real_full_device_through_torch_save(tmp_path, monkeypatch):
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    real = torch.save
    monkeypatch.setattr(torch, "save", lambda obj, f, *a, **k: real(obj, "/dev/full"))  # ENOSPC from the kernel
    with pytest.raises(OutputError, match="free on that disk"):
        atomic_torch_save({"x": torch.zeros(1000)}, tmp_path / "x.pt")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("writer", ["write_json", "atomic_write"])
def test_no_space_left_on_device(tmp_path, full_disk, writer):
    path = tmp_path / "result.json"
    write_json(path, {"done": False})

    def partial(tmp, *args, **kwargs):
        tmp.write_bytes(b'{"do')
        no_space()

    with pytest.raises(OutputError, match=r"result.json .*: the disk is full \(0 B free on that disk; \[Errno 28\] No space") as e:
        if writer == "write_json":
            with pytest.MonkeyPatch.context() as m:
                m.setattr(Path, "write_text", partial)
                write_json(path, {"done": True})
        else:
            atomic_write(path, partial)
    assert e.value.__cause__.errno == errno.ENOSPC and "free space there" in str(e.value)
    assert json.loads(path.read_text()) == {"done": False} and leftovers(tmp_path) == []


class ShortFile:
    """A file on a disk that fills up: the first write lands in part, the next raises ENOSPC."""

    def __init__(self, f):
        self.f, self.calls = f, 0

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()

    def write(self, data):
        self.calls += 1
        if self.calls > 1:
            no_space()
        return self.f.write(bytes(data[: len(data) // 2]))


def test_appended_lines_on_a_full_disk(tmp_path, monkeypatch, full_disk):
    run = RunDir(tmp_path / "run", {"a": 1})
    run.log("first line")
    run.append_metrics({"epoch": 0, "loss": 1.0})
    before = {name: (run.path / name).read_bytes() for name in ("run.log", "metrics.jsonl")}
    monkeypatch.setattr(files, "open", lambda *a, **k: ShortFile(open(*a, **k)), raising=False)
    with pytest.raises(OutputError, match=r"cannot write metrics.jsonl in .*run: the disk is full \(0 B free") as e:
        run.append_metrics({"epoch": 1, "loss": 0.5})
    assert "lines written before are intact (no half line is left)" in str(e.value)
    with pytest.raises(OutputError, match=r"cannot write run.log .*the disk is full"):
        run.log("second line")
    assert {name: (run.path / name).read_bytes() for name in before} == before  # no half line: a resume reads them
    assert run.read_metrics() == [{"epoch": 0, "loss": 1.0}]
    monkeypatch.setattr(files, "open", lambda *a, **k: no_space(), raising=False)  # even the open fails
    with pytest.raises(OutputError, match="run.log .*the disk is full"):
        run.log("third line")
    run.close()


def test_no_permission_says_permission_not_disk_full(tmp_path):
    def refused(tmp):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp))

    with pytest.raises(OutputError) as e:
        atomic_write(tmp_path / "config.json", refused)
    text = str(e.value)
    assert "config.json" in text and ": permission denied (" in text and "make the folder writable" in text
    assert "full" not in text and " free on that disk" in text
    with pytest.raises(OutputError, match="the file system is read-only"):
        atomic_write(tmp_path / "x.json", lambda tmp: (_ for _ in ()).throw(OSError(errno.EROFS, "Read-only file system")))


def test_a_failure_that_is_no_write_failure_is_left_as_it_is(tmp_path):
    def bug(tmp):
        tmp.write_text("half")
        raise ValueError("a bug, not a disk")

    with pytest.raises(ValueError, match="a bug"):
        atomic_write(tmp_path / "x.json", bug)
    assert list(tmp_path.iterdir()) == []  # the temporary file is gone all the same


def test_human_units():
    assert [human_bytes(n) for n in (0, 512, 1300, int(1.2 * 2**30))] == ["0 B", "512 B", "1.3 KiB", "1.2 GiB"]


def test_a_bank_that_cannot_be_cached(tmp_path, monkeypatch, full_disk):
    from pand_core.stage2 import targets

    monkeypatch.setattr(torch, "save", lambda *a, **k: (_ for _ in ()).throw(RuntimeError(TORCH_FULL[0])))
    monkeypatch.setattr(targets, "build_bank", lambda *a, cache_dir, **k: atomic_torch_save({}, Path(cache_dir) / "banks" / "b.pt"))
    with pytest.raises(OutputError, match=r"b.pt in .*banks: the disk is full \(0 B free[\s\S]*teacher bank was not cached"):
        targets.BankTargets.build(None, None, torch.device("cpu"), cache_dir=tmp_path)
    assert leftovers(tmp_path / "banks") == []


# ---------------------------------------------------------------------------------------- a real Stage 2 run
TINY = {"image_size": 32, "resize": 36, "student_pretrained": False, "batch_size": 8, "epochs": 2, "method": "ce",
        "num_workers": 0}


def distill_cfg(root: Path, data: Path, name: str):
    from pand_core.config import make_config

    return make_config("distill", "smoke", data_root=str(data), out=str(root / name), cache=str(root / "cache"), **TINY)


def checkpoint_fills_up(monkeypatch, at: int = 2) -> None:
    """The `at`-th save of checkpoint_last.pt meets a full disk (torch.save's RuntimeError)."""
    real_save, saves = torch.save, []

    def save(obj, f, *a, **k):
        if ".checkpoint_last.pt" in str(f):
            saves.append(obj["epoch"])
            if len(saves) == at:
                raise RuntimeError(TORCH_FULL[1])
        return real_save(obj, f, *a, **k)

    monkeypatch.setattr(torch, "save", save)


def assert_stopped_after_epoch_0(e: pytest.ExceptionInfo, cfg) -> None:
    """The message of a run whose second epoch (epoch 1, counting from 0 as run.log does) could not be saved."""
    out, text = Path(cfg.out), str(e.value)
    assert f"cannot write checkpoint_last.pt in {out.absolute()}: the disk is full (0 B free on that disk" in text
    assert "Stage 2 stopped after epoch 0, the last good one (1 of 2 epochs done; epochs count from 0" in text
    assert "run the same command again with --resume" in text and f"--out {cfg.out}" in text
    assert "resumes it by itself" in text and len(text.splitlines()) == 1
    assert isinstance(e.value.__cause__, RuntimeError)  # the original error, kept
    assert torch.load(out / "checkpoint_last.pt", weights_only=True)["epoch"] == 0 and leftovers(out) == []


@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step")  # no optimiser step: training is faked
def test_stage2_on_a_full_disk_says_the_last_good_epoch(tmp_path, synthetic_root, monkeypatch, full_disk):
    from pand_core.stage2 import distill as d

    cfg = distill_cfg(tmp_path, synthetic_root, "stopped")
    monkeypatch.setattr(d, "train_one_epoch", lambda *a, **k: {"loss": 1.0})  # the loop and its writes, not the training
    monkeypatch.setattr(d, "evaluate", lambda model, dataset, *a, **k: (50.0, len(dataset)))
    checkpoint_fills_up(monkeypatch)
    with pytest.raises(OutputError) as e:
        d.distill(cfg, progress=False)
    assert_stopped_after_epoch_0(e, cfg)
    assert [r["epoch"] for r in rundir.read_metrics(cfg.out)] == [0, 1]  # epoch 1's line: dropped by the resume


@pytest.mark.slow
def test_stage2_resumed_after_a_full_disk_gives_the_uninterrupted_numbers(tmp_path, synthetic_root, monkeypatch,
                                                                          full_disk):
    from pand_core.stage2.distill import distill

    full = distill(distill_cfg(tmp_path, synthetic_root, "full"), progress=False)
    cfg = distill_cfg(tmp_path, synthetic_root, "stopped")
    out = Path(cfg.out)
    with monkeypatch.context() as m:
        checkpoint_fills_up(m)
        with pytest.raises(OutputError) as e:
            distill(cfg, progress=False)
    assert_stopped_after_epoch_0(e, cfg)

    # resumed, it meets a full disk at result.json: every epoch is saved, and the next resume only writes it
    with monkeypatch.context() as m:
        real = rundir.write_json
        m.setattr(rundir, "write_json", lambda p, payload: (atomic_write(p, no_space) if Path(p).name == "result.json"
                                                            else real(p, payload)))
        with pytest.raises(OutputError, match=r"result.json[\s\S]*Every epoch of Stage 2 was trained and saved "
                                              r"\(the last, epoch 1,[\s\S]*it only writes result.json"):
            distill(cfg, resume=True, progress=False)
    resumed = distill(cfg, resume=True, progress=False)
    same = ("test_acc_last", "test_acc_best", "best_epoch", "val_selected_test_acc", "test_images_scored",
            "stopped_early_at_epoch")
    assert {k: resumed[k] for k in same} == {k: full[k] for k in same}
    assert json.loads((out / "result.json").read_text())["test_acc_last"] == full["test_acc_last"]
    a = torch.load(tmp_path / "full" / "checkpoint_last.pt", weights_only=True)["model"]
    b = torch.load(out / "checkpoint_last.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [r["epoch"] for r in rundir.read_metrics(out)] == [0, 1]


def test_stage2_whose_first_write_fails_says_nothing_was_trained(tmp_path, synthetic_root, full_disk, monkeypatch):
    from pand_core.stage2.distill import distill

    cfg = distill_cfg(tmp_path, synthetic_root, "never")
    monkeypatch.setattr(rundir, "write_json", lambda p, payload: atomic_write(p, no_space))  # config.json: the first
    with pytest.raises(OutputError, match=r"config.json .*the disk is full[\s\S]*Nothing of Stage 2 was trained: "
                                          r"once there is room, run the same command again\.$"):
        distill(cfg, progress=False)


def test_a_full_disk_while_drawing_the_world_says_so_and_marks_nothing_done(tmp_path, monkeypatch):
    """The miniature's world (a cache) drawn onto a full disk: one OutputError, and no marker that says it is done."""
    from PIL import Image

    from pand_core.miniature.world import SyntheticSpec, make_synthetic_cub

    monkeypatch.setattr(Image.Image, "save", lambda *a, **k: (_ for _ in ()).throw(
        OSError(errno.ENOSPC, "No space left on device")))
    with pytest.raises(OutputError) as caught:
        make_synthetic_cub(tmp_path, SyntheticSpec(n_classes=2, train_per_class=1, test_per_class=1, image_size=16),
                           progress=False)
    said = str(caught.value)
    assert "cannot write images in" in said and "the disk is full" in said and "draws it again" in said
    assert not (tmp_path / "CUB_200_2011" / "synthetic.json").exists()
