"""Shrivastava et al. 2017's history of generated images, as CycleGAN uses it (Zhu et al. 2017)."""
from __future__ import annotations

import torch
from torch import Tensor, nn


class ImagePool(nn.Module):
    """D is shown a mix of new fakes and fakes from earlier steps, so it does not forget them.

    Until ``size`` images are stored every new image is stored and returned. Once full, each
    new image is, with probability 0.5, returned as it is; otherwise a random stored image is
    returned in its place and the new one is stored there. The stored images are buffers, so a
    checkpoint holds them and a resumed run draws the same mix. ``size`` 0 turns the pool off.
    """

    def __init__(self, size: int, shape: tuple[int, ...]) -> None:
        super().__init__()
        if size < 0:
            raise ValueError(f"pool size must be >= 0, got {size}")
        self.size = size
        self.register_buffer("images", torch.zeros(size, *shape))  # (size, C, H, W)
        self.register_buffer("count", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def query(self, images: Tensor) -> Tensor:
        """(B, C, H, W) new fakes -> (B, C, H, W) fakes for D (detached)."""
        images = images.detach()
        if self.size == 0:
            return images
        out = images.clone()
        for i in range(len(images)):
            count = int(self.count)
            if count < self.size:  # still filling: store and use the new image
                self.images[count] = images[i]
                self.count += 1
            elif float(torch.rand(())) < 0.5:  # swap: D sees an old fake, the new one takes its place
                j = int(torch.randint(0, self.size, ()))
                out[i] = self.images[j].clone()
                self.images[j] = images[i]
        return out
