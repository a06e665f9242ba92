"""Fetch the official archives of each data set, verify them against checksums recorded here, extract them into the
layout the loaders read, and leave a completion marker (written last) so that a second call returns at once.

HTTP, redirects and archive formats are torchvision's (`torchvision.datasets.utils.download_url`, `extract_archive`,
`calculate_md5`); this module adds what they leave out: a download into `<name>.part` that is renamed only after its
size and checksum are right (torchvision writes the final name directly and, in Python 3.11, accepts a body shorter
than its Content-Length without complaint), a socket timeout (a stalled server ends in an error, not a hang),
extraction into a temporary folder beside the target that is renamed into place, and one clear error per failure.
`$PAND_DOWNLOAD_MIRROR=URL` fetches every archive from `URL/<archive file name>`; the checksums still apply.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import shutil
import socket
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ..config import DATASET_NAMES
from ..infra.errors import ChecksumMismatchError, ConfigError, DownloadError
from ..infra.files import atomic_write

MIRROR_ENV = "PAND_DOWNLOAD_MIRROR"
TIMEOUT_ENV = "PAND_DOWNLOAD_TIMEOUT"  # seconds without a byte before a transfer is abandoned
DEFAULT_TIMEOUT_S = 60.0
MARKER_PREFIX = ".pand-download-"
DOWNLOADS_DIR = ".pand-downloads"  # archives in transit, under the data root


@dataclass(frozen=True)
class Archive:
    """One official archive: where it lives, its file name, its MD5 (None: none recorded) and where that MD5 was found."""

    filename: str
    url: str
    md5: str | None
    md5_source: str
    approx_size: str  # as the hosts list it, rounded; for messages and the guide only


@dataclass(frozen=True)
class DatasetArchives:
    """The archives of one data set, the folder (relative to the data root) they are extracted into, and the entries
    that folder must hold afterwards."""

    title: str
    archives: tuple[Archive, ...]
    subdir: str  # "" = the data root itself
    produces: tuple[str, ...]


# Checksums: each MD5 below was copied from public code that downloads the same archive; the comment names it.
REGISTRY: dict[str, DatasetArchives] = {
    "cub": DatasetArchives(
        title="CUB-200-2011",
        archives=(Archive(
            filename="CUB_200_2011.tgz",
            url="https://data.caltech.edu/records/65de6-vp158/files/CUB_200_2011.tgz?download=1",
            # ContinualAI/avalanche, avalanche/benchmarks/datasets/cub200/cub200.py (CUB200.tgz_md5, commit 0a08720);
            # the same value is in several other CUB loaders.
            md5="97eceeb196236b17998738112f37df78",
            md5_source="ContinualAI/avalanche: avalanche/benchmarks/datasets/cub200/cub200.py",
            approx_size="1.1 GB",
        ),),
        subdir="",
        produces=("CUB_200_2011/images.txt", "CUB_200_2011/images"),
    ),
    "aircraft": DatasetArchives(
        title="FGVC-Aircraft 2013b",
        archives=(Archive(
            filename="fgvc-aircraft-2013b.tar.gz",
            url="https://www.robots.ox.ac.uk/~vgg/data/fgvc-aircraft/archives/fgvc-aircraft-2013b.tar.gz",
            # mlverse/torchvision (R), R/dataset-fgvc.R (fgvc_aircraft_dataset download, commit 041fa5d). The installed
            # Python torchvision (0.29) downloads this archive without an MD5. (kamisaberi/xtorch lists
            # 85eeb15f3717b99a5da872d97d918f87 for it, but that is Food-101's MD5 copied by mistake: not used.)
            md5="d4acdd33327262359767eeaa97a4f732",
            md5_source="mlverse/torchvision: R/dataset-fgvc.R",
            approx_size="2.6 GB",
        ),),
        subdir="",
        produces=("fgvc-aircraft-2013b/data/variants.txt", "fgvc-aircraft-2013b/data/images"),
    ),
    "pets": DatasetArchives(
        title="Oxford-IIIT Pet",
        archives=(
            Archive(
                filename="images.tar.gz",
                url="https://www.robots.ox.ac.uk/~vgg/data/pets/data/images.tar.gz",
                # pytorch/vision, torchvision/datasets/oxford_iiit_pet.py (OxfordIIITPet._RESOURCES; installed 0.29.1)
                md5="5c4f3ee8e5d25df40f4fd59a7f44e54c",
                md5_source="pytorch/vision: torchvision/datasets/oxford_iiit_pet.py",
                approx_size="755 MB",
            ),
            Archive(
                filename="annotations.tar.gz",
                url="https://www.robots.ox.ac.uk/~vgg/data/pets/data/annotations.tar.gz",
                # pytorch/vision, torchvision/datasets/oxford_iiit_pet.py (OxfordIIITPet._RESOURCES; installed 0.29.1)
                md5="95a8c909bbe2e81eed6a22bccdf3f68f",
                md5_source="pytorch/vision: torchvision/datasets/oxford_iiit_pet.py",
                approx_size="18 MB",
            ),
        ),
        subdir="oxford-iiit-pet",
        produces=("images", "annotations/trainval.txt", "annotations/test.txt"),
    ),
    "dogs": DatasetArchives(
        title="Stanford Dogs",
        archives=(
            Archive(
                filename="images.tar",
                url="http://vision.stanford.edu/aditya86/ImageNetDogs/images.tar",
                # Four independent public Stanford Dogs loaders in the code index carry this MD5 (torchvision-style
                # `_RESOURCES`, `sources` and `tgz_md5s` tables); the index did not name their repositories.
                md5="1bb1f2a596ae7057f99d7d75860002ef",
                md5_source="four public Stanford Dogs loaders (repositories not named by the code index)",
                approx_size="757 MB",
            ),
            Archive(
                filename="lists.tar",
                url="http://vision.stanford.edu/aditya86/ImageNetDogs/lists.tar",
                # The same loaders as images.tar (three of the four list lists.tar).
                md5="edbb9f16854ec66506b5f09b583e0656",
                md5_source="three public Stanford Dogs loaders (repositories not named by the code index)",
                approx_size="0.5 MB",
            ),
        ),
        subdir="",
        produces=("Images", "train_list.mat", "test_list.mat"),
    ),
}

CARS_LAYOUT = ("devkit/cars_meta.mat", "devkit/cars_train_annos.mat", "cars_test_annos_withlabels.mat", "cars_train",
               "cars_test")
CARS_UNAVAILABLE = (
    "Stanford Cars cannot be downloaded: its official archives (ai.stanford.edu/~jkrause/cars/) are gone and the "
    "project records no mirror or checksum for them. Supply a copy you trust: `python -m pand_core data download cars "
    "--root {root} --archive PATH` with PATH a .tgz/.tar/.zip or a folder holding stanford_cars/ (devkit/cars_meta.mat, "
    "devkit/cars_train_annos.mat, cars_test_annos_withlabels.mat, cars_train/, cars_test/), or put that folder at "
    "{root}/stanford_cars yourself."
)


def marker_path(name: str, root: str | Path) -> Path:
    """The completion marker of data set `name` under `root` (written last, after every file is in place)."""
    return Path(root).expanduser() / f"{MARKER_PREFIX}{name}.json"


def is_downloaded(name: str, root: str | Path) -> bool:
    """Whether a download of `name` into `root` finished (its marker exists).

    Args:
        name: A data set name, e.g. "cub".
        root: The data root it was downloaded into.
    """
    return marker_path(name, root).exists()


def archive_url(archive: Archive) -> str:
    """The URL to fetch `archive` from: `$PAND_DOWNLOAD_MIRROR/<file name>` when that is set, else the official one."""
    mirror = os.environ.get(MIRROR_ENV, "").strip()
    return f"{mirror.rstrip('/')}/{archive.filename}" if mirror else archive.url


def _timeout_s() -> float:
    text = os.environ.get(TIMEOUT_ENV, "").strip()
    try:
        return float(text) if text else DEFAULT_TIMEOUT_S
    except ValueError as e:
        raise ConfigError(f"{TIMEOUT_ENV}={text!r} is not a number of seconds.") from e


@contextlib.contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    """torchvision opens its connections without a timeout; set the process default for the transfer and restore it."""
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(old)


def _content_length(url: str) -> int | None:
    """The size the server announces for `url` (a HEAD request), or None when it does not say or refuses HEAD."""
    req = urllib.request.Request(url, method="HEAD", headers={"User-Agent": "pytorch/vision"})
    try:
        with urllib.request.urlopen(req) as resp:
            length = resp.headers.get("Content-Length")
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError):
        return None
    return int(length) if length and length.isdigit() else None


def file_digest(path: Path, algorithm: str) -> str:
    """Hex digest of a file, read in 1 MiB chunks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def fetch_archive(archive: Archive, folder: Path, log: bool = True) -> Path:
    """Download `archive` into `folder` and return its path, verified: a complete file whose MD5 is the recorded one.

    A file already there with the right MD5 is reused. Any failure deletes the partial file and raises `DownloadError`
    (`ChecksumMismatchError` for a wrong checksum) naming the URL; a rerun starts the transfer afresh.

    Args:
        archive: The archive's entry in `REGISTRY` (file name, URL, MD5).
        folder: Where the file is written; created if missing.
        log: Print one status line to stderr before the transfer.
    """
    from torchvision.datasets.utils import calculate_md5, download_url

    folder.mkdir(parents=True, exist_ok=True)
    final, part = folder / archive.filename, folder / f"{archive.filename}.part"
    if archive.md5 is not None and final.is_file() and calculate_md5(final) == archive.md5:
        return final
    url = archive_url(archive)
    part.unlink(missing_ok=True)
    final.unlink(missing_ok=True)
    if log:
        print(f"downloading {archive.filename} (about {archive.approx_size} from the official host) from {url}",
              file=sys.stderr, flush=True)
    timeout = _timeout_s()
    with _socket_timeout(timeout):
        expected = _content_length(url)
        try:
            download_url(url, str(folder), part.name, md5=None)
        except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
            part.unlink(missing_ok=True)
            why = f"no data for {timeout:g} s (the server stopped sending)" if isinstance(e, (socket.timeout, TimeoutError)) else str(e)
            raise DownloadError(
                f"download of {url} failed: {why}. The partial file was deleted; run the command again "
                f"(or set {MIRROR_ENV} to a mirror)."
            ) from e
    size = part.stat().st_size if part.exists() else 0
    if expected is not None and size != expected:
        part.unlink(missing_ok=True)
        raise DownloadError(
            f"download of {url} is incomplete: the server announced {expected} bytes but the transfer ended after "
            f"{size}. The partial file was deleted; run the command again."
        )
    if archive.md5 is None:
        sha = file_digest(part, "sha256")
        print(f"warning: the project records no checksum for {archive.filename}; it was not verified. Its sha256 is "
              f"{sha}: compare it with a trusted source.", file=sys.stderr, flush=True)
    else:
        actual = calculate_md5(part)
        if actual != archive.md5:
            part.unlink(missing_ok=True)
            raise ChecksumMismatchError(
                f"checksum mismatch for {url}: expected md5 {archive.md5}, got md5 {actual} "
                f"({size} bytes). The file was deleted; run the command again, or check the mirror."
            )
    os.replace(part, final)
    return final


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _extract_into(archives: list[Path], root: Path, target: Path, produces: tuple[str, ...], title: str) -> None:
    """Extract `archives` into a temporary folder under `root`, check `produces`, then move the entries into `target`
    (replacing what is there); nothing is moved unless every archive extracted whole."""
    from torchvision.datasets.utils import extract_archive

    target.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".pand-extract-", dir=root))
    try:
        for path in archives:
            try:
                extract_archive(str(path), str(tmp))
            except (tarfile.TarError, zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
                path.unlink(missing_ok=True)
                raise DownloadError(
                    f"cannot extract {path.name}: {e}. The archive was deleted; run the command again."
                ) from e
        missing = [p for p in produces if not (tmp / p).exists()]
        if missing:
            raise DownloadError(
                f"the {title} archives ({', '.join(p.name for p in archives)}) do not hold {missing}: they are not "
                "the official archives. Nothing was installed."
            )
        for entry in sorted(tmp.iterdir()):
            dest = target / entry.name
            _remove(dest)
            os.replace(entry, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _write_marker(name: str, root: Path, info: dict) -> None:
    finished = {"dataset": name, "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **info}
    atomic_write(marker_path(name, root), lambda tmp: tmp.write_text(json.dumps(finished, indent=1) + "\n"))


def _install_cars(root: Path, archive: str | Path | None) -> None:
    """Stanford Cars from a user-supplied archive or folder into `root/stanford_cars`, or the error that says how."""
    base = root / "stanford_cars"
    if all((base / p).exists() for p in CARS_LAYOUT):
        _write_marker("cars", root, {"source": "existing folder"})
        return
    if archive is None:
        raise DownloadError(CARS_UNAVAILABLE.format(root=root))
    src = Path(archive).expanduser()
    if not src.exists():
        raise DownloadError(f"--archive {src} does not exist. " + CARS_UNAVAILABLE.format(root=root))
    tmp = Path(tempfile.mkdtemp(prefix=".pand-extract-cars-", dir=root))
    try:
        if src.is_dir():
            shutil.copytree(src, tmp / src.name)
        else:
            from torchvision.datasets.utils import extract_archive

            try:
                extract_archive(str(src), str(tmp))
            except Exception as e:
                raise DownloadError(f"cannot extract {src}: {e}. Supply a .tgz, .tar, .tar.gz or .zip archive.") from e
        found = [d for d in [tmp, *tmp.glob("*"), *tmp.glob("*/*")] if d.is_dir() and all((d / p).exists() for p in CARS_LAYOUT)]
        if not found:
            raise DownloadError(f"{src} does not hold the Stanford Cars layout ({', '.join(CARS_LAYOUT)}). "
                                + CARS_UNAVAILABLE.format(root=root))
        _remove(base)
        os.replace(found[0], base)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _write_marker("cars", root, {"source": str(src)})


def download(name: str, root: str | Path, progress: bool | None = None, archive: str | Path | None = None,
             keep_archives: bool = False) -> Path:
    """Fetch, verify and extract data set `name` into `root` (the folder `load_dataset(name, root, …)` reads); return
    `root`. Returns at once when its completion marker is there. Raises `DownloadError` / `ChecksumMismatchError` with
    one message.

    Args:
        name: "cub", "aircraft", "pets", "dogs" or "cars".
        root: The data root; created if missing.
        progress: False: no status lines; otherwise one line per archive and step (torchvision draws the byte bar).
        archive: A local archive or folder to install from (Stanford Cars only, whose official links are dead).
        keep_archives: Keep the downloaded archives (under `root/.pand-downloads`) after extraction.
    """
    if name not in DATASET_NAMES:
        raise ConfigError(f"unknown data set {name!r}; expected one of {sorted(DATASET_NAMES)}.")
    root = Path(root).expanduser()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DownloadError(f"cannot create the data root {root}: {e}.") from e
    if is_downloaded(name, root):
        return root
    if name == "cars":
        _install_cars(root, archive)
        return root
    if archive is not None:
        raise ConfigError(f"--archive is for Stanford Cars only; {name} is fetched from its official archives "
                          f"(or from ${MIRROR_ENV}).")
    spec = REGISTRY[name]
    log = progress is not False
    folder = root / DOWNLOADS_DIR
    try:
        paths = [fetch_archive(a, folder, log=log) for a in spec.archives]
    except DownloadError:
        with contextlib.suppress(OSError):
            folder.rmdir()  # only when empty: an archive verified earlier is kept for the rerun
        raise
    target = root / spec.subdir if spec.subdir else root
    if log:
        print(f"extracting {spec.title} into {target}", file=sys.stderr, flush=True)
    _extract_into(paths, root, target, spec.produces, spec.title)
    _write_marker(name, root, {"archives": {a.filename: {"url": archive_url(a), "md5": a.md5} for a in spec.archives}})
    if not keep_archives:
        for p in paths:
            p.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            folder.rmdir()
    return root
