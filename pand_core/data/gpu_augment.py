"""The paper's training augmentation on a whole batch at once, per-sample parameters, on any device.

A 2-core Colab VM cannot feed a GPU with PIL rotation, blur and colour jitter. Here every image is decoded once
into a uint8 tensor at the paper's 256×256 resize (`decode_split`), and `PaperAugment` applies RandomCrop(224) →
square crop U{192..224} resized to 224 → rotation U(−60°, 60°) → Gaussian blur (5, σ ∼ U[1e-5, 10]) →
colour jitter (0.3, 0.1, 0.1, 0.1; random order per sample) → horizontal flip → CLIP normalisation, with the
same parameter distributions as `paper_train_transform` (the method page, Stage 2). Parameters come from a `torch.Generator`,
so a batch is reproducible from its seed.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image

from ..infra.files import atomic_torch_save, build_once, safe_load
from ..infra.progress import Progress
from .base import FGVCDataset, load_image
from .transforms import CLIP_MEAN, CLIP_STD, paper_blur_kernel


def decode_split(dataset: FGVCDataset, resize: int = 256, cache_dir: str | Path | None = None,
                 progress: bool | None = None) -> torch.Tensor:
    """Every image of `dataset` decoded once and resized to (resize, resize) like `T.Resize` on PIL: uint8 `[N, 3, R, R]`.

    Cached under `cache_dir/decoded/` when given (CUB-200 train at 256 px: about 1.2 GB)."""
    ident = {"dataset": dataset.name, "split": dataset.split, "root": str(Path(dataset.root).resolve()),
             "n": len(dataset), "resize": resize, "files": hashlib.sha256("".join(p for p, _ in dataset.samples).encode()).hexdigest()}
    path: Path | None = None  # the cache file, when there is a cache folder

    def decode() -> torch.Tensor:
        out = torch.empty(len(dataset), 3, resize, resize, dtype=torch.uint8)
        for i, (p, _) in enumerate(Progress(dataset.samples, "decoding images", progress=progress, leave=False)):
            image = load_image(p).resize((resize, resize), Image.BILINEAR)
            out[i] = torch.from_numpy(__import__("numpy").asarray(image).copy()).permute(2, 0, 1)
        if path is not None:
            atomic_torch_save({"images": out, "meta": ident}, path)
        return out

    if cache_dir is None:
        return decode()
    key = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]
    path = Path(cache_dir) / "decoded" / f"{dataset.name}-{dataset.split}-{resize}px-{key}.pt"

    def cached() -> torch.Tensor | None:
        if not path.exists():
            return None
        blob = safe_load(path, "decoded-image cache")
        return blob["images"] if blob["meta"] == ident else None

    return build_once(path, cached, decode)  # jobs running at once: one decodes, the others wait and read


# ------------------------------------------------------------------------------------ colour operations
def _gray(x: torch.Tensor) -> torch.Tensor:
    """ITU-R 601 luma, as torchvision's rgb_to_grayscale: `[B, 1, H, W]`."""
    return (0.2989 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).unsqueeze(1)


def _blend(x: torch.Tensor, other: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    f = f.view(-1, 1, 1, 1)
    return (f * x + (1 - f) * other).clamp(0, 1)


def adjust_brightness(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """Per-sample `F.adjust_brightness`: blend with black."""
    return _blend(x, torch.zeros_like(x), f)


def adjust_contrast(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """Per-sample `F.adjust_contrast`: blend with the image's mean grey level."""
    return _blend(x, _gray(x).mean(dim=(-3, -2, -1), keepdim=True), f)


def adjust_saturation(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """Per-sample `F.adjust_saturation`: blend with the grey image."""
    return _blend(x, _gray(x), f)


def adjust_hue(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """Per-sample `F.adjust_hue` (f in [−0.5, 0.5] of the colour circle), via HSV like torchvision."""
    r, g, b = x.unbind(1)
    maxc, _ = x.max(1)
    minc, _ = x.min(1)
    eqc = maxc == minc
    cr = maxc - minc
    ones = torch.ones_like(maxc)
    s = cr / torch.where(eqc, ones, maxc)
    cr_div = torch.where(eqc, ones, cr)
    rc, gc, bc = (maxc - r) / cr_div, (maxc - g) / cr_div, (maxc - b) / cr_div
    hr = (maxc == r) * (bc - gc)
    hg = ((maxc == g) & (maxc != r)) * (2.0 + rc - bc)
    hb = ((maxc != g) & (maxc != r)) * (4.0 + gc - rc)
    h = torch.fmod((hr + hg + hb) / 6.0 + 1.0, 1.0)
    h = torch.remainder(h + f.view(-1, 1, 1), 1.0)
    v = maxc
    i = torch.floor(h * 6.0)
    fr = h * 6.0 - i
    i = i.to(torch.int32) % 6
    p = (v * (1.0 - s)).clamp(0, 1)
    q = (v * (1.0 - s * fr)).clamp(0, 1)
    t = (v * (1.0 - s * (1.0 - fr))).clamp(0, 1)
    mask = i.unsqueeze(1) == torch.arange(6, device=x.device).view(1, -1, 1, 1)
    a1 = torch.stack((v, q, p, p, t, v), dim=1)
    a2 = torch.stack((t, v, v, q, p, p), dim=1)
    a3 = torch.stack((p, p, t, v, v, q), dim=1)
    return torch.stack([(mask * a).sum(1) for a in (a1, a2, a3)], dim=1)


COLOUR_OPS = (adjust_brightness, adjust_contrast, adjust_saturation, adjust_hue)


# ------------------------------------------------------------------------------------ geometry
def crop_resize(x: torch.Tensor, top: torch.Tensor, left: torch.Tensor, side: torch.Tensor, size: int) -> torch.Tensor:
    """Per-sample square crop (top, left, side) resized to size×size with bilinear sampling at pixel centres —
    what `F.resized_crop(..., antialias=False)` computes for each image (crops here are upsampled)."""
    b = x.shape[0]
    h, w = x.shape[-2:]
    pos = (torch.arange(size, device=x.device, dtype=x.dtype) + 0.5) / size  # output pixel centres in [0, 1]
    lo_x, lo_y, span = left.view(b, 1).to(x.dtype), top.view(b, 1).to(x.dtype), side.view(b, 1).to(x.dtype)
    # source pixel coordinates, clamped to the crop as interpolating the cropped image would
    src_x = torch.minimum(torch.maximum(lo_x + pos.view(1, -1) * span - 0.5, lo_x), lo_x + span - 1)
    src_y = torch.minimum(torch.maximum(lo_y + pos.view(1, -1) * span - 0.5, lo_y), lo_y + span - 1)
    gx = (2 * src_x + 1) / w - 1  # to grid_sample's [-1, 1] with align_corners=False
    gy = (2 * src_y + 1) / h - 1
    grid = torch.stack((gx.view(b, 1, size).expand(b, size, size), gy.view(b, size, 1).expand(b, size, size)), dim=-1)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def rotate(x: torch.Tensor, degrees: torch.Tensor) -> torch.Tensor:
    """Per-sample rotation about the image centre, counter-clockwise for positive angles, bilinear, zero fill
    (torchvision's RandomRotation convention)."""
    b, _, h, w = x.shape
    a = torch.deg2rad(degrees.to(x.dtype))
    cos, sin = torch.cos(a), torch.sin(a)
    # output pixel -> source pixel: rotate the output coordinates by the angle (normalised, aspect-corrected)
    theta = torch.zeros(b, 2, 3, device=x.device, dtype=x.dtype)
    theta[:, 0, 0], theta[:, 0, 1] = cos, -sin * h / w
    theta[:, 1, 0], theta[:, 1, 1] = sin * w / h, cos
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def gaussian_blur(x: torch.Tensor, sigma: torch.Tensor, kernel: int = 5) -> torch.Tensor:
    """Per-sample Gaussian blur, `kernel`×`kernel`, reflect padding (torchvision's GaussianBlur)."""
    half = (kernel - 1) * 0.5
    t = torch.linspace(-half, half, kernel, device=x.device, dtype=x.dtype)
    k1 = torch.exp(-0.5 * (t.view(1, -1) / sigma.view(-1, 1).to(x.dtype)) ** 2)
    k1 = k1 / k1.sum(-1, keepdim=True)  # [B, k]
    b, c, h, w = x.shape
    pad = kernel // 2
    y = F.pad(x, (pad, pad, pad, pad), mode="reflect").reshape(1, b * c, h + 2 * pad, w + 2 * pad)
    kx = k1.repeat_interleave(c, 0).view(b * c, 1, 1, kernel)
    ky = k1.repeat_interleave(c, 0).view(b * c, 1, kernel, 1)
    y = F.conv2d(F.conv2d(y, kx, groups=b * c), ky, groups=b * c)
    return y.view(b, c, h, w)


# ------------------------------------------------------------------------------------ the pipeline
class PaperAugment:
    """`paper_train_transform` for uint8 batches `[B, 3, R, R]` already resized to R = `resize`; returns normalised
    float `[B, 3, size, size]` on the batch's device."""

    def __init__(self, size: int = 224, resize: int = 256) -> None:
        self.size, self.resize = size, resize
        self.min_side = max(1, round(size * 192 / 224))
        self.kernel = paper_blur_kernel(size)
        self.mean = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)
        self.std = torch.tensor(CLIP_STD).view(1, 3, 1, 1)

    def sample(self, n: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """Per-sample parameters with the CPU transforms' distributions (drawn on the CPU generator)."""
        g, s = generator, self.size

        def uniform(lo: float, hi: float, *shape: int) -> torch.Tensor:
            return lo + (hi - lo) * torch.rand(*(shape or (n,)), generator=g)

        crop_top = torch.randint(0, self.resize - s + 1, (n,), generator=g)
        crop_left = torch.randint(0, self.resize - s + 1, (n,), generator=g)
        side = torch.randint(self.min_side, s + 1, (n,), generator=g)
        off_top = (torch.rand(n, generator=g) * (s - side + 1)).floor().long()
        off_left = (torch.rand(n, generator=g) * (s - side + 1)).floor().long()
        return {
            "top": crop_top + off_top, "left": crop_left + off_left, "side": side,
            "angle": uniform(-60.0, 60.0), "sigma": uniform(1e-5, 10.0),
            "brightness": uniform(0.7, 1.3), "contrast": uniform(0.9, 1.1), "saturation": uniform(0.9, 1.1),
            "hue": uniform(-0.1, 0.1), "order": torch.argsort(torch.rand(n, 4, generator=g), dim=1),
            "flip": torch.rand(n, generator=g) < 0.5,
        }

    def __call__(self, images: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        dev = images.device
        p = {k: v.to(dev) for k, v in params.items()}
        x = images.float() / 255.0
        x = crop_resize(x, p["top"], p["left"], p["side"], self.size)
        x = rotate(x, p["angle"])
        if self.kernel > 1:
            x = gaussian_blur(x, p["sigma"], self.kernel).clamp(0, 1)
        factors = (p["brightness"], p["contrast"], p["saturation"], p["hue"])
        for slot in range(4):  # torchvision applies the four colour ops in a random order per image
            for op in range(4):
                m = p["order"][:, slot] == op
                if m.any():
                    x[m] = COLOUR_OPS[op](x[m], factors[op][m])
        x = torch.where(p["flip"].view(-1, 1, 1, 1), x.flip(-1), x)
        return (x - self.mean.to(dev)) / self.std.to(dev)


def batch_generator(stream: str, seed: int, *keys: int) -> torch.Generator:
    """A CPU generator for draw `keys` of the named random `stream` (`seeds.STREAMS`), for reproducible batches."""
    from ..infra.seeds import stream_seed

    return torch.Generator().manual_seed(stream_seed(stream, seed, *keys))
