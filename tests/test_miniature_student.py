"""The miniature's upstream-pretrained student: deterministic, disjoint from the book's images, and loaded through
the same `build_student(pretrained=<file>)` path as a user's own torchvision checkpoint."""

from __future__ import annotations

import pytest
import torch
import torchvision

from pand_core.infra.errors import ConfigError
from pand_core.miniature.student import COARSE_CLASSES, UpstreamSpec, coarse_label, pretrain_student, upstream_images, upstream_student_weights
from pand_core.models import build_student
from pand_core.miniature.world import all_classes

TINY = UpstreamSpec(images=48, held_out=16, image_size=32, draw_size=40, epochs=1, batch_size=16)


def test_coarse_labels_are_body_times_head_and_never_the_fine_attributes():
    combos = all_classes()
    assert len(COARSE_CLASSES) == 16 and sorted({coarse_label(c) for c in combos}) == list(range(16))
    for c in combos:  # wing and tail never change the label
        assert COARSE_CLASSES[coarse_label(c)] == f"{c.body} body, {c.head} head"


def test_upstream_images_are_their_own_stream():
    a, ya = upstream_images(4, TINY, progress=False)
    b, yb = upstream_images(4, TINY, progress=False)
    c, _ = upstream_images(4, TINY, offset=4, progress=False)
    assert torch.equal(a, b) and torch.equal(ya, yb) and not torch.equal(a, c)
    assert a.shape == (4, 3, 32, 32)


@pytest.mark.slow
def test_pretraining_is_deterministic_and_loads_like_a_users_checkpoint(tmp_path):
    net_a, log = pretrain_student(TINY, progress=False)
    net_b, _ = pretrain_student(TINY, progress=False)
    sa, sb = net_a.state_dict(), net_b.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert [h["epoch"] for h in log["history"]] == [0] and "held_out_acc" in log["history"][0]

    path = upstream_student_weights(tmp_path, TINY, progress=False)
    assert path.name == "weights.pt" and (path.parent / "pretraining.json").exists()
    assert upstream_student_weights(tmp_path, TINY, progress=False) == path  # cached: the second call trains nothing
    student = build_student("resnet18", 7, pretrained=str(path))
    saved = torch.load(path, weights_only=True)
    got = student.backbone.state_dict()
    assert all(torch.equal(got[k], saved[k]) for k in got if k in saved)  # every backbone tensor from the file
    assert student.classifier.out_features == 7  # the 16-way upstream head is not carried over


def test_a_checkpoint_of_another_architecture_is_refused_with_its_keys(tmp_path):
    path = tmp_path / "mobilenet.pt"
    torch.save(torchvision.models.mobilenet_v2(weights=None).state_dict(), path)
    with pytest.raises(ConfigError, match="do not fit a ResNet"):
        build_student("resnet18", 5, pretrained=str(path))


def test_mini_resnet_is_a_student_like_resnet18_and_loads_its_upstream_weights(tmp_path):
    """`pand-mini-resnet`: halves the resolution in stages 2-4 (32 px -> a 4x4 map), 128-d pooled features, its
    upstream weights load through `build_student(pretrained=<file>)`, and it has no ImageNet tag to load."""
    from pand_core.models.mini_resnet import MINI_STUDENT, MiniResNet

    net = MiniResNet(num_classes=3)
    assert net.layers(net.stem(torch.zeros(2, 3, 32, 32))).shape == (2, 128, 4, 4)
    spec = UpstreamSpec(arch=MINI_STUDENT, images=32, held_out=8, image_size=32, draw_size=40, epochs=1, batch_size=16)
    path = upstream_student_weights(tmp_path, spec, progress=False)
    assert MINI_STUDENT in path.parent.name
    student = build_student(MINI_STUDENT, 5, pretrained=str(path))
    saved = torch.load(path, weights_only=True)
    got = student.backbone.state_dict()
    assert student.feat_dim == 128 and all(torch.equal(got[k], saved[k]) for k in got)
    out = student(torch.randn(2, 3, 32, 32))
    assert out.logits.shape == (2, 5) and torch.allclose(out.features.norm(dim=-1), torch.ones(2))
    with pytest.raises(ConfigError, match="no ImageNet weights"):
        build_student(MINI_STUDENT, 5, pretrained=True)


def test_smoke_profile_trains_the_mini_student_from_its_shipped_upstream_weights(tmp_path, monkeypatch):
    """On smoke, `student_pretrained=True` resolves to the shipped, hash-checked `pand-mini-resnet` at 32 px (nothing
    is pretrained); another size is pretrained once into the cache with the same recipe; on paper it stays True."""
    from pand_core.miniature import student as ministudent
    from pand_core.miniature.artifacts import STUDENT_FILE, WEIGHTS_DIR
    from pand_core.assets import resolve_student_pretrained
    from pand_core.config import default_student, make_config

    monkeypatch.setenv("PAND_CACHE", str(tmp_path))
    cfg = make_config("distill", "smoke", student=None)
    assert cfg.student == default_student("smoke") == "pand-mini-resnet" and default_student("paper") == "resnet18"
    assert resolve_student_pretrained("smoke", cfg.student, True, cfg.image_size) == str(WEIGHTS_DIR / STUDENT_FILE)
    assert not any(tmp_path.iterdir())  # nothing trained or cached
    monkeypatch.setattr(ministudent, "UpstreamSpec", lambda **kw: UpstreamSpec(**dict(kw, images=32, held_out=8, epochs=1)))
    path = resolve_student_pretrained("smoke", cfg.student, True, 16)
    assert path.startswith(str(tmp_path)) and path.endswith("weights.pt") and "-16px-" in path
    assert resolve_student_pretrained("paper", "resnet18", True, 224) is True
    assert resolve_student_pretrained("smoke", "resnet18", False, 32) is False
