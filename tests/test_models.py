"""Teacher loading (random / file / directory / tag), student contract, align head shape and normalisation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

import open_clip
import pytest
import torch
import torch.nn.functional as F
import torchvision

from pand_core.infra.errors import ConfigError, TeacherUnavailableError
from pand_core.models import MINI_TEACHER, TINY_TEACHER, AlignHead, Teacher, build_student, load_teacher


def test_tiny_teacher_is_frozen_and_normalised(tiny_teacher):
    t = tiny_teacher
    assert not t.model.training and not any(p.requires_grad for p in t.model.parameters())
    assert t.source == "random" and t.embed_dim == 64 and t.image_size == 32
    assert t.logit_scale == pytest.approx(float(t.model.logit_scale.exp()))
    x = torch.randn(3, 3, 32, 32)
    f = t.encode_image(x)
    assert f.shape == (3, 64) and torch.allclose(f.norm(dim=-1), torch.ones(3), atol=1e-5)
    texts = ["a photo of a bird", "a photo of a dog"]
    ref = t.model.encode_text(t.tokenizer(texts), normalize=True)
    assert torch.allclose(t.encode_text(texts), ref, atol=1e-6)
    assert not t.encode_text(texts).requires_grad


def test_a_view_at_another_size_is_resized_to_the_teachers_input(tiny_teacher):
    """A student's 16 px view is shown to the 32 px teacher bilinearly resized, exactly as if resized by hand; a view
    at the teacher's size goes through untouched."""
    x = torch.randn(2, 3, 16, 16)
    by_hand = torch.nn.functional.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False)
    ref = torch.nn.functional.normalize(tiny_teacher.model.encode_image(by_hand).float(), dim=-1)
    assert torch.allclose(tiny_teacher.encode_image(x), ref, atol=1e-6)
    same = torch.randn(2, 3, 32, 32)
    assert torch.allclose(tiny_teacher.encode_image(same),
                          torch.nn.functional.normalize(tiny_teacher.model.encode_image(same).float(), dim=-1), atol=1e-6)


def _save_tiny(tiny_teacher, path):
    torch.save(tiny_teacher.model.state_dict(), path)


def _tower_inputs(teacher, images):
    """Run `teacher.encode_image(images)` and return the tensor its image tower received."""
    seen = []
    hook = teacher.model.visual.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    try:
        teacher.encode_image(images)
    finally:
        hook.remove()
    assert len(seen) == 1
    return seen[0]


def test_the_paper_teacher_receives_the_students_224px_view_unchanged():
    """ConvNeXt-XXL (native 256 px, pooled head) gets the student's augmented 224 px tensor itself, as in the
    original (method doc §4); built on the meta device, so no weights or memory are needed."""
    with torch.device("meta"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = open_clip.create_model("convnext_xxlarge", pretrained=None, device="meta")
    teacher = Teacher(model, None, None, "convnext_xxlarge", None, "random")
    assert teacher.image_size == 256 and teacher.accepts_any_size
    view = torch.empty(2, 3, 224, 224, device="meta")
    assert _tower_inputs(teacher, view) is view


def test_a_convnext_tower_gets_any_size_and_a_vit_or_resnet_tower_its_own():
    """The same rule on real forward passes: ConvNeXt-Tiny (native 224) takes a 160 px batch as it is; the 32 px ViT
    (position embedding) and the miniature's ResNet tower (attention pooling over a fixed grid) get 48 px resized."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.manual_seed(0)
        convnext = load_teacher("convnext_tiny", None)
        vit = load_teacher(TINY_TEACHER, None)
        resnet = load_teacher(MINI_TEACHER, None)
    view = torch.randn(2, 3, 160, 160)
    assert convnext.accepts_any_size and _tower_inputs(convnext, view) is view
    small = torch.randn(2, 3, 48, 48)
    for teacher in (vit, resnet):
        assert not teacher.accepts_any_size
        got = _tower_inputs(teacher, small)
        assert got.shape[-2:] == (32, 32)
        assert torch.equal(got, F.interpolate(small, size=(32, 32), mode="bilinear", align_corners=False))


def test_teacher_from_local_file_and_directory(tiny_teacher, tmp_path):
    x = torch.randn(2, 3, 32, 32)
    ref = tiny_teacher.encode_image(x)
    weights = tmp_path / "weights" / "tiny.pt"
    weights.parent.mkdir()
    _save_tiny(tiny_teacher, weights)

    from_file = load_teacher(TINY_TEACHER, str(weights))
    assert from_file.source == f"file:{weights}"
    assert torch.allclose(from_file.encode_image(x), ref, atol=1e-6)

    from_dir = load_teacher(TINY_TEACHER, str(weights.parent))  # a folder holding exactly one weights file
    assert from_dir.source == f"dir:{weights}"
    assert torch.allclose(from_dir.encode_image(x), ref, atol=1e-6)

    # an open_clip export folder: config + weights (the 'local-dir:' layout)
    export = tmp_path / "export"
    export.mkdir()
    _save_tiny(tiny_teacher, export / "open_clip_pytorch_model.bin")
    cfg = open_clip.get_model_config(TINY_TEACHER)
    (export / "open_clip_config.json").write_text(json.dumps({"model_cfg": cfg, "preprocess_cfg": {}}))
    from_export = load_teacher(TINY_TEACHER, str(export))
    assert from_export.source == f"dir:{export}"
    assert torch.allclose(from_export.encode_image(x), ref, atol=1e-6)


def test_teacher_bad_sources_fail_clearly(tmp_path):
    with pytest.raises(ConfigError, match="unknown open_clip model"):
        load_teacher("not-a-model", None)
    with pytest.raises(TeacherUnavailableError, match="known tags"):
        load_teacher("ViT-B-32", "no_such_tag")
    with pytest.raises(TeacherUnavailableError, match="not found"):
        load_teacher("ViT-B-32", str(tmp_path / "missing.pt"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(TeacherUnavailableError, match="exactly one weights file"):
        load_teacher("ViT-B-32", str(tmp_path / "empty"))


@pytest.mark.slow
def test_teacher_tag_offline_says_how_to_fix(tmp_path):
    """A real tag with no network and an empty cache: the message says how to pre-download or pass a file."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"), XDG_CACHE_HOME=str(tmp_path / "cache"))
    code = (
        "from pand_core.models import load_teacher\n"
        "from pand_core.infra.errors import TeacherUnavailableError\n"
        "try:\n    load_teacher('RN50', 'openai')\n"
        "except TeacherUnavailableError as e:\n    print('MESSAGE', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert "MESSAGE" in out.stdout, out.stderr[-2000:]
    assert "pre-download" in out.stdout and "local weights file" in out.stdout and "RN50" in out.stdout


# ---------------------------------------------------------------------------------------------- student
@pytest.mark.parametrize("name, dim", [("resnet18", 512), ("mobilenet_v2", 1280)])
def test_student_contract(name, dim):
    torch.manual_seed(0)
    s = build_student(name, num_classes=7, pretrained=False).eval()
    assert s.feat_dim == dim
    out = s(torch.randn(2, 3, 64, 64))
    assert out.features.shape == (2, dim) and out.logits.shape == (2, 7) and out.pooled.shape == (2, dim)
    assert torch.allclose(out.features, F.normalize(out.pooled, dim=-1))
    assert torch.allclose(out.logits, s.classifier(out.pooled), atol=1e-6)  # logits from the un-normalised h
    assert not torch.allclose(out.logits, s.classifier(out.features), atol=1e-3)


def test_student_warns_without_imagenet_weights(monkeypatch):
    real = torchvision.models.get_model

    def offline(name, weights=None, **kw):
        if weights is not None:
            raise OSError("no network")
        return real(name, weights=None, **kw)

    monkeypatch.setattr(torchvision.models, "get_model", offline)
    with pytest.warns(UserWarning, match="ImageNet weights for student resnet18 are unavailable"):
        s = build_student("resnet18", 3, pretrained=True)
    assert s.feat_dim == 512


def test_student_from_local_state_dict(tmp_path):
    torch.manual_seed(1)
    net = torchvision.models.resnet18()
    torch.save(net.state_dict(), tmp_path / "r18.pt")
    s = build_student("resnet18", 4, pretrained=str(tmp_path / "r18.pt")).eval()
    assert torch.equal(s.backbone.conv1.weight, net.conv1.weight)
    with pytest.raises(ConfigError, match="student weights file not found"):
        build_student("resnet18", 4, pretrained=str(tmp_path / "missing.pt"))
    with pytest.raises(ConfigError, match="unknown student"):
        build_student("resnet-18", 4)


def test_align_head_architecture_and_outputs():
    head = AlignHead(teacher_dim=1024, student_dim=512)
    for mlp in (head.image, head.text):
        kinds = [type(m).__name__ for m in mlp]
        assert kinds == ["Linear", "ReLU", "Linear"]
        assert (mlp[0].in_features, mlp[0].out_features, mlp[2].out_features) == (1024, 512, 512)
    assert head.image[0].weight.data_ptr() != head.text[0].weight.data_ptr()  # separate MLPs
    a, u = head(torch.randn(4, 1024), torch.randn(10, 1024))
    assert a.shape == (4, 512) and u.shape == (10, 512)
    assert torch.allclose(a.norm(dim=-1), torch.ones(4), atol=1e-5) and torch.allclose(u.norm(dim=-1), torch.ones(10), atol=1e-5)


@pytest.mark.slow
def test_student_exports_give_the_same_logits(tmp_path):
    from pand_core.models.export import export_student

    torch.manual_seed(0)
    student = build_student("resnet18", 5, pretrained=False).eval()
    info = export_student(student, tmp_path, image_size=48)
    assert info["torchscript_max_abs_err"] < 1e-4 and info["onnx_max_abs_err"] < 1e-4
    assert (tmp_path / "student.onnx").stat().st_size > 1e6
    import onnxruntime

    session = onnxruntime.InferenceSession(str(tmp_path / "student.onnx"), providers=["CPUExecutionProvider"])
    x = torch.randn(7, 3, 48, 48)  # a batch size the export never saw
    with torch.no_grad():
        assert abs(session.run(["logits"], {"images": x.numpy()})[0] - student(x).logits.numpy()).max() < 1e-4
