"""What every run records about where it ran: versions, device, platform, time."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import sys
from pathlib import Path
from typing import Any

import torch

from .version import package_version


def cpu_model() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo's first "model name"; elsewhere `platform.processor()`), or ""."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def environment() -> dict[str, Any]:
    """Versions of the stack, the device and the machine, for a run's self-describing output."""
    import open_clip
    import torchvision

    cuda = torch.cuda.is_available()
    return {
        "pand_core": package_version(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "open_clip": open_clip.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model(),
        "torch_threads": torch.get_num_threads(),
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
        "cuda": torch.version.cuda if cuda else None,
        "time_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def write_benchmark(result: dict, name: str, out: str | None = None) -> Path:
    """Write a benchmark's `result` with this machine's `environment()` as JSON (atomically) to `out`, else to
    `paths.MEASURED_DIR/<name>.json`, the measurements the costs page and `describe_accelerator` read; print and
    return the path. The one tail of every `benchmarks/*.py` script."""
    from .files import write_json
    from .paths import MEASURED_DIR

    path = Path(out) if out else MEASURED_DIR / f"{name}.json"
    write_json(path, dict(result, environment=environment()))
    print(f"wrote {path}")
    return path
