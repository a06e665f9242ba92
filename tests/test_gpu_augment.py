"""The batched augmentation against the CPU transforms: exact where parameters can be fixed, statistical elsewhere."""

from __future__ import annotations

import math

import pytest
import torch
from torchvision.transforms import InterpolationMode
from torchvision.transforms import functional as TF

from pand_core.data import load_dataset, paper_train_transform
from pand_core.data.gpu_augment import (
    PaperAugment,
    adjust_brightness,
    adjust_contrast,
    adjust_hue,
    adjust_saturation,
    batch_generator,
    crop_resize,
    decode_split,
    gaussian_blur,
    rotate,
)


def _img(seed=0, n=2, size=64):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, size, size, generator=g)


def test_crop_resize_equals_torchvision_resized_crop():
    x = _img(size=40)
    top, left, side = torch.tensor([3, 5]), torch.tensor([5, 0]), torch.tensor([30, 34])
    out = crop_resize(x, top, left, side, 36)
    for i in range(2):
        ref = TF.resized_crop(x[i], int(top[i]), int(left[i]), int(side[i]), int(side[i]), [36, 36],
                              interpolation=InterpolationMode.BILINEAR, antialias=False)
        assert torch.allclose(out[i], ref, atol=1e-5)


def test_rotation_and_blur_match_torchvision():
    x = _img(size=32)
    angles = torch.tensor([30.0, -45.0])
    out = rotate(x, angles)
    for i in range(2):
        ref = TF.rotate(x[i], float(angles[i]), interpolation=InterpolationMode.BILINEAR)
        assert (out[i] - ref).abs().mean() < 2e-3  # same geometry; sampling differs only at a few border pixels
    sig = torch.tensor([0.7, 4.0])
    blurred = gaussian_blur(x, sig)
    for i in range(2):
        ref = TF.gaussian_blur(x[i], [5, 5], [float(sig[i])] * 2)
        assert torch.allclose(blurred[i], ref, atol=1e-5)


def test_colour_operations_match_torchvision():
    x = _img(size=16)
    f = torch.tensor([0.8, 1.2])
    for ours, theirs in ((adjust_brightness, TF.adjust_brightness), (adjust_contrast, TF.adjust_contrast),
                         (adjust_saturation, TF.adjust_saturation)):
        out = ours(x, f)
        for i in range(2):
            assert torch.allclose(out[i], theirs(x[i], float(f[i])), atol=1e-5)
    h = torch.tensor([0.07, -0.1])
    out = adjust_hue(x, h)
    for i in range(2):
        assert torch.allclose(out[i], TF.adjust_hue(x[i], float(h[i])), atol=1e-4)


def test_flip_is_exact_and_params_cover_the_paper_ranges():
    aug = PaperAugment(32, 36)
    p = aug.sample(4000, torch.Generator().manual_seed(0))
    assert p["side"].min() == aug.min_side and p["side"].max() == 32
    assert (p["top"] >= 0).all() and (p["top"] + p["side"] <= 36).all() and (p["left"] + p["side"] <= 36).all()
    assert -60 <= p["angle"].min() < -59 and 59 < p["angle"].max() <= 60
    assert 1e-5 <= p["sigma"].min() and p["sigma"].max() <= 10
    assert 0.7 <= p["brightness"].min() and p["brightness"].max() <= 1.3 and p["hue"].abs().max() <= 0.1
    assert 0.45 < p["flip"].float().mean() < 0.55
    assert all(sorted(r.tolist()) == [0, 1, 2, 3] for r in p["order"][:50])
    # flip alone: fix every other parameter to the identity and compare with an explicit flip
    x = torch.randint(0, 256, (1, 3, 36, 36), dtype=torch.uint8).repeat(2, 1, 1, 1)  # one image, twice
    ident = {"top": torch.tensor([2, 2]), "left": torch.tensor([2, 2]), "side": torch.tensor([32, 32]),
             "angle": torch.zeros(2), "sigma": torch.full((2,), 1e-5), "brightness": torch.ones(2),
             "contrast": torch.ones(2), "saturation": torch.ones(2), "hue": torch.zeros(2),
             "order": torch.arange(4).repeat(2, 1), "flip": torch.tensor([False, True])}
    out = aug(x, ident)
    assert torch.equal(out[1], out[0].flip(-1))
    plain = (x[:, :, 2:34, 2:34].float() / 255 - aug.mean) / aug.std
    assert torch.allclose(out[0], plain[0], atol=1e-5)  # identity parameters give the plain centre crop


def test_batches_are_reproducible_from_their_seed():
    aug = PaperAugment(32, 36)
    x = torch.randint(0, 256, (3, 3, 36, 36), dtype=torch.uint8)
    a = aug(x, aug.sample(3, batch_generator("device-augment", 0, 1, 2)))
    b = aug(x, aug.sample(3, batch_generator("device-augment", 0, 1, 2)))
    c = aug(x, aug.sample(3, batch_generator("device-augment", 0, 1, 3)))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_gpu_path_has_the_cpu_path_statistics(synthetic_root, tmp_path):
    """Same images through both paths, many draws: equal shapes and close per-channel mean and std."""
    ds = load_dataset("cub", synthetic_root, "train")
    decoded = decode_split(ds, resize=36, cache_dir=tmp_path, progress=False)
    assert decoded.shape == (len(ds), 3, 36, 36) and decoded.dtype == torch.uint8
    assert torch.equal(decode_split(ds, resize=36, cache_dir=tmp_path, progress=False), decoded)  # cached
    cpu_tf = paper_train_transform(32, 36)
    torch.manual_seed(0)
    reps = 6
    cpu = torch.stack([cpu_tf(ds[i][0]) for _ in range(reps) for i in range(len(ds))])
    aug = PaperAugment(32, 36)
    batch = decoded.repeat(reps, 1, 1, 1)
    gpu = aug(batch, aug.sample(len(batch), torch.Generator().manual_seed(1)))
    assert gpu.shape == cpu.shape
    for stat in (lambda t: t.mean(dim=(0, 2, 3)), lambda t: t.std(dim=(0, 2, 3))):
        assert torch.allclose(stat(gpu), stat(cpu), atol=0.06), (stat(gpu), stat(cpu))
    # the share of zero-filled corners from rotation matches too
    black = (torch.tensor([0.0, 0.0, 0.0]).view(1, 3, 1, 1) - aug.mean) / aug.std
    frac = lambda t: ((t - black).abs().sum(1) < 1e-3).float().mean().item()  # noqa: E731
    assert abs(frac(gpu) - frac(cpu)) < 0.03
