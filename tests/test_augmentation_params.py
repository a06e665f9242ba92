"""The paper's CPU training transform (`data.transforms.paper_train_transform`) step by step, with the parameters the
original code's training transform sets (its `KDDataset.get_transform`): Resize((256, 256)) → RandomCrop(224) → a
random square of side 192..224 resized to 224 → RandomRotation(60, bilinear) → GaussianBlur(5, σ ∈ [1e-5, 10]) →
ColorJitter(0.3, 0.1, 0.1, 0.1) → RandomHorizontalFlip → ToTensor → CLIP Normalize; the test transform Resize((224,
224)) alone. At the miniature's 32 px the blur kernel scales to 1 px, so no blur step is built."""

from __future__ import annotations

import pytest
from torchvision import transforms as T

from pand_core.data.transforms import (CLIP_MEAN, CLIP_STD, RandomSquareResizedCrop, paper_blur_kernel,
                                       paper_test_transform, paper_train_transform)

STEPS = [T.Resize, T.RandomCrop, RandomSquareResizedCrop, T.RandomRotation, T.GaussianBlur, T.ColorJitter,
         T.RandomHorizontalFlip, T.ToTensor, T.Normalize]


def test_the_paper_train_transform_at_224_px_has_the_originals_parameters():
    steps = paper_train_transform(224).transforms
    assert [type(s) for s in steps] == STEPS
    resize, crop, square, rotate, blur, jitter, flip, _, norm = steps
    assert tuple(resize.size) == (256, 256)
    assert tuple(crop.size) == (224, 224) and crop.padding is None
    assert (square.size, square.min_side, square.max_side) == (224, 192, 224)
    assert list(rotate.degrees) == [-60.0, 60.0]
    assert rotate.interpolation == T.InterpolationMode.BILINEAR
    assert rotate.expand is False and rotate.center is None
    assert tuple(blur.kernel_size) == (5, 5)
    assert tuple(blur.sigma) == (1e-5, 10.0)
    assert tuple(jitter.brightness) == pytest.approx((0.7, 1.3))
    assert tuple(jitter.contrast) == pytest.approx((0.9, 1.1))
    assert tuple(jitter.saturation) == pytest.approx((0.9, 1.1))
    assert tuple(jitter.hue) == pytest.approx((-0.1, 0.1))
    assert flip.p == 0.5
    assert tuple(norm.mean) == CLIP_MEAN and tuple(norm.std) == CLIP_STD


def test_the_blur_kernel_scales_with_the_image_and_vanishes_at_32_px():
    assert paper_blur_kernel(224) == 5 and paper_blur_kernel(32) == 1
    steps = paper_train_transform(32, 36).transforms
    assert [type(s) for s in steps] == [s for s in STEPS if s is not T.GaussianBlur]
    resize, crop, square, rotate, jitter = steps[:5]
    assert tuple(resize.size) == (36, 36) and tuple(crop.size) == (32, 32)
    assert (square.size, square.min_side, square.max_side) == (32, round(32 * 192 / 224), 32)
    assert list(rotate.degrees) == [-60.0, 60.0] and tuple(jitter.hue) == pytest.approx((-0.1, 0.1))


def test_the_paper_test_transform_only_resizes_and_normalises():
    steps = paper_test_transform(224).transforms
    assert [type(s) for s in steps] == [T.Resize, T.ToTensor, T.Normalize]
    assert tuple(steps[0].size) == (224, 224)
