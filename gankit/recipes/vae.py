"""Kingma & Welling 2014 (Auto-Encoding Variational Bayes): the variational auto-encoder, gankit's non-adversarial
baseline of the encoder family.

An encoder E gives a Gaussian posterior q(z|x) = N(mu(x), sigma(x)^2); a code drawn from it by the
reparameterisation trick goes through the decoder G (built as the generic GAN builds its generator), and
one optimiser trains E and G together on the negative evidence lower bound, per sample:

    -ELBO(x) = ||x - G(z)||^2 / (2 pixel_std^2)  +  KL(q(z|x) || N(0, I)),   z ~ q(z|x)

The likelihood is a Gaussian of fixed std ``pixel_std`` on the pixels (images in [-1, 1]), the usual choice
for tanh outputs; a smaller std weights the reconstruction more against the prior (sharper samples, a
posterior further from N(0, I)). New samples are G(z), z ~ N(0, I).

There is no discriminator: the run's ``loss`` is not read, and tricks, penalties and auxiliary terms are
refused (they act on a discriminator). The ``G`` parameter group (optim.groups.G) holds both E and G.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from gankit import distributed as noise
from gankit.errors import ConfigError
from gankit.losses.variational import gaussian_nll
from gankit.nets import NetSpec, build_nets
from gankit.nets.encoder import Encoder
from gankit.objective import Accepts, Objective
from gankit.recipes.base import Latent, LossTerms, Phase, Recipe, check_recipe_args, register_recipe
from gankit.recipes.encoding import Encoding
from gankit.types import Batch


@dataclass(frozen=True)
class VAEArgs:
    """recipe_args of vae."""

    pixel_std: float = 0.4  # std of the Gaussian likelihood on pixels in [-1, 1] (domain FID at 1,000 steps on the
    # digits, seed 0, 500 samples: 95.7, 74.6, 70.8, 73.6, 95.5 for std 0.1, 0.2, 0.4, 0.6, 0.8)

    @classmethod
    def from_config(cls, args: dict) -> "VAEArgs":
        check_recipe_args(args, tuple(cls.__dataclass_fields__), "vae")
        out = cls(**args)
        if not isinstance(out.pixel_std, (int, float)) or isinstance(out.pixel_std, bool) or out.pixel_std <= 0:
            raise ConfigError(f"recipe_args.pixel_std={out.pixel_std!r}: the likelihood's std, a number > 0 "
                              "(e.g. 0.2 for images in [-1, 1])")
        return out


class Variational(Encoding):
    """The encoder family's Gaussian-posterior members (VAE, VAE-GAN): E(x) -> q(z|x), whose codes are G's noise."""

    E: Encoder

    @staticmethod
    def posterior_encoder(cfg, data) -> Encoder:  # noqa: ANN001  (Config, DataInfo)
        """E for the data's samples: the encoder trunk at model.d_width with model.d_norm, a Gaussian posterior over
        model.z_dim codes. Refuses a conditional config (these recipes' G takes the code alone)."""
        if cfg.conditional or cfg.model.label_input is not None:
            raise ConfigError(f"recipe {cfg.recipe!r} is unconditional: G decodes the code alone; set "
                              "conditional=false and model.label_input=null (IcGAN encodes labels too)")
        m = cfg.model
        return Encoder(data.sample_shape, m.z_dim, width=m.d_width, norm=m.d_norm, stochastic=True)

    def encode(self, x: Tensor) -> Latent:
        return Latent(self.E(x).mean)


NOT_ADVERSARIAL = Accepts(tricks=frozenset(), penalties=frozenset(), terms=frozenset(),
                          why="the VAE has no discriminator: its loss is the evidence lower bound")


@register_recipe("vae")
class VAE(Variational, Recipe):
    """E(x) -> q(z|x), G(z) -> x; E and G minimise the negative ELBO with a Gaussian likelihood of std pixel_std."""

    paper = "Kingma & Welling 2014, Auto-Encoding Variational Bayes"
    accepts = NOT_ADVERSARIAL

    def __init__(self, G: nn.Module, E: Encoder, *, z_dim: int, objective: Objective | None = None,
                 pixel_std: float = VAEArgs.pixel_std) -> None:
        super().__init__()
        self.G, self.E = G, E
        self.z_dim, self.pixel_std = z_dim, pixel_std
        self.use_objective(objective or Objective())  # refuses every item; kept so a VAE runs where any recipe runs

    @classmethod
    def from_config(cls, cfg, data) -> "VAE":  # noqa: ANN001
        args = VAEArgs.from_config(dict(cfg.recipe_args))
        objective = cls.objective_for(cfg)  # refuses tricks, penalties and terms, naming them
        E = cls.posterior_encoder(cfg, data)
        G, _ = build_nets(NetSpec(sample_shape=data.sample_shape, z_dim=cfg.model.z_dim), cfg.model)
        return cls(G, E, z_dim=cfg.model.z_dim, objective=objective, pixel_std=args.pixel_std)

    def networks(self) -> dict[str, nn.Module]:
        return {"G": self.G, "E": self.E}

    def groups(self) -> dict[str, list[str]]:
        return {"G": ["G", "E"]}  # one loss, one optimiser

    def discriminators(self) -> list[nn.Module]:
        return []

    def phases(self) -> list[Phase]:
        return [Phase("G", self.elbo_step, trains="G")]

    def sample_latent(self, n: int, *, labels: Tensor | None = None, generator: torch.Generator | None = None) -> Latent:
        if labels is not None:
            raise ValueError("the VAE is unconditional: it takes no labels")
        return Latent(noise.randn(n, self.z_dim, device=next(self.G.parameters()).device, generator=generator))

    def elbo_step(self, batch: Batch, step: int) -> LossTerms:
        """The negative ELBO, averaged over the batch: the reconstruction's NLL and the KL to the prior."""
        posterior = self.E(batch.x)  # (B, Z) mean and log std
        recon = self.G(posterior.sample())  # (B, *sample_shape)
        return {"recon": gaussian_nll(target=batch.x, mean=recon, std=self.pixel_std).mean(),
                "kl": posterior.kl_to_standard_normal().mean()}


__all__ = ["VAE", "VAEArgs", "Variational", "NOT_ADVERSARIAL"]
