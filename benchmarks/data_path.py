"""Images per second of the two training data paths, at the paper's sizes (256 → 224), in one process:

- `cpu`: PIL decode + `paper_train_transform` in DataLoader workers (the original's path);
- `device`: uint8 images decoded once (`decode_split`), then `PaperAugment` on whole batches on --device.

    python benchmarks/data_path.py --workers 2 --device cpu      # a 2-core machine: can the CPU feed a GPU?
    python benchmarks/data_path.py --device cuda                 # the device path on a GPU

Uses a synthetic CUB-layout set drawn at --image-size px (CUB's photos are about 500×375). Writes JSON to
pand_core/measured/.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from pand_core.data import load_dataset, paper_train_transform
from pand_core.data.gpu_augment import PaperAugment, batch_generator, decode_split
from pand_core.miniature.world import SyntheticSpec, make_synthetic_cub
from pand_core.infra.environment import write_benchmark


class _Images(torch.utils.data.Dataset):
    def __init__(self, ds, tf):
        self.ds, self.tf = ds, tf

    def __len__(self):
        return len(self.ds)

    def __getitem__(self, i):
        return self.tf(self.ds[i][0])


def measure_data_path(device: torch.device, workers: int, batch: int = 128, image_size: int = 400, images: int = 512,
                      crop: int = 224, resize: int = 256, root: str | Path | None = None, log=print) -> dict:
    """Images/s of the CPU path (PIL + `paper_train_transform(crop, resize)` in `workers` DataLoader workers, after
    one warm-up batch) and of the device path (`decode_split` at `resize` once, then `PaperAugment(crop, resize)` on
    whole batches on `device`; median over batches after the first), on a synthetic CUB-layout set of `images`
    images drawn at `image_size` px, or on the training split of the CUB-layout folder `root` when given. Returns
    the benchmark's fields (without the environment)."""
    with tempfile.TemporaryDirectory() as tmp:
        if root is None:
            spec = SyntheticSpec(n_classes=8, train_per_class=max(1, images // 8), test_per_class=1, image_size=image_size)
            make_synthetic_cub(tmp, spec, progress=False)
        ds = load_dataset("cub", root if root is not None else tmp, "train")
        if root is not None:
            image_size = ds[0][0].size[0]
        loader = DataLoader(_Images(ds, paper_train_transform(crop, resize)), batch_size=batch, num_workers=workers,
                            persistent_workers=workers > 0)
        for _ in loader:  # warm-up epoch (workers start, files enter the page cache)
            break
        t0 = time.perf_counter()
        n = sum(len(x) for x in loader)
        cpu_ips = n / (time.perf_counter() - t0)
        del loader
        t0 = time.perf_counter()
        decoded = decode_split(ds, resize, progress=False)
        decode_s = time.perf_counter() - t0
        aug = PaperAugment(crop, resize)
        times = []
        for k in range(max(3, len(ds) // batch)):
            idx = torch.randint(0, len(ds), (batch,))
            t0 = time.perf_counter()
            x = aug(decoded[idx].to(device), aug.sample(batch, batch_generator("device-augment", 0, 0, 0, k)))
            if device.type == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
        device_ips = batch / statistics.median(times[1:])
    log(f"cpu path ({workers} workers): {cpu_ips:8.1f} images/s")
    log(f"device path on {device.type}:     {device_ips:8.1f} images/s  (one-off decode: {len(ds) / decode_s:.0f} images/s)")
    return {"benchmark": "data_path", "images": len(ds), "source_px": image_size, "batch": batch, "workers": workers,
            "device": str(device), "cpu_path_images_per_s": cpu_ips, "device_path_images_per_s": device_ips,
            "decode_images_per_s": len(ds) / decode_s}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--image-size", type=int, default=400)
    p.add_argument("--images", type=int, default=512)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    device = torch.device(args.device)
    write_benchmark(measure_data_path(device, args.workers, args.batch, args.image_size, args.images),
                    f"data_path-{device.type}", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
