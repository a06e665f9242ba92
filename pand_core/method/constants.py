"""The method's fixed numbers (the method page, Stage 2), written once: the loss functions' defaults and `DistillConfig`'s."""

from __future__ import annotations

CLIP_SCALE = 1 / 0.07  # s: the CLIP logit scale of Z^t = s·f·Θᵀ, fixed
KD_TEMPERATURE = 2.0  # T of L_kd and of Hinton KD
NLRD_K = 3  # k: neighbours per sample in L_nlrd
NLRD_GROUP_SIZE = 32  # neighbours are searched within consecutive groups of this many samples (one GPU's batch)
