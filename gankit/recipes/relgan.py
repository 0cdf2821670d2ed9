"""RelGAN (Nie et al. 2019): G's samples relaxed by the Gumbel-softmax so D's gradient reaches G directly, with an
inverse temperature that grows during training, a relativistic loss and a discriminator with several embedded
representations of its input.

G here is the LSTM variant the paper also reports (its relational memory is not built). The schedule: ``mle_share``
of train.steps of maximum likelihood (phase G_mle), then each step ``d_steps`` updates of D and one of G (phase G).
beta, the inverse temperature, rises from 1 to ``beta_max`` over the adversarial steps: "exp" beta_max ** (i / N),
"linear" 1 + (beta_max - 1) i / N (the paper's schedules; i counts adversarial steps, N their number).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit import distributed as noise
from gankit.data.text import Vocabulary
from gankit.errors import ConfigError
from gankit.nets.text import RELGAN_FILTERS, TextDiscriminator, TextGenerator, filters
from gankit.objective import Objective
from gankit.recipes.base import LossTerms, register_recipe
from gankit.recipes.seqgan import AdversarialText
from gankit.recipes.text import share_steps, typed_args
from gankit.types import Batch

SCHEDULES = ("exp", "linear")


@dataclass(frozen=True)
class RelGANArgs:
    """recipe_args of relgan."""

    mle_share: float = 0.5  # share of train.steps pre-training G by maximum likelihood
    beta_max: float = 100.0  # the final inverse temperature of the Gumbel-softmax (the paper: 100 or 1000)
    schedule: str = "exp"  # exp | linear: how beta rises from 1 to beta_max over the adversarial steps
    representations: int = 64  # D's embedded representations (the paper: 64)
    d_steps: int = 5  # D updates per G update

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"recipe_args.schedule={self.schedule!r}: one of {', '.join(SCHEDULES)}")
        if not self.beta_max >= 1:
            raise ConfigError(f"recipe_args.beta_max={self.beta_max!r}: an inverse temperature >= 1")
        if not isinstance(self.representations, int) or self.representations < 1:
            raise ConfigError(f"recipe_args.representations={self.representations!r}: an int >= 1 (the paper: 64)")

    def beta(self, done: int, total: int) -> float:
        """The inverse temperature after ``done`` of ``total`` adversarial steps."""
        share = min(1.0, done / max(total, 1))
        if self.schedule == "exp":
            return self.beta_max ** share
        return 1.0 + (self.beta_max - 1.0) * share


@register_recipe("relgan")
class RelGAN(AdversarialText):
    """Nie et al. 2019: D sees G's Gumbel-softmax rows (B, T, V) and real one-hot rows; the loss (preset:
    relativistic) back-propagates into G through the relaxation."""

    paper = "Nie et al. 2019, RelGAN: Relational Generative Adversarial Networks for Text Generation"

    def __init__(self, G: TextGenerator, D: nn.Module, vocab: Vocabulary, objective: Objective, args: RelGANArgs,
                 steps: int) -> None:
        mle = share_steps(args.mle_share, steps, "mle_share")
        super().__init__(G, D, vocab, objective, mle_steps=mle, d_pretrain_steps=0, d_steps=args.d_steps)
        self.args, self.adversarial_steps = args, steps - mle

    @classmethod
    def from_config(cls, cfg, data) -> "RelGAN":  # noqa: ANN001
        args = typed_args(RelGANArgs, cfg)
        G = cls.generator(cfg, data)
        D = TextDiscriminator(G.vocab, filters(RELGAN_FILTERS, G.length, cfg.model.d_width),
                              embed_dim=cfg.model.embed_dim, representations=args.representations)
        return cls(G, D, Vocabulary(data.tokens), cls.objective_for(cfg), args, cfg.train.steps)

    def d_repeats(self, step: int) -> int:
        return 0 if step < self.adv_start else self.d_steps

    def beta(self, step: int) -> float:
        return self.args.beta(step - self.adv_start, self.adversarial_steps)

    def relaxed(self, n: int, step: int) -> Tensor:
        """n of G's Gumbel-softmax samples (n, T, V) at the inverse temperature of ``step``."""
        u = noise.rand(n, self.G.length, self.G.vocab, device=self.G.out.weight.device)
        gumbel = -torch.log(-torch.log(u.clamp(1e-10, 1.0 - 1e-7)))
        return self.G.relaxed(gumbel, self.beta(step))

    def one_hot(self, tokens: Tensor) -> Tensor:
        return F.one_hot(tokens, self.G.vocab).float()

    def d_step(self, batch: Batch, step: int) -> LossTerms:
        with torch.no_grad():
            fake = self.relaxed(len(batch), step)
        judged = self.objective.d_loss(self.D, real=self.one_hot(batch.x), fake=fake, step=step)
        self.record_d(d_real=judged.real_score, d_fake=judged.fake_score)
        return judged.terms

    def g_step(self, batch: Batch, step: int) -> LossTerms:
        self.record(log_beta=math.log(self.beta(step)))
        fake = self.relaxed(len(batch), step)
        return self.objective.g_loss(self.D, real=self.one_hot(batch.x), fake=fake, step=step).terms


__all__ = ["RelGAN", "RelGANArgs"]
