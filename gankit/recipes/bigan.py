"""Donahue et al. 2017 (BiGAN) and Dumoulin et al. 2017 (ALI): adversarial feature learning.

An encoder E learns the inverse of G through the game alone: D judges joint pairs, (x, E(x)) for
real data against (G(z), z). At the optimum E = G^-1, so E(x) is a feature of x (a linear probe on it
classifies digits) and G(E(x)) reconstructs x. G and E train together in one phase, each against D
with its own side of the game: G wants (G(z), z) judged real, E wants (x, E(x)) judged fake, i.e. the
Objective's G loss against D with its score negated.

ALI's stochastic encoder (recipe_args.stochastic=true): E gives a Gaussian posterior, and the pair
holds a code drawn from it by the reparameterisation trick.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.nets import NetSpec, build_nets
from gankit.nets.encoder import Encoder, JointDiscriminator
from gankit.objective import Accepts
from gankit.recipes.base import Latent, LossTerms, Phase, check_recipe_args, register_recipe
from gankit.recipes.encoding import Encoding
from gankit.recipes.gan import GAN
from gankit.types import Batch, DOut


@dataclass(frozen=True)
class BiGANArgs:
    """recipe_args of bigan / ali."""

    stochastic: bool = False  # ALI: E outputs a Gaussian posterior and the pairs hold codes drawn from it
    dropout: float = 0.2  # dropout in D's joint layers (ALI's choice against memorising pairs)

    @classmethod
    def from_config(cls, args: dict) -> "BiGANArgs":
        check_recipe_args(args, tuple(cls.__dataclass_fields__), "bigan")
        out = cls(**args)
        if not isinstance(out.stochastic, bool):
            raise ConfigError(f"recipe_args.stochastic={out.stochastic!r}: true (ALI) or false (BiGAN)")
        if not 0 <= out.dropout < 1:
            raise ConfigError(f"recipe_args.dropout={out.dropout!r}: a probability in [0, 1)")
        return out


def flipped(D: nn.Module):  # noqa: ANN201  (a Judge)
    """D with its score negated: E's side of the game asks the Objective for G's loss against this judge,
    so E pushes D(x, E(x)) towards "fake" with whatever adversarial loss the run uses."""
    def judge(x: Tensor, code: Tensor | None) -> DOut:
        out = D(x, code)
        return DOut(logit=-out.logit, features=out.features, aux=out.aux)
    return judge


@register_recipe("bigan")
class BiGAN(Encoding, GAN):
    """D(x, z) on (x, E(x)) vs (G(z), z); G and E train together against it."""

    paper = "Donahue et al. 2017, Adversarial Feature Learning (BiGAN); Dumoulin et al. 2017, ALI"
    accepts = Accepts(
        tricks=frozenset({"d_steps", "diffaugment", "feature_matching", "historical_averaging", "instance_noise",
                          "label_smoothing", "ttur"}),
        terms=frozenset(),
        why="D judges (sample, code) pairs: the code takes the place of labels, and tricks that add batch features "
            "or pack samples would mix the pairs",
    )

    def __init__(self, G: nn.Module, E: Encoder, D: nn.Module, **common) -> None:  # noqa: ANN003
        super().__init__(G, D, **common)
        self.E = E

    @classmethod
    def from_config(cls, cfg, data) -> "BiGAN":  # noqa: ANN001
        args = BiGANArgs.from_config(dict(cfg.recipe_args))
        if cfg.conditional or cfg.model.label_input is not None:
            raise ConfigError(f"recipe {cfg.recipe!r} is unconditional: D's second input is the code, not a label; "
                              "set conditional=false and model.label_input=null (IcGAN encodes labels too)")
        objective = cls.objective_for(cfg)
        spec = NetSpec(sample_shape=data.sample_shape, z_dim=cfg.model.z_dim)
        G, _ = build_nets(spec, cfg.model)
        m = cfg.model
        E = Encoder(data.sample_shape, m.z_dim, width=m.d_width, norm=m.d_norm, stochastic=args.stochastic)
        D = JointDiscriminator(data.sample_shape, m.z_dim, width=m.d_width, norm=m.d_norm,
                               spectral=m.d_spectral_norm, dropout=args.dropout)
        return cls(G, E, objective.wrap_d(D, spec), **cls.common_args(cfg, data, objective))

    def networks(self) -> dict[str, nn.Module]:
        return {"G": self.G, "E": self.E, "D": self.D}

    def groups(self) -> dict[str, list[str]]:
        return {"G": ["G", "E"], "D": ["D"]}

    def phases(self) -> list[Phase]:
        return [Phase("D", self.d_step, trains="D", repeats=self.n_critic, after=self.constrain),
                Phase("G", self.g_step, trains="G", new_batch=False)]

    def d_step(self, batch: Batch, step: int) -> LossTerms:
        z = self.sample_latent(len(batch)).z
        with torch.no_grad():
            code = self.E(batch.x).sample()
        judged = self.objective.d_loss(self.D, real=batch.x, fake=self.G(z), step=step, y_real=code, y_fake=z)
        self.record_d(d_real=judged.real_score, d_fake=judged.fake_score)
        return judged.terms

    def g_step(self, batch: Batch, step: int) -> LossTerms:
        z = self.sample_latent(len(batch)).z
        fake, code = self.G(z), self.E(batch.x).sample()
        g = self.objective.g_loss(self.D, real=batch.x, fake=fake, step=step, y_real=code, y_fake=z)
        e = self.objective.g_loss(flipped(self.D), real=fake, fake=batch.x, step=step, y_real=z, y_fake=code,
                                  suffix="_E")
        return {**g.terms, **e.terms}

    def encode(self, x: Tensor) -> Latent:
        return Latent(self.E(x).mean)


__all__ = ["BiGAN", "BiGANArgs", "flipped"]
