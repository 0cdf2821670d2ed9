"""Denton et al. 2015 (LapGAN): a Laplacian pyramid of generators, coarse to fine.

Level 0 makes the coarsest image from noise (an MLP, as the paper's 8x8 CIFAR level); each next level k doubles
the size: the coarser image is upsampled (l_k, bilinear) and a conv net G_k, given l_k, a plane of noise and the
class (as one-hot planes, for a conditional pyramid), makes the band-pass residual h_k; the level's image is
l_k + h_k. The noise of every level is one vector z: [the coarse level's z_dim | a size^2 plane per refining level],
so the same z gives the same sample (and the truncation trick applies to all of it).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.nn import norm2d


def downsample(x: Tensor) -> Tensor:
    """Half the size: 2x2 averages (the pyramid's low-pass and decimation in one)."""
    return F.avg_pool2d(x, 2)


def upsample(x: Tensor) -> Tensor:
    """Twice the size, bilinear."""
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


def gaussian_pyramid(x: Tensor, levels: int) -> list[Tensor]:
    """[coarsest, ..., x]: ``levels`` images, each half the size of the next."""
    out = [x]
    for _ in range(levels - 1):
        out.insert(0, downsample(out[0]))
    return out


class Refiner(nn.Module):
    """G_k: (l (B, C, s, s), noise (B, 1, s, s), y) -> the residual h (B, C, s, s): three 3x3 convs, norm and ReLU
    between them, a linear output (a residual is signed)."""

    def __init__(self, channels: int, width: int, classes: int, norm: str | None) -> None:
        super().__init__()
        self.num_classes = classes
        self.net = nn.Sequential(
            nn.Conv2d(channels + 1 + classes, width, 3, 1, 1), norm2d(norm, width, "model.g_norm"), nn.ReLU(),
            nn.Conv2d(width, width, 3, 1, 1), norm2d(norm, width, "model.g_norm"), nn.ReLU(),
            nn.Conv2d(width, channels, 3, 1, 1))

    def forward(self, coarse: Tensor, noise: Tensor, y: Tensor | None = None) -> Tensor:
        parts = [coarse, noise]
        if self.num_classes:
            if y is None:
                raise ValueError("this generator is conditional: pass labels y")
            parts.append(F.one_hot(y, self.num_classes).to(coarse.dtype)[:, :, None, None].expand(-1, -1, *coarse.shape[2:]))
        return self.net(torch.cat(parts, dim=1))


class LaplacianGenerator(nn.Module):
    """G(z, y=None) -> full-size images through the pyramid; ``pyramid`` returns every level's image."""

    def __init__(self, coarse: nn.Module, refiners: list[Refiner], sizes: list[int], z_dim: int) -> None:
        super().__init__()
        self.levels = nn.ModuleList([coarse, *refiners])
        self.sizes, self.z_dim = sizes, z_dim  # sizes coarse -> fine; z_dim of the coarse level
        self.noise_dim = z_dim + sum(s * s for s in sizes[1:])  # the whole z

    def split(self, z: Tensor) -> tuple[Tensor, list[Tensor]]:
        """z (B, noise_dim) -> the coarse level's (B, z_dim) and a (B, 1, s, s) plane per refining level."""
        if z.shape[1] != self.noise_dim:
            raise ValueError(f"this pyramid takes z of {self.noise_dim} numbers (got {z.shape[1]})")
        chunks = z.split([self.z_dim] + [s * s for s in self.sizes[1:]], dim=1)
        return chunks[0], [c.unflatten(1, (1, s, s)) for c, s in zip(chunks[1:], self.sizes[1:])]

    def refine(self, k: int, coarser: Tensor, noise: Tensor, y: Tensor | None) -> Tensor:
        """Level k's image from level k-1's: l + G_k(l, noise, y) with l the coarser image upsampled."""
        low = upsample(coarser)
        return low + self.levels[k](low, noise, y)

    def pyramid(self, z: Tensor, y: Tensor | None = None) -> list[Tensor]:
        z0, planes = self.split(z)
        images = [self.levels[0](z0, y)]
        for k, noise in enumerate(planes, start=1):
            images.append(self.refine(k, images[-1], noise, y))
        return images

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        return self.pyramid(z, y)[-1]


__all__ = ["LaplacianGenerator", "Refiner", "downsample", "gaussian_pyramid", "upsample"]
