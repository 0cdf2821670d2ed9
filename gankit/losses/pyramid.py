"""The Laplacian-pyramid L1 loss of GLO (Bojanowski et al. 2018), as pure functions.

    Lap1(x, x') = sum_j 2^(2j) |L^j(x) - L^j(x')|_1

L^j is level j of the Laplacian pyramid (Ling & Okada 2006), j = 0 the finest: with the low-pass levels
g_0 = x and g_(j+1) = down(g_j), L^j = g_j - up(g_(j+1)), and the last level is the low-pass g_(J-1)
itself. Here down is a 2x2 average pool and up repeats each pixel 2x2 (nearest), so the pyramid is exact:
x = L^0 + up(L^1 + up(L^2 + ...)). Level j has 4^-j as many pixels as x, so the weight 2^(2j) = 4^j gives
every level the same weight per pixel of x: with |.|_1 a sum over a level's values and the total divided by
the C*H*W values of x (a constant factor, so the value reads as a per-pixel error), Lap1 = sum_j mean |dL^j|.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def laplacian_pyramid(x: Tensor, levels: int) -> list[Tensor]:
    """[L^0, ..., L^(levels-1)] of images (B, C, H, W): band-pass levels (B, C, H / 2^j, W / 2^j), then the
    low-pass residual. H and W must be divisible by 2^(levels - 1)."""
    if levels < 1:
        raise ValueError(f"levels must be >= 1, got {levels}")
    factor = 2 ** (levels - 1)
    if x.dim() != 4 or x.shape[-2] % factor or x.shape[-1] % factor:
        raise ValueError(f"a {levels}-level pyramid needs images (B, C, H, W) with H and W divisible by {factor}; "
                         f"got shape {tuple(x.shape)}")
    bands = []
    for _ in range(levels - 1):
        coarse = F.avg_pool2d(x, 2)  # (B, C, H/2, W/2)
        bands.append(x - F.interpolate(coarse, scale_factor=2, mode="nearest"))
        x = coarse
    return bands + [x]


def lap1_features(x: Tensor, levels: int) -> Tensor:
    """The pyramid of x, each level weighted by 2^(2j) / (C*H*W), flattened: (B, F) vectors whose L1
    distance is Lap1 (so many pairs can be compared with ``torch.cdist(p=1)``)."""
    pixels = x[0].numel()
    return torch.cat([(4**j / pixels) * band.flatten(1) for j, band in enumerate(laplacian_pyramid(x, levels))], 1)


def lap1_loss(*, output: Tensor, target: Tensor, levels: int) -> Tensor:
    """Bojanowski et al. 2018 (GLO), Lap1 per sample: sum_j 2^(2j) |L^j(output) - L^j(target)|_1, divided by the
    C*H*W values of an image. (B, C, H, W) x 2 -> (B,)"""
    return (lap1_features(output, levels) - lap1_features(target, levels)).abs().sum(1)


__all__ = ["laplacian_pyramid", "lap1_features", "lap1_loss"]
