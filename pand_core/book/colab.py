"""The first cell of every notebook: on Colab, install the project from a wheel on Google Drive (the repository is
not public yet) or, when there is none, from the repository's address; anywhere else, nothing."""

from __future__ import annotations

WHEEL_FOLDER = "/content/drive/MyDrive/pand"  # where the one-GPU recipe asks for the wheel built from a clone


def install_cell(repository_url: str) -> str:
    """The install cell's source for the repository at `repository_url` (`_config.yml`'s one home of it)."""
    return f'''# On Colab only: install the project (Colab's own torch is kept). Until the repository
# is public, put a wheel built from a clone into Google Drive's MyDrive/pand/ (page
# "Run it on one GPU or Colab"); the newest one there is installed.
import glob
import sys

if "google.colab" in sys.modules:
    from google.colab import drive

    drive.mount("/content/drive")
    WHEELS = sorted(glob.glob("{WHEEL_FOLDER}/pand_core-*.whl"))
    SOURCE = "git+{repository_url}"
    if WHEELS:
        SOURCE = f"file://{{WHEELS[-1]}}"
    !pip install -q "pand_core[notebooks] @ {{SOURCE}}"'''
