"""Metz et al. 2017, Unrolled GAN: G's update looks k steps of D ahead.

In G's phase a functional copy of D's parameters takes k Adam steps on D's loss, and G
is scored by that look-ahead D. With ``second_order`` the look-ahead stays in the graph,
so G's gradient includes how D would react to it (the paper's point); D's own
parameters and buffers are left exactly as they were (the look-ahead runs on copies).

The look-ahead's Adam starts from the recipe's own running estimates of D's gradient
moments (buffers, saved in checkpoints) and updates both moments at each look-ahead step.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.func import functional_call

from gankit.errors import ConfigError
from gankit.recipes.base import LossTerms, check_recipe_args, register_recipe
from gankit.recipes.gan import GAN
from gankit.types import Batch


@register_recipe("unrolled")
class UnrolledGAN(GAN):
    """Metz et al. 2017, Unrolled GAN: G is scored by D after k look-ahead steps of D."""

    paper = "Metz et al. 2017, Unrolled Generative Adversarial Networks"

    def __init__(self, G: nn.Module, D: nn.Module, *, unroll_steps: int = 5, second_order: bool = True,
                 lr: float = 1e-4, betas: tuple[float, float] = (0.5, 0.999), **gan_kwargs) -> None:
        super().__init__(G, D, **gan_kwargs)
        if unroll_steps < 1:
            raise ConfigError(f"recipe_args.unroll_steps={unroll_steps}: must be >= 1")
        self.unroll_steps, self.second_order = unroll_steps, second_order
        self.lr, self.betas = lr, betas
        size = sum(p.numel() for p in D.parameters())
        self.register_buffer("moment1", torch.zeros(size))
        self.register_buffer("moment2", torch.zeros(size))
        self.register_buffer("moment_steps", torch.zeros((), dtype=torch.long))

    @classmethod
    def from_config(cls, cfg, data) -> "UnrolledGAN":  # noqa: ANN001
        args = dict(cfg.recipe_args)
        check_recipe_args(args, ("unroll_steps", "second_order"), "unrolled")
        d = cfg.optim.settings("D")  # the look-ahead steps like D's own optimiser
        objective = cls.objective_for(cfg)
        return cls(*cls.build(cfg, data, objective), lr=d.lr, betas=d.betas, **cls.common_args(cfg, data, objective),
                   **args)

    def g_step(self, batch: Batch, step: int) -> LossTerms:
        """G is scored by the look-ahead D, with every term and trick of the Objective."""
        fake, latent = self._fake(batch)
        params = self.look_ahead(batch, fake, latent, step)
        look_ahead_d = lambda x, y: self._d_with(params, x, y)  # noqa: E731
        return self.objective.g_loss(look_ahead_d, real=batch.x, fake=fake, step=step, **self.sides(batch, latent)).terms

    def _d_with(self, params: dict[str, Tensor], x: Tensor, y: Tensor | None):  # noqa: ANN202
        """D with the given parameters, on copies of its buffers: D's batch-norm statistics and spectral-norm
        vectors stay as they are, and each call's graph keeps its own copies."""
        buffers = {n: b.clone() for n, b in self.D.named_buffers()}
        return functional_call(self.D, {**params, **buffers}, (x, y))

    def look_ahead(self, batch: Batch, fake: Tensor, latent, step: int) -> dict[str, Tensor]:  # noqa: ANN001
        """D's parameters after ``unroll_steps`` Adam steps on its loss; D's own tensors are never written."""
        names = [n for n, _ in self.D.named_parameters()]
        params = {n: p.detach().requires_grad_(True) for n, p in self.D.named_parameters()}  # theta_D^0: a constant for G
        fake_in = fake if self.second_order else fake.detach()
        moments = (self.moment1, self.moment2, int(self.moment_steps))
        for k in range(self.unroll_steps):
            d_real = self._d_with(params, self.objective.view(batch.x, step), batch.y)
            d_fake = self._d_with(params, self.objective.view(fake_in, step), latent.y)
            loss = self.objective.adv.d(real=d_real.logit, fake=d_fake.logit)
            # the look-ahead steps on D's adversarial loss; parts it does not reach (an AC-GAN class head) stay put
            grads = torch.autograd.grad(loss, [params[n] for n in names], create_graph=self.second_order, allow_unused=True)
            flat = torch.cat([(torch.zeros_like(params[n]) if g is None else g).flatten() for n, g in zip(names, grads)])
            if k == 0:
                self._track_moments(flat.detach())
            update, moments = self._adam_update(flat, moments)
            params = _unflatten_sub(params, names, update)
        return params

    def _track_moments(self, grad: Tensor) -> None:
        """Running Adam moments of D's gradient, updated once per G step."""
        b1, b2 = self.betas
        self.moment1.mul_(b1).add_((1 - b1) * grad)
        self.moment2.mul_(b2).add_((1 - b2) * grad * grad)
        self.moment_steps += 1

    def _adam_update(self, grad: Tensor, moments: tuple[Tensor, Tensor, int]) -> tuple[Tensor, tuple[Tensor, Tensor, int]]:
        """One differentiable Adam step (Kingma & Ba) from ``moments`` = (m, v, t): the update and the new moments.

        Both moments take in the look-ahead gradient, as the paper's unrolled Adam does: with v held fixed, a
        gradient much larger than its running scale would give an unbounded step, and G's second-order
        gradient through it would explode.
        """
        b1, b2 = self.betas
        m, v, t = moments
        m, v, t = b1 * m + (1 - b1) * grad, b2 * v + (1 - b2) * grad * grad, t + 1
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        return self.lr * m_hat / ((v_hat + 1e-16).sqrt() + 1e-8), (m, v, t)


def _unflatten_sub(params: dict[str, Tensor], names: list[str], update: Tensor) -> dict[str, Tensor]:
    """{name: param - its slice of ``update``}."""
    out, start = {}, 0
    for n in names:
        p = params[n]
        out[n] = p - update[start:start + p.numel()].view_as(p)
        start += p.numel()
    return out


__all__ = ["UnrolledGAN"]
