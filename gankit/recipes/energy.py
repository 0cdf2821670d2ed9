"""Auto-encoder discriminators whose energy is the reconstruction error: EBGAN and BEGAN.

D (gankit.nets.autoencoder) reconstructs each sample; its energy E(x) is the reconstruction error, low on
data. D's score is -E, so the Objective's penalties (critic = -E), DiffAugment and instance noise (on the
inputs D reconstructs) and D's statistics (d_real, d_fake, d_acc) mean what they mean for any discriminator;
the adversarial terms come from a ``Scorer`` built on the pure losses of gankit.losses.energy, not from
``loss=`` (which these recipes do not read).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from gankit import distributed
from gankit.errors import ConfigError
from gankit.losses.energy import (ENERGIES, began_d, began_g, began_k, convergence_measure, ebgan_d, ebgan_g,
                                  pulling_away)
from gankit.nets import ARCHS
from gankit.nets.autoencoder import build_autoencoder
from gankit.objective import Accepts, Scorer
from gankit.recipes.base import LossTerms, check_recipe_args, register_recipe
from gankit.recipes.gan import GAN
from gankit.types import Batch, DOut

ENERGY_ACCEPTS = Accepts(
    tricks=frozenset({"instance_noise", "diffaugment", "feature_matching", "historical_averaging", "virtual_batch_norm",
                      "ttur", "d_steps"}),
    penalties=frozenset({"gp", "r1"}),
    terms=frozenset(),
    why="D is an auto-encoder scored by each sample's reconstruction energy: it has no logit to smooth, no auxiliary "
        "head, no per-pack or batch-statistics score, and clipped weights could not reconstruct",
)


def energy(out: DOut) -> Tensor:
    """The per-sample energy (B,) of an auto-encoder D's output: minus its score."""
    return -out.logit


def score(out: DOut) -> Tensor:
    """The critic value penalties differentiate and the statistics record: -energy."""
    return out.logit


class EnergyGAN(GAN):
    """A GAN whose D is an auto-encoder of model.d_width (gankit.nets.autoencoder) with the energy ``energy_name``;
    subclasses give the ``scorer`` and their recipe_args (``arg_names``) besides the code's length, code_dim
    (null: gankit.nets.autoencoder.default_code_dim, 16 for the 8x8 digits)."""

    accepts = ENERGY_ACCEPTS
    energy_name = "l2"
    arg_names: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, cfg, data) -> "EnergyGAN":  # noqa: ANN001
        args = dict(cfg.recipe_args)
        check_recipe_args(args, ("code_dim",) + cls.arg_names, cfg.recipe)
        if cfg.conditional or cfg.model.label_input is not None:
            raise ConfigError(f"recipe {cfg.recipe!r} is unconditional: its auto-encoder D reads no labels "
                              "(set conditional=false, model.label_input=null)")
        if cfg.model.attention is not None:
            raise ConfigError(f"model.attention={cfg.model.attention}: recipe {cfg.recipe!r}'s auto-encoder D has no "
                              "self-attention block; use model.attention=null")
        objective = cls.objective_for(cfg)
        spec = cls.spec(cfg, data, objective)
        G = ARCHS.get(cfg.model.arch)[0](spec, cfg.model)
        D = build_autoencoder(spec.sample_shape, cfg.model, energy=ENERGIES[cls.energy_name],
                              code_dim=args.pop("code_dim", None))
        return cls(G, objective.wrap_d(D, spec), **cls.common_args(cfg, data, objective), **args)

    def scorer(self) -> Scorer:
        raise NotImplementedError

    def d_step(self, batch: Batch, step: int) -> LossTerms:
        fake, latent = self._fake(batch)
        judged = self.objective.d_loss(self.D, real=batch.x, fake=fake, step=step, scorer=self.scorer(),
                                       **self.sides(batch, latent))
        self.record_d(d_real=judged.real_score, d_fake=judged.fake_score)
        self.after_d(real=-judged.real_score.detach(), fake=-judged.fake_score.detach())
        return judged.terms

    def after_d(self, *, real: Tensor, fake: Tensor) -> None:
        """After D's loss: the energies (B,) of this batch's real and fake samples (BEGAN's controller reads them)."""

    def g_step(self, batch: Batch, step: int) -> LossTerms:
        fake, latent = self._fake(batch)
        judged = self.objective.g_loss(self.D, real=batch.x, fake=fake, step=step, scorer=self.scorer(),
                                       **self.sides(batch, latent))
        return {**judged.terms, **self.g_extra(judged.fake)}

    def g_extra(self, d_fake: DOut) -> LossTerms:
        """G's terms besides the Objective's, from D's output on the fakes (EBGAN's pulling-away term)."""
        return {}


@register_recipe("ebgan")
class EBGAN(EnergyGAN):
    """Zhao et al. 2017, EBGAN: D = ||Dec(Enc(x)) - x||; L_D = D(x) + [m - D(G(z))]^+, L_G = D(G(z)).

    With pt_weight > 0 it is EBGAN-PT: G also pays pt_weight x the pulling-away term (squared cosine similarity
    of the encoder codes of its batch, Section 2.4; 0.1 in the paper), which pushes its samples apart.
    """

    paper = "Zhao et al. 2017, Energy-based Generative Adversarial Network"
    energy_name = "l2"
    arg_names = ("margin", "pt_weight")

    def __init__(self, G: nn.Module, D: nn.Module, *, margin: float = 10.0, pt_weight: float = 0.0,
                 **gan_kwargs) -> None:
        if margin <= 0 or pt_weight < 0:
            raise ConfigError(f"recipe_args: EBGAN needs margin > 0 and pt_weight >= 0, got margin={margin}, "
                              f"pt_weight={pt_weight}")
        self.margin, self.pt_weight = float(margin), float(pt_weight)
        super().__init__(G, D, **gan_kwargs)

    def scorer(self) -> Scorer:
        return Scorer(d=lambda r, f: ebgan_d(real=energy(r), fake=energy(f), margin=self.margin),
                      g=lambda f: ebgan_g(fake=energy(f)), score=score)

    def g_extra(self, d_fake: DOut) -> LossTerms:
        return {"pt": self.pt_weight * pulling_away(d_fake.features)} if self.pt_weight else {}


@register_recipe("began")
class BEGAN(EnergyGAN):
    """Berthelot et al. 2017, BEGAN: L(v) = mean |v - D(v)|; L_D = L(x) - k_t L(G(z)), L_G = L(G(z)).

    k_t (a buffer: checkpoints and resumes exactly) starts at 0 and follows k_{t+1} = clip(k_t + lambda_k
    (gamma L(x) - L(G(z))), 0, 1) after each D update, holding E[L(G(z))] = gamma E[L(x)]: a lower gamma
    asks for fakes the auto-encoder reconstructs better, i.e. less diverse ones. The convergence measure
    M = L(x) + |gamma L(x) - L(G(z))| is logged as D/began_M, k_t (after the update) as D/k.
    """

    paper = "Berthelot et al. 2017, BEGAN: Boundary Equilibrium Generative Adversarial Networks"
    energy_name = "l1"
    arg_names = ("gamma", "lambda_k")

    def __init__(self, G: nn.Module, D: nn.Module, *, gamma: float = 0.5, lambda_k: float = 0.001,
                 **gan_kwargs) -> None:
        if not 0 < gamma <= 1 or lambda_k < 0:
            raise ConfigError(f"recipe_args: BEGAN needs 0 < gamma <= 1 and lambda_k >= 0, got gamma={gamma}, "
                              f"lambda_k={lambda_k}")
        self.gamma, self.lambda_k = float(gamma), float(lambda_k)
        super().__init__(G, D, **gan_kwargs)
        self.register_buffer("k", torch.zeros(()))  # k_0 = 0

    def scorer(self) -> Scorer:
        k = self.k.clone()  # this update's k_t: the buffer moves in place after D's loss is built
        return Scorer(d=lambda r, f: began_d(real=energy(r), fake=energy(f), k=k),
                      g=lambda f: began_g(fake=energy(f)), score=score)

    def after_d(self, *, real: Tensor, fake: Tensor) -> None:
        # the batch means over every rank, so each rank's k_t moves the same way
        real_mean, fake_mean = distributed.all_reduce_mean(torch.stack([real.mean(), fake.mean()]))
        with torch.no_grad():
            self.k.copy_(began_k(self.k, real=real_mean, fake=fake_mean, gamma=self.gamma, lambda_k=self.lambda_k))
        self.record(began_M=convergence_measure(real=real_mean, fake=fake_mean, gamma=self.gamma), k=self.k.clone())


__all__ = ["EBGAN", "BEGAN", "EnergyGAN", "ENERGY_ACCEPTS"]
