"""Images per second of the two training data paths, at the paper's sizes (256 → 224), in one process:

- `cpu`: PIL decode + `paper_train_transform` in DataLoader workers (the original's path);
- `device`: uint8 images decoded once (`decode_split`), then `PaperAugment` on whole batches on --device.

    python benchmarks/data_path.py --workers 2 --device cpu      # a 2-core machine: can the CPU feed a GPU?
    python benchmarks/data_path.py --device cuda                 # the device path on a GPU

Uses a synthetic CUB-layout set drawn at --image-size px (CUB's photos are about 500×375). Writes JSON to
benchmarks/results/.
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
from pand_core.data.synthetic import SyntheticSpec, make_synthetic_cub
from pand_core.environment import environment
from pand_core.files import write_json


class _Images(torch.utils.data.Dataset):
    def __init__(self, ds, tf):
        self.ds, self.tf = ds, tf

    def __len__(self):
        return len(self.ds)

    def __getitem__(self, i):
        return self.tf(self.ds[i][0])


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
    with tempfile.TemporaryDirectory() as tmp:
        spec = SyntheticSpec(n_classes=8, train_per_class=args.images // 8, test_per_class=1, image_size=args.image_size)
        make_synthetic_cub(tmp, spec, progress=False)
        ds = load_dataset("cub", tmp, "train")
        loader = DataLoader(_Images(ds, paper_train_transform()), batch_size=args.batch, num_workers=args.workers,
                            persistent_workers=args.workers > 0)
        for _ in loader:  # warm-up epoch (workers start, files enter the page cache)
            break
        t0 = time.perf_counter()
        n = sum(len(x) for x in loader)
        cpu_ips = n / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        decoded = decode_split(ds, 256, progress=False)
        decode_s = time.perf_counter() - t0
        aug = PaperAugment(224, 256)
        times = []
        for k in range(max(3, len(ds) // args.batch)):
            idx = torch.randint(0, len(ds), (args.batch,))
            t0 = time.perf_counter()
            x = aug(decoded[idx].to(device), aug.sample(args.batch, batch_generator(0, k)))
            if device.type == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
        device_ips = args.batch / statistics.median(times[1:])
    print(f"cpu path ({args.workers} workers): {cpu_ips:8.1f} images/s")
    print(f"device path on {device.type}:     {device_ips:8.1f} images/s  (one-off decode: {len(ds) / decode_s:.0f} images/s)")
    result = {"benchmark": "data_path", "images": len(ds), "source_px": args.image_size, "batch": args.batch,
              "workers": args.workers, "device": str(device), "cpu_path_images_per_s": cpu_ips,
              "device_path_images_per_s": device_ips, "decode_images_per_s": len(ds) / decode_s,
              "environment": environment()}
    out = Path(args.out) if args.out else Path(__file__).parent / "results" / f"data_path-{device.type}.json"
    write_json(out, result)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
