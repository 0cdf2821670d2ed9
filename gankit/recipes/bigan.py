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
from gankit.nets.encoder import Encoder, JointDiscriminator, Posterior
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
    projection: bool = True  # BiCoGAN: D also projects the code's class on x's features (no effect without classes)

    @classmethod
    def from_config(cls, args: dict) -> "BiGANArgs":
        check_recipe_args(args, tuple(cls.__dataclass_fields__), "bigan")
        out = cls(**args)
        if not isinstance(out.stochastic, bool):
            raise ConfigError(f"recipe_args.stochastic={out.stochastic!r}: true (ALI) or false (BiGAN)")
        if not isinstance(out.projection, bool):
            raise ConfigError(f"recipe_args.projection={out.projection!r}: true or false")
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
        args = dict(cfg.recipe_args)
        check_recipe_args(args, (*BiGANArgs.__dataclass_fields__, *cls.own_args), cfg.recipe)
        own = {key: args.pop(key) for key in cls.own_args if key in args}  # a subclass's arguments (BiCoGAN's EFL)
        joint = BiGANArgs.from_config(args)
        objective = cls.objective_for(cfg)
        common = cls.common_args(cfg, data, objective)
        cls.check_classes(cfg, common["num_classes"])
        m = cfg.model
        spec = NetSpec(sample_shape=data.sample_shape, z_dim=m.z_dim, g_classes=common["num_classes"])
        G, _ = build_nets(spec, m)
        code = m.z_dim + common["num_classes"]  # the code D sees beside the sample: z, and BiCoGAN's class
        E = Encoder(data.sample_shape, code, width=m.d_width, norm=m.d_norm, stochastic=joint.stochastic)
        D = JointDiscriminator(data.sample_shape, code, width=m.d_width, norm=m.d_norm,
                               spectral=m.d_spectral_norm, dropout=joint.dropout,
                               classes=common["num_classes"] if joint.projection else 0)
        return cls(G, E, objective.wrap_d(D, spec), **common, **own)

    own_args: tuple[str, ...] = ()  # recipe_args a subclass adds to BiGANArgs, passed to its constructor

    @classmethod
    def check_classes(cls, cfg, num_classes: int) -> None:  # noqa: ANN001
        if num_classes or cfg.model.label_input is not None:
            raise ConfigError(f"recipe {cfg.recipe!r} is unconditional: D's second input is the code, not a label; "
                              "set conditional=false and model.label_input=null (bicogan and icgan encode labels too)")

    def networks(self) -> dict[str, nn.Module]:
        return {"G": self.G, "E": self.E, "D": self.D}

    def groups(self) -> dict[str, list[str]]:
        return {"G": ["G", "E"], "D": ["D"]}

    def phases(self) -> list[Phase]:
        return [Phase("D", self.d_step, trains="D", repeats=self.n_critic, after=self.constrain),
                Phase("G", self.g_step, trains="G", new_batch=False)]

    def fake_code(self, latent: Latent) -> Tensor:
        """The code beside a generated sample: the z it came from."""
        return latent.z

    def real_code(self, posterior: Posterior) -> Tensor:
        """The code beside a real sample: E's, drawn from the posterior for ALI."""
        return posterior.sample()

    def encoder_terms(self, batch: Batch, posterior: Posterior) -> LossTerms:
        """Terms E adds to its side of the game beside the adversarial one (none; BiCoGAN's EFL)."""
        return {}

    def d_step(self, batch: Batch, step: int) -> LossTerms:
        latent = self.sample_latent(len(batch))
        with torch.no_grad():
            code = self.real_code(self.E(batch.x))
        judged = self.objective.d_loss(self.D, real=batch.x, fake=self.G(latent.z, latent.y), step=step,
                                       y_real=code, y_fake=self.fake_code(latent))
        self.record_d(d_real=judged.real_score, d_fake=judged.fake_score)
        return judged.terms

    def g_step(self, batch: Batch, step: int) -> LossTerms:
        latent = self.sample_latent(len(batch))
        fake, posterior = self.G(latent.z, latent.y), self.E(batch.x)
        code, z = self.real_code(posterior), self.fake_code(latent)
        g = self.objective.g_loss(self.D, real=batch.x, fake=fake, step=step, y_real=code, y_fake=z)
        e = self.objective.g_loss(flipped(self.D), real=fake, fake=batch.x, step=step, y_real=z, y_fake=code,
                                  suffix="_E")
        return {**g.terms, **e.terms, **self.encoder_terms(batch, posterior)}

    def encode(self, x: Tensor) -> Latent:
        return Latent(self.E(x).mean)


__all__ = ["BiGAN", "BiGANArgs", "flipped"]
