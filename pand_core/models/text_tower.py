"""An open_clip text tower run by hand: the pieces the prompt learner feeds its own token embeddings through, and
the class texts' features computed only up to the longest end-of-text token (exact for causal towers)."""

from __future__ import annotations

import torch
from torch import nn

from ..infra.errors import ConfigError


class TextTower:
    """The parts of an open_clip text tower the learner runs by hand; held outside the module tree (frozen)."""

    def __init__(self, clip_model: nn.Module) -> None:
        m = getattr(clip_model, "model", clip_model)  # accept a pand_core Teacher or a raw open_clip model
        tower = getattr(m, "text", None)
        if tower is not None and not hasattr(tower, "token_embedding"):
            raise ConfigError(
                f"{type(tower).__name__} text towers (e.g. Hugging Face text models) are not supported by the "
                "prompt learner; use an open_clip model with its own text transformer."
            )
        src = tower if tower is not None else m
        if getattr(src, "cls_emb", None) is not None or getattr(src, "use_pad_mask", False):
            raise ConfigError("text towers with a class token or padding mask (CoCa-style) are not supported.")
        self.token_embedding = src.token_embedding
        self.positional_embedding = src.positional_embedding
        self.transformer = src.transformer
        self.ln_final = src.ln_final
        self.text_projection = src.text_projection
        self.attn_mask = src.attn_mask
        self.pool_type = getattr(src, "text_pool_type", getattr(src, "pool_type", "argmax"))
        self.eos_id = getattr(src, "text_eos_id", getattr(src, "eos_id", None))

    def freeze(self) -> None:
        """Stop gradients at the tower's own weights (token and positional embeddings, transformer, final norm,
        projection); only the learner's context is trained."""
        for part in (self.token_embedding, self.positional_embedding, self.transformer, self.ln_final,
                     self.text_projection):
            if isinstance(part, (nn.Module, nn.Parameter)):
                part.requires_grad_(False)

    def pool_index(self, tokens: torch.Tensor) -> torch.Tensor:
        """Position whose final hidden state is the sentence feature (the EOT token for CLIP)."""
        if self.pool_type == "argmax":
            return tokens.argmax(dim=-1)
        if self.pool_type == "eos":
            return (tokens == self.eos_id).int().argmax(dim=-1)
        if self.pool_type == "first":
            return torch.zeros(tokens.shape[0], dtype=torch.long)
        if self.pool_type == "last":
            return torch.full((tokens.shape[0],), tokens.shape[1] - 1, dtype=torch.long)
        raise ConfigError(f"text pool type {self.pool_type!r} is not supported by the prompt learner.")

    def __call__(self, x: torch.Tensor, pool_index: torch.Tensor) -> torch.Tensor:
        """Embedded prompts `[C, L, W]` → projected features `[C, D]` (unnormalised), read at `pool_index`."""
        length = x.shape[1]
        cast = self.transformer.get_cast_dtype() if hasattr(self.transformer, "get_cast_dtype") else x.dtype
        x = x.to(cast) + self.positional_embedding[:length].to(cast)
        mask = self.attn_mask[:length, :length] if self.attn_mask is not None else None
        if getattr(self.transformer, "batch_first", True):
            x = self.transformer(x, attn_mask=mask)
        else:  # older open_clip: sequence-first transformer
            x = self.transformer(x.permute(1, 0, 2), attn_mask=mask).permute(1, 0, 2)
        x = self.ln_final(x)
        x = x[torch.arange(x.shape[0], device=x.device), pool_index.to(x.device)]
        proj = self.text_projection
        if proj is not None:
            x = proj(x) if isinstance(proj, nn.Linear) else x @ proj
        return x


def encode_text_truncated(clip_model: nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    """`clip_model.encode_text(tokens)` (unnormalised) computed only up to the longest EOT position of the batch:
    exact for causal towers read at EOT, and much cheaper for short texts in a long context."""
    tower = TextTower(clip_model)
    pool = tower.pool_index(tokens)
    length = int(pool.max()) + 1 if tower.pool_type in ("argmax", "eos") else tokens.shape[1]
    return tower(tower.token_embedding(tokens[:, :length]), pool)
