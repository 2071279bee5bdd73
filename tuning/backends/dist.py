"""Data-parallel runs (`torchrun --nproc_per_node N straw tune ID`, `accelerate launch`): which
process this is, and a barrier. Reads the launcher's environment, so asking imports no torch;
only `barrier()` needs torch.distributed, and only in a multi-process run."""

from __future__ import annotations

import os


def world_size() -> int:
    try:
        return max(1, int(os.environ.get("WORLD_SIZE", "1")))
    except ValueError:
        return 1


def rank() -> int:
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0


def is_main() -> bool:
    """Rank 0 writes (the model store, the prediction cache, the report and its commit)."""
    return rank() == 0


def barrier() -> None:
    """Wait until every rank got here; raises if a rank died (so rank 0 writes nothing)."""
    if world_size() <= 1:
        return
    import torch.distributed as torch_dist

    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.barrier()
