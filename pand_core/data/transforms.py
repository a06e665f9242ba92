"""The paper's image transforms (the method page, Stage 2); student and teacher see the same augmented view."""

from __future__ import annotations

import torch
from PIL import Image
from torchvision import transforms as T
from torchvision.transforms import functional as TF

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


class RandomSquareResizedCrop(torch.nn.Module):
    """Crop a random square of side U{min_side..max_side} at a random position, resize it to `size` (torch RNG)."""

    def __init__(self, size: int, min_side: int, max_side: int) -> None:
        super().__init__()
        if not 0 < min_side <= max_side:
            raise ValueError(f"need 0 < min_side <= max_side, got {min_side}, {max_side}")
        self.size, self.min_side, self.max_side = size, min_side, max_side

    def forward(self, img: Image.Image | torch.Tensor):
        w, h = TF.get_image_size(img)
        side = min(int(torch.randint(self.min_side, self.max_side + 1, ())), w, h)
        top = int(torch.randint(0, h - side + 1, ()))
        left = int(torch.randint(0, w - side + 1, ()))
        return TF.resized_crop(img, top, left, side, side, [self.size, self.size], antialias=True)

    def extra_repr(self) -> str:
        return f"size={self.size}, side=U{{{self.min_side}..{self.max_side}}}"


def paper_blur_kernel(size: int = 224) -> int:
    """The paper's Gaussian-blur kernel (5 px on 224 px images) scaled to `size`: the odd width nearest to
    5·size/224, at least 1. 5 at 224 px (the paper); 1 — no blur — at the miniature's 32 px, where 5·32/224 is
    0.7 of a pixel."""
    return max(1, 2 * round((5 * size / 224 - 1) / 2) + 1)


def paper_train_transform(size: int = 224, resize: int = 256) -> T.Compose:
    """Resize((256,256)) → RandomCrop(224) → square crop U{192..224} → 224 → Rotation(60) → Blur(5, σ∈[1e-5,10])
    → ColorJitter(0.3,0.1,0.1,0.1) → HFlip → ToTensor → CLIP Normalize. Other sizes scale the crop range and the
    blur kernel (`paper_blur_kernel`), both given in pixels of a 224 px image.

    Args:
        size: The output side in pixels (224 in the paper).
        resize: The side of the first, square resize (256 in the paper).
    """
    min_side = max(1, round(size * 192 / 224))
    kernel = paper_blur_kernel(size)
    blur = [T.GaussianBlur(kernel, sigma=(1e-5, 10.0))] if kernel > 1 else []
    return T.Compose(
        [
            T.Resize((resize, resize)),
            T.RandomCrop(size),
            RandomSquareResizedCrop(size, min_side, size),
            T.RandomRotation(60, interpolation=T.InterpolationMode.BILINEAR),
            *blur,
            T.ColorJitter(0.3, 0.1, 0.1, 0.1),
            T.RandomHorizontalFlip(),
            T.ToTensor(),
            T.Normalize(CLIP_MEAN, CLIP_STD),
        ]
    )


def paper_test_transform(size: int = 224) -> T.Compose:
    """Resize((224,224)) → ToTensor → CLIP Normalize (no crop, as in the paper's evaluation).

    Args:
        size: The output side in pixels (224 in the paper).
    """
    return T.Compose([T.Resize((size, size)), T.ToTensor(), T.Normalize(CLIP_MEAN, CLIP_STD)])
