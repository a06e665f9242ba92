"""Downloads, offline: a local HTTP server (127.0.0.1, random port) serves small archives built here in each official
layout; `$PAND_DOWNLOAD_MIRROR` points at it and the registry's checksums are replaced by those of these archives."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest

from pand_core import cli
from pand_core.data import load_dataset
from pand_core.data import download as dl
from pand_core.infra.errors import ChecksumMismatchError, DownloadError

from mirror import Server, make_tar, official_archives, serve  # noqa: E402  (tests/mirror.py)


@pytest.fixture
def server(monkeypatch):
    s = Server()
    s.thread.start()
    monkeypatch.setenv(dl.MIRROR_ENV, s.url)
    monkeypatch.setenv(dl.TIMEOUT_ENV, "2")
    yield s
    s.release.set()
    s.httpd.shutdown()
    s.httpd.server_close()


def leftovers(root: Path) -> list[str]:
    """Files a failed download must not leave: partial or kept archives, temporary extraction folders, markers."""
    return sorted(p.name for p in root.rglob("*") if p.name.endswith(".part") or p.name.startswith(".pand-extract")
                  or p.name.startswith(dl.MARKER_PREFIX) or p.suffix in (".tgz", ".tar", ".gz"))


SPLITS = {"cub": ("train", 2), "aircraft": ("trainval", 4), "pets": ("trainval", 3), "dogs": ("train", 3)}


@pytest.mark.parametrize("name", ["cub", "aircraft", "pets", "dogs"])
def test_download_verifies_extracts_and_the_loader_reads(name, server, monkeypatch, request, tmp_path):
    tree = request.getfixturevalue(f"{name}_root")
    files = serve(monkeypatch, server, name, tree)
    root = tmp_path / "data"
    assert dl.download(name, root) == root
    split, n = SPLITS[name]
    ds = load_dataset(name, root, split)
    assert len(ds) == n and ds[0][0].size == (24, 24)
    assert dl.is_downloaded(name, root)
    assert {p for m, p in server.requests if m == "GET"} >= set(files)
    assert not (root / dl.DOWNLOADS_DIR).exists()  # archives deleted after extraction
    assert not list(root.glob(".pand-extract*"))


def test_second_call_makes_no_request(server, monkeypatch, cub_root, tmp_path):
    serve(monkeypatch, server, "cub", cub_root)
    root = tmp_path / "data"
    dl.download("cub", root)
    n = len(server.requests)
    assert n > 0
    dl.download("cub", root)
    ds = load_dataset("cub", root, "test", download=True)
    assert len(ds) == 2 and len(server.requests) == n


def test_load_dataset_download_true_fetches_once(server, monkeypatch, cub_root, tmp_path):
    serve(monkeypatch, server, "cub", cub_root)
    root = tmp_path / "data"
    assert len(load_dataset("cub", root, "train", download=True)) == 2
    assert server.gets() >= 1


def test_wrong_checksum_deletes_the_file_and_names_url_expected_actual(server, monkeypatch, cub_root, tmp_path):
    files = serve(monkeypatch, server, "cub", cub_root, md5={"CUB_200_2011.tgz": "0" * 32})
    root = tmp_path / "data"
    with pytest.raises(ChecksumMismatchError) as e:
        dl.download("cub", root)
    msg = str(e.value)
    assert f"{server.url}/CUB_200_2011.tgz" in msg and "0" * 32 in msg
    assert hashlib.md5(files["CUB_200_2011.tgz"]).hexdigest() in msg
    assert leftovers(root) == [] and not (root / "CUB_200_2011").exists()


@pytest.mark.parametrize("mode", ["truncate", "stall"])
def test_interrupted_transfer_fails_clearly_and_a_rerun_succeeds(mode, server, monkeypatch, pets_root, tmp_path):
    serve(monkeypatch, server, "pets", pets_root)
    server.mode["images.tar.gz"] = mode
    root = tmp_path / "data"
    with pytest.raises(DownloadError) as e:
        dl.download("pets", root)
    msg = str(e.value)
    assert f"{server.url}/images.tar.gz" in msg and "run the command again" in msg
    assert ("incomplete" in msg) if mode == "truncate" else ("stopped sending" in msg)
    assert leftovers(root) == [] and not (root / "oxford-iiit-pet" / "images").exists()
    server.mode.clear()
    dl.download("pets", root)
    assert len(load_dataset("pets", root, "test")) == 2


def test_archive_without_recorded_checksum_warns_with_its_sha256(server, monkeypatch, dogs_root, tmp_path, capsys):
    files = serve(monkeypatch, server, "dogs", dogs_root, md5={"lists.tar": None})
    dl.download("dogs", tmp_path / "data")
    err = capsys.readouterr().err
    assert "records no checksum for lists.tar" in err and hashlib.sha256(files["lists.tar"]).hexdigest() in err
    assert len(load_dataset("dogs", tmp_path / "data", "test")) == 2


def test_an_archive_in_the_wrong_layout_installs_nothing(server, monkeypatch, aircraft_root, tmp_path):
    wrong = make_tar([(aircraft_root / "fgvc-aircraft-2013b", "fgvc-aircraft-2013b")], "gz")
    server.files["CUB_200_2011.tgz"] = wrong  # its checksum is recorded, so only the layout check can catch it
    spec = dl.REGISTRY["cub"]
    archives = tuple(dataclasses.replace(a, md5=hashlib.md5(wrong).hexdigest()) for a in spec.archives)
    monkeypatch.setitem(dl.REGISTRY, "cub", dataclasses.replace(spec, archives=archives))
    root = tmp_path / "data"
    with pytest.raises(DownloadError, match="not the official archives"):
        dl.download("cub", root)
    assert not (root / "fgvc-aircraft-2013b").exists() and not dl.is_downloaded("cub", root)


def test_stanford_cars_says_the_links_are_dead_and_takes_an_archive(cars_root, tmp_path):
    root = tmp_path / "data"
    with pytest.raises(DownloadError) as e:
        dl.download("cars", root)
    assert "official archives" in str(e.value) and "--archive PATH" in str(e.value)
    archive = tmp_path / "stanford_cars.tgz"
    archive.write_bytes(make_tar([(cars_root / "stanford_cars", "stanford_cars")], "gz"))
    dl.download("cars", root, archive=archive)
    assert len(load_dataset("cars", root, "train")) == 2 and dl.is_downloaded("cars", root)


def test_stanford_cars_accepts_an_existing_folder(cars_root):
    dl.download("cars", cars_root)
    assert dl.is_downloaded("cars", cars_root)


def test_cli_download_exit_codes(server, monkeypatch, cub_root, tmp_path, capsys):
    serve(monkeypatch, server, "cub", cub_root)
    root = tmp_path / "data"
    assert cli.main(["data", "download", "cub", "--root", str(root)]) == 0
    assert "cub: ready" in capsys.readouterr().out
    assert len(load_dataset("cub", root, "train")) == 2
    assert cli.main(["data", "download", "cars", "--root", str(root)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: Stanford Cars cannot be downloaded")
    assert cli.main(["data", "download", "pets", "--root", str(tmp_path / "other")]) == 2  # nothing served: HTTP 404
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: download of ") and "404" in err[-1]
    assert [ln for ln in err if ln.startswith("error:")] == [err[-1]]


@pytest.mark.slow
def test_download_then_both_stages_with_no_data_root(server, monkeypatch, tmp_path, capsys):
    """The data's one home: `data download cub` without --root fills $PAND_CACHE/data, and `calibrate` and `distill`
    on the paper profile find it there with no --data-root (random tiny teacher and student: the path, not a result)."""
    from pand_core.miniature.world import SyntheticSpec, make_synthetic_cub

    make_synthetic_cub(tmp_path / "tree", SyntheticSpec(n_classes=3, train_per_class=4, test_per_class=2), progress=False)
    serve(monkeypatch, server, "cub", tmp_path / "tree")
    monkeypatch.setenv("PAND_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PAND_RUNS", str(tmp_path / "runs"))
    monkeypatch.delenv("PAND_DATA", raising=False)
    assert cli.main(["data", "download", "cub"]) == 0
    out = capsys.readouterr().out
    assert f"cub: ready in {tmp_path / 'cache' / 'data'} (the stages read it there without --data-root" in out
    tiny = ["--profile", "paper", "--teacher", "pand-tiny-clip", "--teacher-weights", "none"]
    assert cli.main(["calibrate", *tiny, "--epochs", "1", "--batch-size", "4"]) == 0
    assert cli.main(["distill", *tiny, "--method", "pand", "--student", "resnet18", "--no-student-pretrained",
                     "--image-size", "32", "--resize", "36", "--epochs", "1", "--batch-size", "8", "--num-workers", "0"]) == 0
    assert "Stage 2 pand done" in capsys.readouterr().out
    run = tmp_path / "runs" / "paper" / "cub" / "pand-resnet18-s0"
    assert (run / "result.json").exists() and '"data_root": null' in (run / "config.json").read_text()
