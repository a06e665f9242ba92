"""A local download mirror for tests: an HTTP server on 127.0.0.1 (random port) serving small archives built from a
tree in each data set's official layout, with the registry's checksums replaced by those of these archives."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from pand_core.data import download as dl


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
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def gets(self) -> int:
        return sum(1 for m, _ in self.requests if m == "GET")


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
