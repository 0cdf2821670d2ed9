"""Larsen et al. 2016 (Autoencoding beyond pixels using a learned similarity metric): the VAE-GAN.

A VAE whose decoder is also a GAN's generator, with the reconstruction measured in the discriminator's
feature space instead of on pixels. With E(x) -> q(z|x), x~ = G(z~) for z~ ~ q(z|x), x_p = G(z_p) for
z_p ~ N(0, I) and Dis_l(x) D's penultimate features (DOut.features), the paper's three losses are

    L_prior  = KL(q(z|x) || N(0, I))                                     (Eq. 3's prior term)
    L_llike  = -log N(Dis_l(x) | Dis_l(x~), I) = ||Dis_l(x) - Dis_l(x~)||^2 / 2   (Eq. 6)
    L_GAN    = log D(x) + log(1 - D(x~)) + log(1 - D(x_p))                (Eq. 7)

and each network minimises its own sum (Algorithm 1):

    E:  L_prior + L_llike
    G:  gamma * L_llike - L_GAN   (gamma: recipe_args.gamma, the paper's weight of content against style)
    D:  -L_GAN

The GAN parts come from the run's Objective (``loss=`` applies, and the accepted tricks and penalties):
the reconstructions x~ and the prior samples x_p are both "fake". They go to D as one batch beside the
real batch shown twice, so each fake is paired with a real sample (a gradient penalty interpolates pairs)
and the fake terms of both kinds are averaged; D's loss is not trained on L_llike (the paper: that would
let D map everything to one point). The three phases run on the same real batch, D first.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.losses.variational import gaussian_nll
from gankit.nets.encoder import Encoder
from gankit.objective import Accepts
from gankit.recipes.base import LossTerms, Phase, check_recipe_args, register_recipe
from gankit.recipes.gan import GAN
from gankit.recipes.vae import Variational
from gankit.types import Batch


@dataclass(frozen=True)
class VAEGANArgs:
    """recipe_args of vaegan."""

    gamma: float = 1.0  # weight of L_llike against L_GAN in G's loss (Larsen et al. 2016, Eq. 9)

    @classmethod
    def from_config(cls, args: dict) -> "VAEGANArgs":
        check_recipe_args(args, tuple(cls.__dataclass_fields__), "vaegan")
        out = cls(**args)
        if not isinstance(out.gamma, (int, float)) or isinstance(out.gamma, bool) or out.gamma < 0:
            raise ConfigError(f"recipe_args.gamma={out.gamma!r}: the weight of the feature reconstruction in G's "
                              "loss, a number >= 0 (0: G learns from the GAN alone)")
        return out


@register_recipe("vaegan")
class VAEGAN(Variational, GAN):
    """E -> q(z|x), G decodes codes and prior noise, D judges both and gives the features reconstructions are
    measured in."""

    paper = "Larsen et al. 2016, Autoencoding beyond pixels using a learned similarity metric (VAE-GAN)"
    accepts = Accepts(
        tricks=frozenset({"d_steps", "diffaugment", "feature_matching", "historical_averaging", "instance_noise",
                          "label_smoothing", "ttur", "virtual_batch_norm"}),
        terms=frozenset(),
        why="D's features are the similarity metric: tricks that pack samples or add batch statistics to them would "
            "make a sample's reconstruction error depend on its batch; G is unconditional, so no class terms",
    )

    def __init__(self, G: nn.Module, E: Encoder, D: nn.Module, *, gamma: float = VAEGANArgs.gamma,
                 **common) -> None:  # noqa: ANN003
        super().__init__(G, D, **common)
        self.E, self.gamma = E, gamma

    @classmethod
    def from_config(cls, cfg, data) -> "VAEGAN":  # noqa: ANN001
        args = VAEGANArgs.from_config(dict(cfg.recipe_args))
        objective = cls.objective_for(cfg)  # refuses what is not accepted, naming it
        E = cls.posterior_encoder(cfg, data)
        G, D = cls.build(cfg, data, objective)
        return cls(G, E, D, gamma=args.gamma, **cls.common_args(cfg, data, objective))

    def networks(self) -> dict[str, nn.Module]:
        return {"G": self.G, "E": self.E, "D": self.D}

    def groups(self) -> dict[str, list[str]]:
        return {"G": ["G"], "D": ["D"], "E": ["E"]}  # each network has its own loss (Algorithm 1)

    def phases(self) -> list[Phase]:
        return [Phase("D", self.d_step, trains="D", repeats=self.n_critic, after=self.constrain),
                Phase("G", self.g_step, trains="G", new_batch=False),
                Phase("E", self.e_step, trains="E", new_batch=False)]

    def decoded(self, code: Tensor) -> tuple[Tensor, Tensor]:
        """(reconstructions x~ = G(code) for codes drawn from q(z|x), as many prior samples x_p = G(z_p))."""
        return self.G(code), self.G(self.sample_latent(len(code)).z)

    def feature_nll(self, x: Tensor, recon: Tensor) -> Tensor:
        """L_llike: the Gaussian NLL of D's features of x around those of its reconstruction, batch mean."""
        return gaussian_nll(target=self.D(x).features, mean=self.D(recon).features, std=1.0).mean()

    @staticmethod
    def game(x: Tensor, recon: Tensor, prior: Tensor) -> dict[str, Tensor]:
        """The Objective's real and fake batches: both kinds of fakes in one batch, each paired with a real sample."""
        return {"real": torch.cat([x, x]), "fake": torch.cat([recon, prior])}

    def d_step(self, batch: Batch, step: int) -> LossTerms:
        with torch.no_grad():
            recon, prior = self.decoded(self.E(batch.x).sample())
        judged = self.objective.d_loss(self.D, **self.game(batch.x, recon, prior), step=step)
        self.record_d(d_real=judged.real_score, d_fake=judged.fake_score)
        return judged.terms

    def g_step(self, batch: Batch, step: int) -> LossTerms:
        with torch.no_grad():  # E is not trained here: only its codes are needed
            code = self.E(batch.x).sample()
        recon, prior = self.decoded(code)
        terms = self.objective.g_loss(self.D, **self.game(batch.x, recon, prior), step=step).terms
        return {**terms, "llike": self.gamma * self.feature_nll(batch.x, recon)}

    def e_step(self, batch: Batch, step: int) -> LossTerms:
        posterior = self.E(batch.x)
        recon = self.G(posterior.sample())
        return {"kl": posterior.kl_to_standard_normal().mean(), "llike": self.feature_nll(batch.x, recon)}


__all__ = ["VAEGAN", "VAEGANArgs"]
