"""Adversarial losses as pure functions of discriminator outputs.

Every loss is a pair: ``d(*, real, fake)`` is minimised by the discriminator and
``g(*, fake)`` by the generator. Inputs are raw scores (logits or critic values) of
shape (B,); outputs are scalars. Keyword-only so that ``real`` and ``fake`` can
never be swapped by position.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor

from gankit.registry import Registry


@dataclass(frozen=True)
class AdversarialLoss:
    """A named pair of discriminator and generator losses with its paper."""

    name: str
    d: Callable[..., Tensor]
    g: Callable[..., Tensor]
    paper: str


LOSSES: Registry[AdversarialLoss] = Registry("loss")


def _add(name: str, d: Callable[..., Tensor], g: Callable[..., Tensor], paper: str) -> None:
    LOSSES.register(name, doc=paper)(AdversarialLoss(name, d, g, paper))


def bce_d(*, real: Tensor, fake: Tensor) -> Tensor:
    """-log D(x) - log(1 - D(G(z))), written with softplus for stability."""
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def minimax_g(*, fake: Tensor) -> Tensor:
    """The original minimax G loss log(1 - D(G(z))); saturates when D is confident."""
    return -F.softplus(fake).mean()


def nonsaturating_g(*, fake: Tensor) -> Tensor:
    """-log D(G(z)): the non-saturating heuristic of Goodfellow et al. 2014."""
    return F.softplus(-fake).mean()


def least_squares_d(*, real: Tensor, fake: Tensor) -> Tensor:
    """LSGAN with a-b-c = 0-1-1 coding: 1/2 (D(x)-1)^2 + 1/2 D(G(z))^2."""
    return 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake**2).mean()


def least_squares_g(*, fake: Tensor) -> Tensor:
    """LSGAN generator: 1/2 (D(G(z)) - 1)^2."""
    return 0.5 * ((fake - 1) ** 2).mean()


def wasserstein_d(*, real: Tensor, fake: Tensor) -> Tensor:
    """Negative Kantorovich-Rubinstein estimate: E[D(G(z))] - E[D(x)]."""
    return fake.mean() - real.mean()


def wasserstein_g(*, fake: Tensor) -> Tensor:
    """-E[D(G(z))]; also the generator loss of the hinge GAN."""
    return -fake.mean()


def hinge_d(*, real: Tensor, fake: Tensor) -> Tensor:
    """E[relu(1 - D(x))] + E[relu(1 + D(G(z)))]."""
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


_add("minimax", bce_d, minimax_g, "Goodfellow et al. 2014, the original minimax game (saturating G loss)")
_add("nonsat", bce_d, nonsaturating_g, "Goodfellow et al. 2014, non-saturating G loss -log D(G(z))")
_add("lsgan", least_squares_d, least_squares_g, "Mao et al. 2017, least squares (LSGAN)")
_add("wasserstein", wasserstein_d, wasserstein_g, "Arjovsky et al. 2017, Wasserstein critic (needs clip or GP)")
_add("hinge", hinge_d, wasserstein_g, "Lim & Ye 2017 / Miyato et al. 2018, hinge loss")


def get_loss(name: str) -> AdversarialLoss:
    """The registered adversarial loss ``name`` (ConfigError with nearest names if unknown)."""
    return LOSSES.get(name)
