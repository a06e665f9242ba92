"""PromptLearner: exact reproduction of encode_text, exact EOT truncation, only `.ctx` trains (method doc §3)."""

from __future__ import annotations

import pytest
import torch

from pand_core.infra.errors import ConfigError
from pand_core.stage1.prompts import PromptLearner

NAMES = ["Black footed Albatross", "Laysan Albatross", "Chuck will Widow", "Red headed Woodpecker", "Bobolink"]


def test_reproduces_encode_text_with_ctx_init(tiny_teacher):
    t = tiny_teacher
    pl = PromptLearner(t.model, t.tokenizer, NAMES, template="{}.", ctx_init="a photo of a")
    assert pl.n_ctx == 4 and pl.ctx.shape == (4, 64)
    expected = t.encode_text([f"a photo of a {n}." for n in NAMES])
    assert torch.allclose(pl(), expected, atol=1e-5)


def test_reproduces_encode_text_with_a_dataset_template(tiny_teacher):
    t = tiny_teacher
    pl = PromptLearner(t, t.tokenizer, NAMES, template="a photo of {}, a type of bird", ctx_init="itap of")
    expected = t.encode_text([f"itap of a photo of {n}, a type of bird" for n in NAMES])
    assert torch.allclose(pl(), expected, atol=1e-5)


def test_truncation_is_exact_and_shorter(tiny_teacher):
    t = tiny_teacher
    torch.manual_seed(0)
    full = PromptLearner(t, t.tokenizer, NAMES, template="a photo of {}, a type of bird", truncate=False)
    cut = PromptLearner(t, t.tokenizer, NAMES, template="a photo of {}, a type of bird", truncate=True)
    cut.ctx.data.copy_(full.ctx.data)
    assert full.seq_len == 77 and cut.seq_len == int(cut.pool_idx.max()) + 1 < 40
    assert torch.allclose(full(), cut(), atol=1e-5)


def test_random_context_init_and_only_ctx_trains(tiny_teacher):
    t = tiny_teacher
    torch.manual_seed(0)
    pl = PromptLearner(t, t.tokenizer, NAMES, template="{}", n_ctx=16)
    assert [n for n, p in pl.named_parameters() if p.requires_grad] == ["ctx"]
    assert list(pl.state_dict()) == ["ctx"]
    assert pl.ctx.shape == (16, 64)
    assert abs(pl.ctx.std().item() - 0.02) < 0.003 and abs(pl.ctx.mean().item()) < 0.003
    out = pl()
    assert out.shape == (len(NAMES), 64) and torch.allclose(out.norm(dim=-1), torch.ones(len(NAMES)), atol=1e-5)
    out[:, 0].sum().backward()
    assert pl.ctx.grad is not None and pl.ctx.grad.abs().sum() > 0
    assert all(p.grad is None for p in t.model.parameters())


def test_context_changes_the_features(tiny_teacher):
    t = tiny_teacher
    pl = PromptLearner(t, t.tokenizer, NAMES, template="{}", n_ctx=4)
    before = pl().detach()
    with torch.no_grad():
        pl.ctx.add_(torch.randn_like(pl.ctx))
    assert not torch.allclose(before, pl(), atol=1e-3)


def test_prompt_learner_errors(tiny_teacher):
    t = tiny_teacher
    with pytest.raises(ConfigError, match="template must contain"):
        PromptLearner(t, t.tokenizer, NAMES, template="a photo")
    with pytest.raises(ConfigError, match="exceed the text context"):
        PromptLearner(t, t.tokenizer, ["word " * 70], template="{}", n_ctx=16)
    with pytest.raises(ConfigError, match="n_ctx"):
        PromptLearner(t, t.tokenizer, NAMES, n_ctx=0)


@pytest.mark.slow
def test_exact_on_a_full_size_open_clip_text_tower():
    """The same equivalence on ViT-B-32's real 12-layer, 512-wide text tower (random weights, built offline)."""
    import open_clip

    torch.manual_seed(0)
    model = open_clip.create_model("ViT-B-32", pretrained=None).eval().requires_grad_(False)
    tok = open_clip.get_tokenizer("ViT-B-32")
    pl = PromptLearner(model, tok, NAMES[:3], template="{}.", ctx_init="a photo of a")
    with torch.no_grad():
        expected = model.encode_text(tok([f"a photo of a {n}." for n in NAMES[:3]]), normalize=True)
    assert pl.seq_len < 20
    assert torch.allclose(pl(), expected, atol=1e-5)


def test_truncated_text_encoding_equals_open_clip(tiny_teacher):
    from pand_core.models.text_tower import encode_text_truncated

    tokens = tiny_teacher.tokenizer(["a bird", "a photo of a red headed striped finch with a fork tail"])
    with torch.no_grad():
        full = tiny_teacher.model.encode_text(tokens)
        cut = encode_text_truncated(tiny_teacher.model, tokens)
    assert torch.allclose(full, cut, atol=1e-5)


def test_no_gradient_reaches_a_users_unfrozen_model():
    """CoOp freezes everything but the context; the learner must not rely on the project's loader to do it."""
    import open_clip

    from pand_core.models import TINY_TEACHER

    torch.manual_seed(0)
    model = open_clip.create_model(TINY_TEACHER)  # a user's own model: every weight trainable
    assert all(p.requires_grad for p in model.parameters())
    pl = PromptLearner(model, open_clip.get_tokenizer(TINY_TEACHER), NAMES, template="{}", n_ctx=4)
    pl()[:, 0].sum().backward()
    assert pl.ctx.grad is not None and pl.ctx.grad.abs().sum() > 0
    text_params = [n for n, p in model.named_parameters() if not n.startswith("visual.") and n != "logit_scale"]
    assert text_params and all(model.get_parameter(n).grad is None for n in text_params)
    assert not any(model.get_parameter(n).requires_grad for n in text_params)


def test_stage1_logits_stay_fp32_inside_autocast():
    """Row 7 of the deviations: Stage 1's scale-100 logits are not rounded by the bf16 autocast around the text encoder
    (CPU autocast stands in for the GPU's: the same dispatch, the same rounding)."""
    from pand_core.stage1.prompts import stage1_logits

    g = torch.Generator().manual_seed(0)
    feats = torch.nn.functional.normalize(torch.randn(16, 32, generator=g), dim=-1)
    text = torch.nn.functional.normalize(torch.randn(10, 32, generator=g), dim=-1)
    reference = 100.0 * feats @ text.t()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        rounded = 100.0 * feats @ text.t()  # what the product alone gives in the region
        logits = stage1_logits(feats, text, 100.0)
    assert rounded.dtype == torch.bfloat16 and (rounded.float() - reference).abs().max() > 1e-3
    assert logits.dtype == torch.float32
    torch.testing.assert_close(logits, reference, rtol=0, atol=1e-5)
