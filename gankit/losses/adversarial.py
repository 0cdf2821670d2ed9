"""Adversarial losses as pure functions of discriminator outputs.

Every loss is a pair: ``d(*, real, fake)`` is minimised by the discriminator and
``g(*, fake)`` by the generator. Inputs are raw scores (logits or critic values) of
shape (B,); outputs are scalars. Keyword-only so that ``real`` and ``fake`` can
never be swapped by position. A *pairing* loss (``pairs=True``, the relativistic
pairing GAN) compares each generated sample's score with a real one's: its ``g`` also
takes ``real``, and both sides hold the same number of samples.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
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
    pairs: bool = False  # g(*, fake, real): each fake score is compared with the real score of the same row


LOSSES: Registry[AdversarialLoss] = Registry("loss")


def _add(name: str, d: Callable[..., Tensor], g: Callable[..., Tensor], paper: str, *, pairs: bool = False) -> None:
    LOSSES.register(name, doc=paper)(AdversarialLoss(name, d, g, paper, pairs))


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


def relativistic_d(*, real: Tensor, fake: Tensor) -> Tensor:
    """Jolicoeur-Martineau 2019 (RpGAN), the loss of R3GAN: -log sigmoid(D(x_i) - D(G(z_i))), row by row."""
    return F.softplus(fake - real).mean()


def relativistic_g(*, fake: Tensor, real: Tensor) -> Tensor:
    """RpGAN's G: -log sigmoid(D(G(z_i)) - D(x_i)); G is pushed until its samples score above the real ones."""
    return F.softplus(real - fake).mean()


_add("minimax", bce_d, minimax_g, "Goodfellow et al. 2014, the original minimax game (saturating G loss)")
_add("nonsat", bce_d, nonsaturating_g, "Goodfellow et al. 2014, non-saturating G loss -log D(G(z))")
_add("lsgan", least_squares_d, least_squares_g, "Mao et al. 2017, least squares (LSGAN)")
_add("wasserstein", wasserstein_d, wasserstein_g, "Arjovsky et al. 2017, Wasserstein critic (needs clip or GP)")
_add("hinge", hinge_d, wasserstein_g, "Lim & Ye 2017 / Miyato et al. 2018, hinge loss")
_add("relativistic", relativistic_d, relativistic_g, "Jolicoeur-Martineau 2019 / Huang et al. 2024 (R3GAN), "
     "relativistic pairing loss (pair it with penalties r1 and r2)", pairs=True)


# --- f-GAN (Nowozin et al. 2016): the variational bound on an f-divergence -------------------------------
# D's raw score v goes through the divergence's output activation t = g_f(v), which keeps t in the domain of
# the Fenchel conjugate f*; D maximises E_P[t(x)] - E_Q[f*(t(G(z)))] (so its loss is the negative), and G
# maximises E_Q[t(G(z))], the paper's practical generator objective (-log D for the original GAN).
@dataclass(frozen=True)
class FDivergence:
    """One row of the paper's Table 2 (f-GAN): output activation ``t(v)`` and ``conjugate_of(v)`` = f*(t(v))."""

    name: str
    title: str
    t: Callable[[Tensor], Tensor]
    conjugate_of: Callable[[Tensor], Tensor]

    def d(self, *, real: Tensor, fake: Tensor) -> Tensor:
        return -self.t(real).mean() + self.conjugate_of(fake).mean()

    def g(self, *, fake: Tensor) -> Tensor:
        return -self.t(fake).mean()


LOG2 = math.log(2.0)
F_DIVERGENCES = [  # f*(t(v)) written in v directly, in the numerically stable form
    FDivergence("f_kl", "Kullback-Leibler", lambda v: v, lambda v: torch.exp(v - 1)),
    FDivergence("f_reverse_kl", "reverse KL", lambda v: -torch.exp(-v), lambda v: v - 1),
    FDivergence("f_pearson", "Pearson chi-squared", lambda v: v, lambda v: 0.25 * v * v + v),
    FDivergence("f_neyman", "Neyman chi-squared", lambda v: 1 - torch.exp(-v), lambda v: 2 - 2 * torch.exp(-0.5 * v)),
    FDivergence("f_hellinger", "squared Hellinger", lambda v: 1 - torch.exp(-v), lambda v: torch.expm1(v)),
    FDivergence("f_js", "Jensen-Shannon", lambda v: LOG2 - F.softplus(-v), lambda v: F.softplus(v) - LOG2),
    FDivergence("f_gan", "the original GAN", lambda v: -F.softplus(-v), F.softplus),
]
for _f in F_DIVERGENCES:
    _add(_f.name, _f.d, _f.g, f"Nowozin et al. 2016, f-GAN with the {_f.title} divergence")


def get_loss(name: str) -> AdversarialLoss:
    """The registered adversarial loss ``name`` (ConfigError with nearest names if unknown)."""
    return LOSSES.get(name)
