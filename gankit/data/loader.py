"""Endless, exactly resumable mini-batches from a Dataset that already lives on its device.

Under torchrun each rank takes its slice of every *global* batch: all ranks walk the same permutation
(the same private generator) in steps of ``batch_size * world_size`` and rank r keeps rows
``r*batch_size:(r+1)*batch_size``. So ``train.batch_size`` is the batch of one process, N ranks see
disjoint samples, and together they see exactly the batches one process with ``N * batch_size`` sees
(augmentation too: its parameters are drawn for the global batch). The state is the global position,
the same on every rank.
"""
from __future__ import annotations

import torch
from torch import Tensor
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from gankit import distributed
from gankit.data.dataset import Dataset
from gankit.errors import DataError
from gankit.types import Batch

# Offsets from ``seed`` for the private generators of the unpaired a-stream and of augmentation, so
# the three streams differ while one seed still fixes them all.
A_STREAM_SEED_OFFSET = 1_000_003
AUGMENT_SEED_OFFSET = 2_000_003
JITTER_SCALE = 286 / 256  # pix2pix / CycleGAN: load at 286, crop back to 256


class _Order:
    """An endless stream of random permutations of range(size) from a private CPU generator; resumable."""

    def __init__(self, size: int, seed: int, device: torch.device) -> None:
        self.size, self.device = size, device
        # A private generator: the global RNG (and so the training noise) stays untouched.
        self.generator = torch.Generator(device="cpu").manual_seed(seed)
        self.epoch = -1
        self.start_state = self.generator.get_state()
        self.order = torch.empty(0, dtype=torch.int64, device=device)
        self.position = 0
        self.new_epoch()

    def new_epoch(self) -> None:
        """Draw the next permutation; remember the generator state that produced it (for resuming)."""
        self.epoch += 1
        self.start_state = self.generator.get_state()
        self.order = torch.randperm(self.size, generator=self.generator).to(self.device)
        self.position = 0

    def take(self, count: int) -> Tensor:
        """The next ``count`` indices (count,); an epoch's remainder shorter than count is dropped."""
        if self.position + count > self.size:
            self.new_epoch()
        index = self.order[self.position:self.position + count]
        self.position += count
        return index

    def state_dict(self, prefix: str = "") -> dict:
        """The epoch's starting generator state, the epoch and the position (tensors and ints)."""
        return {f"{prefix}epoch_start_rng": self.start_state.clone(), f"{prefix}epoch": self.epoch,
                f"{prefix}position": self.position}

    def load_state_dict(self, state: dict, prefix: str = "") -> None:
        """Replay the saved epoch's permutation from its generator state, then skip ahead."""
        self.generator.set_state(state[f"{prefix}epoch_start_rng"])
        self.epoch = int(state[f"{prefix}epoch"]) - 1
        self.new_epoch()  # regenerates the same permutation and leaves the generator where it was
        self.position = int(state[f"{prefix}position"])


def _check_batch_size(batch_size: int, size: int, name: str, part: str = "", world: int = 1) -> None:
    """DataError unless one global batch fits in ``size`` samples (``part``: which side of a two-domain set)."""
    if batch_size * world > size:
        what = f"batch_size {batch_size}" if world == 1 else \
            f"the global batch (batch_size {batch_size} x {world} processes = {batch_size * world})"
        raise DataError(f"{what} is larger than {part}data set {name!r} "
                        f"({size} samples); lower batch_size or use more data")


def _crop_params(count: int, height: int, width: int, generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
    """Per-sample (top, left, flip) for a jitter of ``count`` (C, height, width) images: offsets into the enlarged
    image."""
    big_h, big_w = round(height * JITTER_SCALE), round(width * JITTER_SCALE)
    top = torch.randint(0, big_h - height + 1, (count,), generator=generator)
    left = torch.randint(0, big_w - width + 1, (count,), generator=generator)
    flip = torch.rand(count, generator=generator) < 0.5
    return top, left, flip


def jitter(images: Tensor, params: tuple[Tensor, Tensor, Tensor]) -> Tensor:
    """Pix2pix/CycleGAN augmentation: resize up by 286/256, crop back at (top, left), mirror where flip."""
    count, (height, width) = images.shape[0], images.shape[-2:]
    big = TF.resize(images, [round(height * JITTER_SCALE), round(width * JITTER_SCALE)],
                    interpolation=InterpolationMode.BILINEAR, antialias=False)  # (B, C, H', W')
    top, left, flip = (p.to(images.device) for p in params)
    rows = top[:, None] + torch.arange(height, device=images.device)  # (B, H)
    steps = torch.arange(width, device=images.device)
    cols = left[:, None] + torch.where(flip[:, None], width - 1 - steps, steps)  # (B, W), reversed where flipped
    batch = torch.arange(count, device=images.device)[:, None, None]
    # Advanced indices around the channel slice put the indexed dims first: (B, H, W, C).
    return big[batch, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2).clamp_(-1.0, 1.0)


class InMemoryLoader:
    """Endless shuffled mini-batches from a Dataset already on its device; resumable exactly.

    Paired data: a[i] travels with x[i]. Unpaired data: a comes from its own permutation stream,
    independent of x's order. ``augment``: pix2pix/CycleGAN random jitter and mirroring per batch,
    the same for both images of a pair. ``rank``/``world_size`` (default: this process's place in the
    torchrun job): which slice of each global batch of ``batch_size * world_size`` this loader yields.
    """

    def __init__(self, data: Dataset, batch_size: int, *, seed: int, augment: bool = False,
                 rank: int | None = None, world_size: int | None = None) -> None:
        if not isinstance(batch_size, int) or batch_size < 1:
            raise DataError(f"batch_size must be a positive integer; got {batch_size!r}")
        self.rank = distributed.rank() if rank is None else rank
        self.world_size = distributed.world_size() if world_size is None else world_size
        if not 0 <= self.rank < self.world_size:
            raise DataError(f"rank {self.rank} is outside a world of {self.world_size} processes")
        _check_batch_size(batch_size, len(data), data.name, world=self.world_size)
        if augment and data.kind != "image":
            raise DataError(f"augment=True jitters and mirrors images, but {data.name!r} is {data.kind} data; "
                            "set data.augment=false")
        if augment and data.pairing == "paired" and data.a.shape[-2:] != data.x.shape[-2:]:
            raise DataError(f"augment=True gives a pair one crop, but {data.name!r} has a images of size "
                            f"{tuple(data.a.shape[-2:])} and x of {tuple(data.x.shape[-2:])}; set data.augment=false")
        self.data, self.batch_size, self.seed, self.augment = data, batch_size, seed, augment
        self._x_order = _Order(len(data), seed, data.x.device)
        self._a_order = None
        if data.pairing == "unpaired":
            _check_batch_size(batch_size, len(data.a), data.name, "domain A (the a images) of ", self.world_size)
            self._a_order = _Order(len(data.a), seed + A_STREAM_SEED_OFFSET, data.a.device)
        self._augment_generator = torch.Generator(device="cpu").manual_seed(seed + AUGMENT_SEED_OFFSET)

    def next(self) -> Batch:
        """This rank's batch_size rows of the next global batch; the remainder of an epoch is dropped."""
        index = self._mine(self._x_order.take(self.batch_size * self.world_size))  # (B,)
        y = None if self.data.y is None else self.data.y[index]
        x, a = self.data.x[index], None
        if self._a_order is not None:
            a = self.data.a[self._mine(self._a_order.take(self.batch_size * self.world_size))]
        elif self.data.a is not None:
            a = self.data.a[index]
        if self.augment:
            x, a = self._jitter(x, a)
        return Batch(x=x, y=y, a=a, index=index)

    def _mine(self, rows: Tensor) -> Tensor:
        """This rank's slice of rows drawn for the global batch."""
        return rows[self.rank * self.batch_size:(self.rank + 1) * self.batch_size]

    def _jitter(self, x: Tensor, a: Tensor | None) -> tuple[Tensor, Tensor | None]:
        """Augment x and a; a pair shares its crop and flip, an unpaired a draws its own (each drawn for the
        global batch, of which this rank keeps its rows)."""
        params = self._global_crop_params(x)
        if a is None:
            return jitter(x, params), None
        a_params = params if self.data.pairing == "paired" else self._global_crop_params(a)
        return jitter(x, params), jitter(a, a_params)

    def _global_crop_params(self, images: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Crop and flip parameters of the global batch (one draw on every rank), this rank's rows of them."""
        height, width = images.shape[-2:]
        top, left, flip = _crop_params(images.shape[0] * self.world_size, height, width, self._augment_generator)
        return self._mine(top), self._mine(left), self._mine(flip)

    @property
    def epoch(self) -> int:
        """Completed passes over the data (0 during the first)."""
        return self._x_order.epoch

    def state_dict(self) -> dict:
        """Tensors and ints only, so torch.load(weights_only=True) can read it back."""
        state = {**self._x_order.state_dict(), "size": len(self.data), "batch_size": self.batch_size,
                 "seed": self.seed, "world_size": self.world_size}
        if self._a_order is not None:
            state.update(self._a_order.state_dict(prefix="a_"), a_size=len(self.data.a))
        if self.augment:
            state["augment_rng"] = self._augment_generator.get_state()
        return state

    def load_state_dict(self, state: dict) -> None:
        """Resume exactly: replay each stream's epoch permutation from its generator state, then skip ahead."""
        # The saved permutation indexes the data, so only a change of size makes the state meaningless.
        for key, size, what in (("size", len(self.data), "samples"),
                                ("a_size", None if self.data.a is None else len(self.data.a), "a images")):
            if key in state and size is not None and int(state[key]) != size:
                raise DataError(f"loader state is for a data set of {int(state[key])} {what} but "
                                f"{self.data.name!r} has {size}; resume with the same data")
        self._x_order.load_state_dict(state)
        if self._a_order is not None and "a_epoch" in state:  # older states have no a-stream
            self._a_order.load_state_dict(state, prefix="a_")
        if self.augment and "augment_rng" in state:
            self._augment_generator.set_state(state["augment_rng"])
