"""Auxiliary (non-adversarial) loss terms of the translation GANs, as pure functions.

Each is the mean absolute (L1) or squared (L2) difference the paper names; the recipes
multiply them by their weights.
"""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def l1_loss(*, output: Tensor, target: Tensor) -> Tensor:
    """Isola et al. 2017 (pix2pix): mean |G(a) - b|, keeps the output near the paired target."""
    return F.l1_loss(output, target)


def cycle_loss(*, original: Tensor, reconstructed: Tensor) -> Tensor:
    """Zhu et al. 2017 (CycleGAN): mean |F(G(a)) - a|; Choi et al. 2018 (StarGAN) use it as the reconstruction loss."""
    return F.l1_loss(reconstructed, original)


def identity_loss(*, image: Tensor, mapped: Tensor) -> Tensor:
    """Zhu et al. 2017 (CycleGAN, from Taigman et al. 2017): mean |G(b) - b| for b already in G's output domain."""
    return F.l1_loss(mapped, image)


def pixel_mse(*, output: Tensor, target: Tensor) -> Tensor:
    """Ledig et al. 2017 (SRResNet's content loss): mean squared pixel error."""
    return F.mse_loss(output, target)


def classification_loss(*, logits: Tensor, labels: Tensor) -> Tensor:
    """Choi et al. 2018 (StarGAN): cross-entropy of D's domain head against the domain (original or target)."""
    return F.cross_entropy(logits, labels)


__all__ = ["l1_loss", "cycle_loss", "identity_loss", "pixel_mse", "classification_loss"]
