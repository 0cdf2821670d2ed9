"""Gurumurthy et al. 2017 (DeLiGAN): a learnt Gaussian-mixture latent space for diverse and limited data.

G's input is no longer z ~ N(0, I) but a draw from a mixture of N Gaussians whose means and standard
deviations are learnt with G (the paper's reparametrisation, eq. 3-4)::

    k ~ U{0..N-1},  eps ~ N(0, I),  z = mu_k + sigma_k * eps,  x = G(z)

With few training images, the mixture lets G spend its input space on the regions that matter instead
of stretching one Gaussian over all of them. A regulariser keeps the sigmas from shrinking to zero
(which would turn each component into a single point): sigma_weight * mean (1 - sigma)^2 (Sec. 4; the
mean over components and latent dimensions, as the authors' MNIST code computes it).

The mixture is a small layer in front of G (``GaussianMixtureLatent``), so its parameters are G's:
trained by G's optimiser, saved in G's state, averaged by the EMA copy of G. A latent's ``z`` holds eps
and its ``y`` the component index of each sample; both come from gankit.distributed's noise stream
like the GAN's z, so a resumed run draws the same components.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from gankit import distributed as noise
from gankit.errors import ConfigError
from gankit.objective import Accepts, Objective
from gankit.recipes.base import Latent, LossTerms, check_recipe_args, register_recipe
from gankit.recipes.gan import GAN
from gankit.types import Batch


class GaussianMixtureLatent(nn.Module):
    """DeLiGAN's input layer: G(mu_k + sigma_k * eps) for each sample's component k; ``net`` is the generator."""

    def __init__(self, net: nn.Module, *, components: int, z_dim: int, sigma_init: float) -> None:
        super().__init__()
        self.net = net
        self.mu = nn.Parameter(torch.empty(components, z_dim).uniform_(-1, 1))  # the paper's U(-1, 1)
        self.sigma = nn.Parameter(torch.full((components, z_dim), float(sigma_init)))

    def forward(self, eps: Tensor, component: Tensor | None = None) -> Tensor:
        if component is None:
            raise ValueError("a DeLiGAN generator needs the mixture component of each sample (y)")
        if eps.shape[1:] != self.mu.shape[1:]:
            raise ValueError(f"eps has shape {tuple(eps.shape)}; the mixture's latent is (B, {self.mu.shape[1]})")
        z = self.mu[component] + self.sigma[component] * eps  # (B, Z)
        return self.net(z)


def sigma_penalty(sigma: Tensor) -> Tensor:
    """Gurumurthy et al. 2017, Sec. 4: mean (1 - sigma)^2 over components and dimensions (keeps sigma from 0)."""
    return (1 - sigma).pow(2).mean()


@register_recipe("deligan")
class DeLiGAN(GAN):
    """Gurumurthy et al. 2017, DeLiGAN: G's latent is a learnt mixture of ``components`` Gaussians."""

    paper = "Gurumurthy et al. 2017, DeLiGAN: Generative Adversarial Networks for Diverse and Limited Data"
    standard_normal_z = False  # no truncation trick: z is drawn from the learnt mixture
    accepts = Accepts(terms=frozenset(), why="its y is a mixture component, not a class label")

    def __init__(self, G: nn.Module, D: nn.Module, *, z_dim: int, components: int = 50, sigma_init: float = 0.2,
                 sigma_weight: float = 1 / 3, **gan_kwargs) -> None:
        if not isinstance(components, int) or components < 1:
            raise ConfigError(f"recipe_args.components={components!r}: the number of Gaussians, an int >= 1 "
                              "(the paper uses 50)")
        if not sigma_init > 0:
            raise ConfigError(f"recipe_args.sigma_init={sigma_init!r}: the components' initial standard deviation "
                              "must be > 0 (the paper uses 0.2)")
        if not sigma_weight >= 0:
            raise ConfigError(f"recipe_args.sigma_weight={sigma_weight!r}: the sigma regulariser's weight must be "
                              ">= 0 (0 turns it off)")
        self.n_components, self.sigma_weight = components, float(sigma_weight)  # before the Objective wraps G
        G = GaussianMixtureLatent(G, components=components, z_dim=z_dim, sigma_init=sigma_init)
        super().__init__(G, D, z_dim=z_dim, **gan_kwargs)

    @classmethod
    def from_config(cls, cfg, data) -> "DeLiGAN":  # noqa: ANN001
        check_recipe_args(cfg.recipe_args, ("components", "sigma_init", "sigma_weight"), "deligan")
        if cfg.conditional or cfg.model.label_input:
            raise ConfigError("recipe 'deligan' is unconditional: y holds each sample's mixture component, not a "
                              "class (set conditional=false, model.label_input=null)")
        objective: Objective = cls.objective_for(cfg)
        return cls(*cls.build(cfg, data, objective), **cls.common_args(cfg, data, objective), **cfg.recipe_args)

    def export_form(self):  # noqa: ANN201
        """Exported: eps ``z`` and the mixture component ``y`` of each sample (the mixture itself is inside G)."""
        from gankit.recipes.export_form import noise_form

        return noise_form(self, "mixture component", classes=self.n_components)

    def mixture(self) -> GaussianMixtureLatent:
        """The mixture layer inside G (also when a trick such as virtual batch norm wraps G)."""
        return next(m for m in self.G.modules() if isinstance(m, GaussianMixtureLatent))

    def sample_latent(self, n: int, *, labels: Tensor | None = None, generator: torch.Generator | None = None) -> Latent:
        """eps ~ N(0, I) (B, Z) and a component per sample, uniform over the mixture (``labels`` picks them)."""
        device = next(self.G.parameters()).device
        eps = noise.randn(n, self.z_dim, device=device, generator=generator)
        if labels is None:
            labels = noise.randint(self.n_components, n, device=device, generator=generator)
        return Latent(eps, labels.to(device))

    @staticmethod
    def sides(batch: Batch, latent: Latent) -> dict:
        """D is unconditional: the fakes' component index is no label for it or the terms."""
        return {"y_real": batch.y, "y_fake": None, "z": latent.z}

    def g_step(self, batch: Batch, step: int) -> LossTerms:
        terms = super().g_step(batch, step)
        sigma = self.mixture().sigma
        self.record(sigma_mean=sigma.detach().abs().mean())  # a collapse towards 0 shows here
        if self.sigma_weight > 0:
            terms["sigma"] = self.sigma_weight * sigma_penalty(sigma)
        return terms


__all__ = ["DeLiGAN", "GaussianMixtureLatent", "sigma_penalty"]
