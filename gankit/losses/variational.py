"""Likelihood terms of the variational auto-encoders (VAE, VAE-GAN), as pure functions, keyword-only.

The prior term, KL(q(z|x) || N(0, I)), is the posterior's own (gankit.nets.encoder.Posterior.kl_to_standard_normal).
"""
from __future__ import annotations

from torch import Tensor


def gaussian_nll(*, target: Tensor, mean: Tensor, std: float) -> Tensor:
    """-log N(target | mean, std^2 I) per sample without its constant: ||target - mean||^2 / (2 std^2), summed over
    each sample's elements (Kingma & Welling 2014's Gaussian decoder with a fixed variance; Larsen et al. 2016,
    Eq. 6, on a discriminator's features with std 1). (B, ...) -> (B,)"""
    if target.shape != mean.shape:
        raise ValueError(f"gaussian_nll: target {tuple(target.shape)} and mean {tuple(mean.shape)} differ in shape")
    return (target - mean).flatten(1).pow(2).sum(1) / (2 * std**2)


__all__ = ["gaussian_nll"]
