"""Which torch device a run's `device` setting means (what a GPU can run is `book.accelerator`)."""

from __future__ import annotations

import torch

from .errors import ConfigError


def resolve_device(device: str) -> torch.device:
    """`auto`: CUDA when available, else the CPU; a named device as given, refused when it is CUDA and none exists."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} requested but CUDA is not available; use --device cpu.")
    return torch.device(device)
