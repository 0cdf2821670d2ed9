"""Endless, exactly resumable mini-batches from a Dataset that already lives on its device."""
from __future__ import annotations

import torch

from gankit.data.dataset import Dataset
from gankit.errors import DataError
from gankit.types import Batch


class InMemoryLoader:
    """Endless shuffled mini-batches from a Dataset already on its device; resumable exactly."""

    def __init__(self, data: Dataset, batch_size: int, *, seed: int) -> None:
        if not isinstance(batch_size, int) or batch_size < 1:
            raise DataError(f"batch_size must be a positive integer; got {batch_size!r}")
        if batch_size > len(data):
            raise DataError(f"batch_size {batch_size} is larger than data set {data.name!r} "
                            f"({len(data)} samples); lower batch_size or use more data")
        self.data = data
        self.batch_size = batch_size
        self.seed = seed
        # A private CPU generator: the global RNG (and so the training noise) stays untouched.
        self._generator = torch.Generator(device="cpu").manual_seed(seed)
        self._epoch = -1
        self._start_state = self._generator.get_state()
        self._order = torch.empty(0, dtype=torch.int64, device=data.x.device)
        self._position = 0
        self._new_epoch()

    def _new_epoch(self) -> None:
        """Draw the next permutation; remember the generator state that produced it (for resuming)."""
        self._epoch += 1
        self._start_state = self._generator.get_state()
        order = torch.randperm(len(self.data), generator=self._generator)
        self._order = order.to(self.data.x.device)
        self._position = 0

    def next(self) -> Batch:
        """The next batch of exactly batch_size rows; the remainder of an epoch is dropped."""
        if self._position + self.batch_size > len(self._order):
            self._new_epoch()
        index = self._order[self._position:self._position + self.batch_size]  # (B,)
        self._position += self.batch_size
        y = None if self.data.y is None else self.data.y[index]
        return Batch(x=self.data.x[index], y=y)

    @property
    def epoch(self) -> int:
        """Completed passes over the data (0 during the first)."""
        return self._epoch

    def state_dict(self) -> dict:
        """Tensors and ints only, so torch.load(weights_only=True) can read it back."""
        return {"epoch_start_rng": self._start_state.clone(), "epoch": self._epoch,
                "position": self._position, "size": len(self.data), "batch_size": self.batch_size,
                "seed": self.seed}

    def load_state_dict(self, state: dict) -> None:
        """Resume exactly: replay the epoch's permutation from its generator state, then skip ahead."""
        # The saved permutation indexes the data, so only a change of size makes the state meaningless.
        if int(state["size"]) != len(self.data):
            raise DataError(f"loader state is for a data set of {int(state['size'])} samples but "
                            f"{self.data.name!r} has {len(self.data)}; resume with the same data")
        self._generator.set_state(state["epoch_start_rng"])
        self._epoch = int(state["epoch"]) - 1
        self._new_epoch()  # regenerates the same permutation and leaves the generator where it was
        self._position = int(state["position"])
