"""Downloads, offline: a local HTTP server (127.0.0.1, random port) serves small archives built here in each official
layout; `$PAND_DOWNLOAD_MIRROR` points at it and the registry's checksums are replaced by those of these archives."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pand_core import cli
from pand_core.data import load_dataset
from pand_core.data import download as dl
from pand_core.errors import ChecksumMismatchError, DownloadError


class Server:
    """Serves `files` (name -> bytes); `mode[name]` = "ok" | "truncate" (announces more bytes than it sends, then
    closes) | "stall" (sends half, then goes silent). `requests` records (method, path) of every request."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.mode: dict[str, str] = {}
        self.requests: list[tuple[str, str]] = []
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep the test output clean
                pass

            def _head(self) -> bytes | None:
                name = self.path.lstrip("/").split("?")[0]
                server.requests.append((self.command, name))
                body = server.files.get(name)
                if body is None:
                    self.send_error(404)
                    return None
                announced = len(body) + 1000 if server.mode.get(name) == "truncate" else len(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(announced))
                self.end_headers()
                return body

            def do_HEAD(self) -> None:
                self._head()

            def do_GET(self) -> None:
                body = self._head()
                if body is None:
                    return
                mode = server.mode.get(self.path.lstrip("/"), "ok")
                try:
                    if mode == "ok":
                        self.wfile.write(body)
                    elif mode == "truncate":
                        self.wfile.write(body[: len(body) // 2])
                        self.wfile.flush()
                        self.close_connection = True
                    elif mode == "stall":
                        self.wfile.write(body[: len(body) // 2])
                        self.wfile.flush()
                        server.release.wait(30)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def gets(self) -> int:
        return sum(1 for m, _ in self.requests if m == "GET")


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


def make_tar(entries: list[tuple[Path, str]], compression: str = "") -> bytes:
    """A tar (``compression`` "" or "gz") holding each folder/file `path` under the archive name `arcname`."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=f"w:{compression}" if compression else "w") as tar:
        for path, arcname in entries:
            tar.add(path, arcname=arcname)
    return buf.getvalue()


def official_archives(name: str, tree: Path) -> dict[str, bytes]:
    """The official archives of `name` (file name -> bytes), built from a small tree in the official layout."""
    if name == "cub":
        return {"CUB_200_2011.tgz": make_tar([(tree / "CUB_200_2011", "CUB_200_2011")], "gz")}
    if name == "aircraft":
        return {"fgvc-aircraft-2013b.tar.gz": make_tar([(tree / "fgvc-aircraft-2013b", "fgvc-aircraft-2013b")], "gz")}
    if name == "pets":
        base = tree / "oxford-iiit-pet"
        return {"images.tar.gz": make_tar([(base / "images", "images")], "gz"),
                "annotations.tar.gz": make_tar([(base / "annotations", "annotations")], "gz")}
    if name == "dogs":
        return {"images.tar": make_tar([(tree / "Images", "Images")]),
                "lists.tar": make_tar([(tree / "train_list.mat", "train_list.mat"), (tree / "test_list.mat", "test_list.mat")])}
    raise AssertionError(name)


def serve(monkeypatch, server: Server, name: str, tree: Path, md5: dict[str, str | None] | None = None) -> dict[str, bytes]:
    """Put `name`'s archives on the server and record their true MD5s (or `md5`'s overrides) in the registry."""
    files = official_archives(name, tree)
    server.files.update(files)
    spec = dl.REGISTRY[name]
    sums = {f: hashlib.md5(b).hexdigest() for f, b in files.items()} | (md5 or {})
    archives = tuple(dataclasses.replace(a, md5=sums[a.filename]) for a in spec.archives)
    monkeypatch.setitem(dl.REGISTRY, name, dataclasses.replace(spec, archives=archives))
    return files


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
