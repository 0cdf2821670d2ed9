"""Networks from samples back to codes: encoders (BiGAN/ALI, AAE, VAE, IcGAN) and BiGAN's joint discriminator.

``Encoder(shape, code_dim)`` maps a sample to a code: deterministic (BiGAN) or a diagonal Gaussian
posterior (ALI, VAE), returned as a ``Posterior``. Images go through a DCGAN-style trunk (strided
convolutions halving the size down to 4..7 pixels, LeakyReLU 0.2, no norm on the input layer);
points through an MLP. ``JointDiscriminator`` judges (sample, code) pairs (Donahue et al. 2017).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from gankit import distributed as noise
from gankit.nets.common import image_shape, resolution_plan
from gankit.nn import maybe_sn, norm1d, norm2d
from gankit.types import DOut


@dataclass
class Posterior:
    """An encoder's output for a batch: the mean code (B, Z) and, for a stochastic encoder, its log std (B, Z)."""

    mean: Tensor
    log_std: Tensor | None = None

    def sample(self, generator: torch.Generator | None = None) -> Tensor:
        """A code drawn by the reparameterisation trick (Kingma & Welling 2014); the mean when deterministic."""
        if self.log_std is None:
            return self.mean
        eps = noise.randn(*self.mean.shape, device=self.mean.device, generator=generator)
        return self.mean + self.log_std.exp() * eps

    def kl_to_standard_normal(self) -> Tensor:
        """KL(q(z|x) || N(0, I)) per sample, summed over the code (B,)."""
        assert self.log_std is not None, "a deterministic encoder has no posterior spread"
        return 0.5 * (self.mean.pow(2) + (2 * self.log_std).exp() - 1 - 2 * self.log_std).sum(1)


def trunk(shape: tuple[int, ...], width: int, norm: str | None, *, spectral: bool = False,
          field: str = "model.d_norm") -> tuple[nn.Module, int]:
    """(module mapping a batch of samples to (B, F) features, F): convolutions for images, an MLP for points."""
    if len(shape) == 1:
        layers: list[nn.Module] = []
        fan_in = shape[0]
        for i in range(3):
            layers += [maybe_sn(nn.Linear(fan_in, width), spectral),
                       norm1d(norm, width, field) if i > 0 else nn.Identity(), nn.LeakyReLU(0.2)]
            fan_in = width
        return nn.Sequential(*layers), width
    channels, size = image_shape(shape, "encoder")
    base, n_down = resolution_plan(size, "encoder")
    layers, ch_in, ch = [], channels, width
    for i in range(n_down):
        layers += [maybe_sn(nn.Conv2d(ch_in, ch, 4, 2, 1), spectral),
                   norm2d(norm, ch, field) if i > 0 else nn.Identity(), nn.LeakyReLU(0.2)]
        ch_in, ch = ch, ch * 2
    return nn.Sequential(*layers, nn.Flatten()), ch_in * base**2


class Encoder(nn.Module):
    """sample -> trunk -> Linear -> code (B, code_dim), or the mean and log std of a Gaussian posterior."""

    def __init__(self, shape: tuple[int, ...], code_dim: int, *, width: int, norm: str | None = "batch",
                 stochastic: bool = False, field: str = "model.d_norm") -> None:
        super().__init__()
        self.code_dim, self.stochastic = code_dim, stochastic
        self.trunk, features = trunk(shape, width, norm, field=field)
        self.out = nn.Linear(features, code_dim * (2 if stochastic else 1))

    def forward(self, x: Tensor) -> Posterior:
        h = self.out(self.trunk(x))  # (B, Z) or (B, 2Z)
        if not self.stochastic:
            return Posterior(h)
        mean, log_std = h.chunk(2, dim=1)
        return Posterior(mean, log_std.clamp(-8.0, 4.0))  # bounded: exp() never overflows early in training


class JointDiscriminator(nn.Module):
    """Donahue et al. 2017 / Dumoulin et al. 2017: D(x, z) from a sample trunk and a code MLP, joined by an MLP.

    Called as D(x, z) in the place of D(x, y): the code rides where a conditional D takes labels, so the
    Objective's losses, penalties and input views apply unchanged. Dropout 0.2 in the joint layers (ALI's choice)
    keeps D from memorising the pairs."""

    def __init__(self, shape: tuple[int, ...], code_dim: int, *, width: int, norm: str | None = None,
                 spectral: bool = False, hidden: int = 512, dropout: float = 0.2, classes: int = 0) -> None:
        super().__init__()
        self.classes = classes
        self.x_trunk, x_features = trunk(shape, width, norm, spectral=spectral)
        # the last `classes` entries of a code are a class vector (BiCoGAN): projected on x's features as well
        self.embed = maybe_sn(nn.Linear(classes, x_features, bias=False), spectral) if classes else None
        self.z_trunk = nn.Sequential(maybe_sn(nn.Linear(code_dim, hidden), spectral), nn.LeakyReLU(0.2),
                                     nn.Dropout(dropout))
        self.joint = nn.Sequential(maybe_sn(nn.Linear(x_features + hidden, hidden), spectral), nn.LeakyReLU(0.2),
                                   nn.Dropout(dropout))
        self.head = maybe_sn(nn.Linear(hidden, 1), spectral)

    def forward(self, x: Tensor, z: Tensor | None = None) -> DOut:
        assert z is not None, "a joint discriminator judges (sample, code) pairs: pass the codes"
        fx = self.x_trunk(x)  # (B, F)
        h = self.joint(torch.cat([fx, self.z_trunk(z.flatten(1))], dim=1))  # (B, hidden)
        logit = self.head(h).squeeze(1)
        if self.embed is not None:  # Miyato & Koyama 2018's projection: <embed(c), features(x)>
            logit = logit + (self.embed(z.flatten(1)[:, -self.classes:]) * fx).sum(1)
        return DOut(logit=logit, features=h)


__all__ = ["Posterior", "Encoder", "JointDiscriminator", "trunk"]
