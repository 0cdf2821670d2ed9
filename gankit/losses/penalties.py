"""Discriminator regularisers: small objects with a weight, applied in the D phase.

A penalty sees the critic as a function ``critic(x) -> (B,)`` so it can take
gradients with respect to the input. ``constrain`` runs after each optimiser step
of D (weight clipping lives there).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from gankit import distributed as noise
from gankit.registry import Registry

Critic = Callable[[Tensor], Tensor]
PENALTIES: Registry[type["Penalty"]] = Registry("penalty")


class Penalty:
    """Base: ``loss`` returns a weighted scalar (or None when this step skips it)."""

    weight: float = 1.0
    every: int = 1
    differentiates_twice = False  # its loss holds a gradient of D (torch.compile cannot back-propagate through it)

    def loss(self, *, critic: Critic, real: Tensor, fake: Tensor, step: int) -> Tensor | None:
        """``critic`` scores inputs with the real batch's labels (a ``LabelledCritic`` also with the generated
        batch's: ``critic.for_fake``)."""
        return None

    def constrain(self, D: nn.Module) -> None:
        """Called after each D optimiser step."""

    def _active(self, step: int) -> bool:
        return step % self.every == 0


@dataclass
class LabelledCritic:
    """A conditional D as a critic: called, it scores inputs with the real batch's labels; ``for_fake`` with the
    generated batch's (R2 differentiates D at the generated samples, each with its own label). ``real_score``:
    D's score of the real batch itself, already computed for the loss (the drift penalty reads it)."""

    for_real: Critic
    for_fake: Critic
    real_score: Tensor | None = None

    def __call__(self, x: Tensor) -> Tensor:
        return self.for_real(x)


def input_gradient(critic: Critic, x: Tensor) -> Tensor:
    """d sum(critic(x)) / dx, kept in the graph so the penalty can be back-propagated. (B, ...)"""
    x = x.detach().requires_grad_(True)
    out = critic(x)
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return grad


@PENALTIES.register("gp")
@dataclass
class GradientPenalty(Penalty):
    """Gulrajani et al. 2017 (WGAN-GP): weight * (||grad D(x_hat)|| - target)^2 on random interpolates."""

    differentiates_twice = True

    weight: float = 10.0
    target: float = 1.0
    every: int = 1

    def loss(self, *, critic: Critic, real: Tensor, fake: Tensor, step: int) -> Tensor | None:
        if not self._active(step):
            return None
        alpha = noise.batch_rand(real.shape[0], *(1,) * (real.dim() - 1), device=real.device, dtype=real.dtype)
        x_hat = alpha * real.detach() + (1 - alpha) * fake.detach()
        return self.weight * self.every * gradient_penalty_at(critic, x_hat, target=self.target)


def gradient_penalty_at(critic: Critic, x: Tensor, *, target: float = 1.0) -> Tensor:
    """Mean over the batch of (||grad critic(x)||_2 - target)^2."""
    grad = input_gradient(critic, x).flatten(1)
    return ((grad.norm(2, dim=1) - target) ** 2).mean()


@PENALTIES.register("r1")
@dataclass
class R1(Penalty):
    """Mescheder et al. 2018: weight/2 * E||grad D(x)||^2 on real data (every>1: lazy, as StyleGAN2)."""

    differentiates_twice = True

    weight: float = 10.0
    every: int = 1

    def loss(self, *, critic: Critic, real: Tensor, fake: Tensor, step: int) -> Tensor | None:
        if not self._active(step):
            return None
        if self.on_fake:  # with the generated samples' labels where the critic has them
            grad = input_gradient(getattr(critic, "for_fake", critic), fake).flatten(1)
        else:
            grad = input_gradient(critic, real).flatten(1)
        return 0.5 * self.weight * self.every * grad.pow(2).sum(dim=1).mean()

    on_fake = False  # R2: the same penalty on the generated samples


@PENALTIES.register("r2")
@dataclass
class R2(R1):
    """Mescheder et al. 2018; Huang et al. 2024 (R3GAN): weight/2 * E||grad D(G(z))||^2 on generated samples
    (with their labels, for a conditional D). With r1, the zero-centred penalties on both sides under which the
    relativistic pairing loss converges locally."""

    on_fake = True


@PENALTIES.register("drift")
@dataclass
class Drift(Penalty):
    """Karras et al. 2018 (ProGAN): weight * E[D(x)^2] on real data, so a Wasserstein critic's output does not
    drift far from zero (the paper's epsilon_drift = 0.001)."""

    weight: float = 0.001
    every: int = 1

    def loss(self, *, critic: Critic, real: Tensor, fake: Tensor, step: int) -> Tensor | None:
        if not self._active(step):
            return None
        score = getattr(critic, "real_score", None)
        score = critic(real) if score is None else score
        return self.weight * self.every * score.float().pow(2).mean()


@PENALTIES.register("clip")
@dataclass
class WeightClip(Penalty):
    """Arjovsky et al. 2017 (WGAN): clamp every D parameter to [-clip, clip] after each step."""

    clip: float = 0.01

    @torch.no_grad()
    def constrain(self, D: nn.Module) -> None:
        for p in D.parameters():
            p.clamp_(-self.clip, self.clip)
