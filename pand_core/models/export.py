"""Take the student away: TorchScript and ONNX exports of a trained student, each checked against PyTorch."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

from .student import Student


class _Logits(nn.Module):
    """The deployable part of a student: image → class logits."""

    def __init__(self, student: Student) -> None:
        super().__init__()
        self.student = student

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.student(x).logits


def export_student(student: Student, out_dir: str | Path, image_size: int = 224, atol: float = 1e-4) -> dict:
    """Write `student.torchscript.pt` and `student.onnx` (dynamic batch) into `out_dir`, reload both and compare their
    logits with PyTorch's on a random batch; raise if either differs by more than `atol`. Returns paths and errors.

    Args:
        student: The trained student; exported on the CPU in eval mode (image → logits only).
        out_dir: The folder written to (made if missing).
        image_size: The side of the square test batch `[4, 3, image_size, image_size]`.
        atol: The largest absolute logit difference accepted.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = _Logits(student).eval().cpu()
    x = torch.randn(4, 3, image_size, image_size, generator=torch.Generator().manual_seed(0))
    onnx_path = out_dir / "student.onnx"
    with warnings.catch_warnings():
        # torch >= 2.9 flags TorchScript and the TorchScript-based ONNX exporter as deprecated; both still work here
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        with torch.no_grad():
            ref = model(x)
            ts_path = out_dir / "student.torchscript.pt"
            torch.jit.save(torch.jit.trace(model, x[:1]), str(ts_path))
            ts_err = (torch.jit.load(str(ts_path))(x) - ref).abs().max().item()
        torch.onnx.export(model, (x[:1],), str(onnx_path), input_names=["images"], output_names=["logits"],
                          dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}}, dynamo=False)
    import onnxruntime

    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    onnx_err = float(abs(session.run(["logits"], {"images": x.numpy()})[0] - ref.numpy()).max())
    if max(ts_err, onnx_err) > atol:
        raise RuntimeError(f"exported student differs from PyTorch: TorchScript {ts_err:.2e}, ONNX {onnx_err:.2e} (atol {atol})")
    return {"torchscript": str(ts_path), "onnx": str(onnx_path), "torchscript_max_abs_err": ts_err,
            "onnx_max_abs_err": onnx_err, "torchscript_bytes": ts_path.stat().st_size, "onnx_bytes": onnx_path.stat().st_size}
