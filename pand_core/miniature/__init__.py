"""The miniature: a fine-grained world, its CLIP teacher and its student, small enough for a laptop's CPU.

- `world`: the synthetic bird world in the CUB-200-2011 layout and the teacher's captioned pretraining corpus;
- `teacher`: `pand-mini-clip`, pretrained contrastively on that corpus;
- `network` and `student`: `pand-mini-resnet` and its upstream ("ImageNet") pretraining;
- `artifacts`: the shipped, hash-checked weights of both (`python -m pand_core.miniature build` rebuilds them).

Submodules are imported on use (`from pand_core.miniature.world import ...`), so that `models` can import
`network` without loading the teacher's code.
"""
