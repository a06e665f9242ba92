"""The few lines of DDP the trainer needs: set up from torchrun's environment, sum across ranks, tear down."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Iterator

import torch
import torch.distributed as dist


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


def init_distributed(device: torch.device) -> Dist:
    """Join the process group when launched by `torchrun` (WORLD_SIZE > 1): NCCL on CUDA, gloo on CPU."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        torch.cuda.set_device(local)
    return Dist(rank, world, local)


def sum_across(d: Dist, *values: float, device: torch.device = torch.device("cpu")) -> list[float]:
    """Sum scalars over all ranks (identity on one process)."""
    if not d.active:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def barrier(d: Dist) -> None:
    if d.active:
        dist.barrier()


@contextlib.contextmanager
def main_process_first(d: Dist) -> Iterator[None]:
    """Run the body on the main process first and on the other ranks after it: what the main process prepares and
    caches (data checks, weights, views, the bank), the others then read."""
    if not d.main:
        barrier(d)
    yield
    if d.main:
        barrier(d)


def shutdown(d: Dist) -> None:
    if d.active and dist.is_initialized():
        dist.destroy_process_group()
