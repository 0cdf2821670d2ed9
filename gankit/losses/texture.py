"""Texture statistics and regularisers: Gram matrices (Gatys et al. 2015) and total variation (Li & Wand 2016)."""
from __future__ import annotations

from torch import Tensor


def gram_matrix(features: Tensor) -> Tensor:
    """Gatys et al. 2015: (B, C, C) channel correlations of feature maps (B, C, H, W), averaged over positions."""
    flat = features.flatten(2)  # (B, C, H W)
    return flat @ flat.transpose(1, 2) / flat.shape[-1]


def gram_distance(a: Tensor, b: Tensor) -> Tensor:
    """Gatys et al. 2015's style loss between paired feature maps a, b (B, C, H, W): mean over pairs of the squared
    Frobenius distance of their Gram matrices, divided by C^2 (so layers of different widths weigh alike). (B,)"""
    return (gram_matrix(a) - gram_matrix(b)).pow(2).sum(dim=(1, 2)) / a.shape[1] ** 2


def total_variation(images: Tensor) -> Tensor:
    """Mean squared difference of neighbouring pixels (B, C, H, W) -> scalar; Li & Wand 2016's smoothness prior."""
    rows = (images[:, :, 1:, :] - images[:, :, :-1, :]).pow(2).mean()
    cols = (images[:, :, :, 1:] - images[:, :, :, :-1]).pow(2).mean()
    return rows + cols


__all__ = ["gram_matrix", "gram_distance", "total_variation"]
