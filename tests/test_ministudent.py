"""The miniature's upstream-pretrained student: deterministic, disjoint from the book's images, and loaded through
the same `build_student(pretrained=<file>)` path as a user's own torchvision checkpoint."""

from __future__ import annotations

import pytest
import torch
import torchvision

from pand_core.errors import ConfigError
from pand_core.ministudent import COARSE_CLASSES, UpstreamSpec, coarse_label, pretrain_student, upstream_images, upstream_student_weights
from pand_core.models import build_student
from pand_core.data.synthetic import all_classes

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
