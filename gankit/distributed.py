"""Where this process stands in a torch.distributed job, and the noise every rank draws together.

One process is a job of world size 1: every function here works without torch.distributed
initialised. Under ``torchrun`` each rank trains on its slice of every global batch, so that
N ranks x B samples compute what one process x N*B samples computes:

- the data loader takes the rank's slice of each global batch (gankit.data.loader);
- per-sample noise of a training step (G's z and labels, the gradient penalty's interpolation
  weights) is drawn for the whole global batch from ``SHARED``, a generator seeded the same on
  every rank, and each rank keeps its rows (``batch_randn``, ``batch_rand``, ``batch_randint``);
- everything else random (dropout, augmentations) comes from torch's global generator, which is
  seeded per rank (``rank_seed``), so ranks do not repeat each other's masks.

``process_group`` joins the job torchrun describes in the environment (gankit.train and gankit.resume
use it; gloo on the CPU, NCCL on CUDA with cuda:LOCAL_RANK) and leaves it at the end. The collectives
here (``broadcast_object``, ``all_reduce_mean``, ``any_rank``, ``barrier``, ...) are the identity in one
process, so callers never branch on the world size. The DDP side of training (wrapping the networks,
synchronised batch norm, buffers) lives in gankit/train/parallel.py.
"""
from __future__ import annotations

import contextlib
import datetime
import os
from collections.abc import Iterator
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import Tensor

T = TypeVar("T")

SHARED_SEED_OFFSET = 3_000_017  # the shared noise stream differs from the per-rank global streams


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    """Whether this process writes files (rank 0, or the only process)."""
    return rank() == 0


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def launched_world_size() -> int:
    """The world size ``torchrun`` announced in the environment (1 outside a torchrun job)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


@contextlib.contextmanager
def process_group(device_type: str) -> Iterator[None]:
    """Join the torchrun job the environment describes (WORLD_SIZE > 1; RANK, LOCAL_RANK, MASTER_ADDR/PORT set by
    torchrun) for the duration of the block, and leave it afterwards; a no-op in one process or when the caller
    already initialised torch.distributed. Backend: NCCL for ``device_type`` "cuda" (this process uses
    cuda:LOCAL_RANK), gloo on the CPU."""
    if launched_world_size() <= 1 or is_distributed():
        yield
        return
    if device_type == "cuda":
        torch.cuda.set_device(local_rank())
    # a rank that fails makes torchrun stop the others; the timeout only bounds a hang outside torchrun's watch
    dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo",
                            timeout=datetime.timedelta(minutes=int(os.environ.get("GANKIT_DIST_TIMEOUT_MIN", "30"))))
    try:
        yield
        # every rank past its last collective before any tears gloo down: a rank whose peer had already left
        # could abort at exit ("terminate called without an active exception", seen once in CI after a resume)
        dist.barrier()
    finally:
        dist.destroy_process_group()


def barrier() -> None:
    if is_distributed():
        dist.barrier()


@contextlib.contextmanager
def main_first() -> Iterator[None]:
    """Rank 0 runs the block first (downloads, caches it writes), the other ranks after it (reading them)."""
    if not is_main():
        barrier()
    try:
        yield
    finally:
        if is_main():
            barrier()  # also when rank 0 failed: the others then fail on their own instead of waiting


def broadcast_object(obj: T, src: int = 0) -> T:
    """Rank ``src``'s ``obj`` on every rank (a picklable value: a decision, a path, a row)."""
    if not is_distributed():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src, device=_collective_device())
    return box[0]


def all_gather_object(obj: T) -> list[T]:
    """Every rank's ``obj`` in rank order, on every rank; [obj] in one process."""
    if not is_distributed():
        return [obj]
    out: list[Any] = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def all_reduce_mean(values: Tensor) -> Tensor:
    """The mean over ranks of ``values`` (a float tensor), on every rank; ``values`` itself in one process."""
    if not is_distributed():
        return values
    out = values.detach().clone()
    dist.all_reduce(out)
    return out / world_size()


def any_rank(flag: bool, device: torch.device | str = "cpu") -> bool:
    """Whether ``flag`` holds on at least one rank (every rank gets the same answer)."""
    if not is_distributed():
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=_collective_device(device))
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def _collective_device(device: torch.device | str | None = None) -> torch.device:
    """Where a collective's tensors must live: the process's GPU under NCCL, else the CPU."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu") if device is None else torch.device(device)


class _AllReduceSum(torch.autograd.Function):
    """Sum over ranks whose gradient is the sum over ranks of the incoming gradients (so it is differentiable
    again: double backward works through it)."""

    @staticmethod
    def forward(ctx, t: Tensor) -> Tensor:  # noqa: ANN001
        out = t.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # noqa: ANN001
        return _AllReduceSum.apply(grad)


def all_reduce_sum_autograd(t: Tensor) -> Tensor:
    """The sum of ``t`` over ranks, differentiable (global batch statistics of SyncBatchNorm on a CPU)."""
    return _AllReduceSum.apply(t) if is_distributed() else t


def rank_seed(seed: int) -> int:
    """The global generator's seed on this rank: ``seed`` itself on rank 0 (a single process is unchanged)."""
    return seed + 1_000_033 * rank()


class SharedNoise:
    """A CPU generator seeded identically on every rank: per-sample training noise for the global batch."""

    def __init__(self) -> None:
        self.generator = torch.Generator(device="cpu")
        self.seed(0)

    def seed(self, seed: int) -> None:
        self.generator.manual_seed(seed + SHARED_SEED_OFFSET)

    def state(self) -> Tensor:
        return self.generator.get_state()

    def set_state(self, state: Tensor) -> None:
        self.generator.set_state(state)


SHARED = SharedNoise()


def _rows(full: Tensor, n: int, device: torch.device | str) -> Tensor:
    r = rank()
    return full[r * n:(r + 1) * n].to(device, non_blocking=True)


def batch_randn(n: int, *shape: int, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> Tensor:
    """This rank's n rows of a standard normal draw of shape (n * world_size, *shape) from the shared stream."""
    return _rows(torch.randn(n * world_size(), *shape, generator=SHARED.generator, dtype=dtype), n, device)


def batch_rand(n: int, *shape: int, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> Tensor:
    """This rank's n rows of a uniform [0, 1) draw for the global batch (the gradient penalty's interpolation)."""
    return _rows(torch.rand(n * world_size(), *shape, generator=SHARED.generator, dtype=dtype), n, device)


def batch_randint(high: int, n: int, *, device: torch.device | str = "cpu") -> Tensor:
    """This rank's n of n * world_size integers in [0, high) (class labels of G's samples)."""
    return _rows(torch.randint(0, high, (n * world_size(),), generator=SHARED.generator), n, device)




def randn(n: int, *shape: int, device: torch.device | str, generator: torch.Generator | None = None) -> Tensor:
    """(n, *shape) normal noise: from ``generator`` when given (fixed grids, evaluation), else this rank's rows
    of the global training batch (``batch_randn``)."""
    if generator is not None:
        return torch.randn(n, *shape, device=device, generator=generator)
    return batch_randn(n, *shape, device=device)


def rand(n: int, *shape: int, device: torch.device | str, generator: torch.Generator | None = None) -> Tensor:
    """(n, *shape) uniform [0, 1) noise, as ``randn``."""
    if generator is not None:
        return torch.rand(n, *shape, device=device, generator=generator)
    return batch_rand(n, *shape, device=device)


def randint(high: int, n: int, *, device: torch.device | str, generator: torch.Generator | None = None) -> Tensor:
    """(n,) integers in [0, high), as ``randn``."""
    if generator is not None:
        return torch.randint(0, high, (n,), device=device, generator=generator)
    return batch_randint(high, n, device=device)




def all_gather_rows(t: Tensor) -> Tensor:
    """Every rank's rows of ``t`` (B_r, ...) concatenated in rank order, on every rank; ``t`` itself in one process.

    Ranks may hold different numbers of rows (the last shard of an evaluation). The result is on ``t``'s
    device; NCCL moves the rows through this rank's GPU."""
    if not is_distributed():
        return t
    home = t.device
    if dist.get_backend() == "nccl" and home.type != "cuda":
        t = t.to(torch.device("cuda", torch.cuda.current_device()))
    n = torch.tensor([t.shape[0]], device=t.device)
    sizes = [torch.zeros_like(n) for _ in range(world_size())]
    dist.all_gather(sizes, n)
    most = int(max(int(s) for s in sizes))
    padded = torch.zeros(most, *t.shape[1:], dtype=t.dtype, device=t.device)
    padded[:t.shape[0]] = t
    parts = [torch.empty_like(padded) for _ in range(world_size())]
    dist.all_gather(parts, padded.contiguous())
    return torch.cat([p[:int(s)] for p, s in zip(parts, sizes)]).to(home)


def shard(n: int) -> slice:
    """This rank's contiguous share of n items (evaluation samples): ranks differ by at most one item."""
    per, extra = divmod(n, world_size())
    r = rank()
    start = r * per + min(r, extra)
    return slice(start, start + per + (1 if r < extra else 0))


__all__ = ["is_distributed", "rank", "world_size", "is_main", "local_rank", "launched_world_size", "process_group",
           "barrier", "main_first", "broadcast_object", "all_gather_object", "all_reduce_mean", "any_rank",
           "all_reduce_sum_autograd", "rank_seed", "SharedNoise", "SHARED",
           "batch_randn", "batch_rand", "batch_randint", "randn", "rand", "randint",
           "all_gather_rows", "shard"]
