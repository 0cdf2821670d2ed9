"""Isola et al. 2017 (pix2pix): a conditional GAN on (input, output) pairs plus an L1 term."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from gankit.losses.auxiliary import l1_loss
from gankit.objective import Objective
from gankit.recipes.base import LossTerms, Phase, register_recipe
from gankit.recipes.translation import Translation, recipe_args, translation_data
from gankit.types import Batch

DEFAULTS = {"l1_weight": 100.0, "adv_weight": 1.0, "n_layers": 3, "dropout": 0.5, "test_dropout": True}


@register_recipe("pix2pix")
class Pix2Pix(Translation):
    """Isola et al. 2017: U-Net G(a), PatchGAN D on the pair (a, b), adversarial loss + 100 x L1.

    G's only noise is its dropout, which stays on when sampling and evaluating (``test_dropout``), as in the paper."""

    paper = "Isola et al. 2017, Image-to-Image Translation with Conditional Adversarial Networks"
    has_targets = True

    def __init__(self, G: nn.Module, D: nn.Module, *, input_shape: tuple[int, ...], objective: Objective | None = None,
                 l1_weight: float = 100.0, adv_weight: float = 1.0, test_dropout: bool = True) -> None:
        super().__init__()
        self.test_dropout = test_dropout
        self.G, self.D, self.input_shape = G, D, tuple(input_shape)
        self.l1_weight, self.adv_weight = l1_weight, adv_weight  # adv_weight 0: the paper's L1-only ablation
        self.use_objective(objective or Objective())

    @classmethod
    def from_config(cls, cfg, data) -> "Pix2Pix":  # noqa: ANN001
        from gankit.nets.translation import PatchDiscriminator, UNetGenerator

        args = recipe_args(cfg, DEFAULTS, "pix2pix")
        source, target = translation_data(data, "pix2pix", "paired")
        m = cfg.model
        G = UNetGenerator(source[0], target[0], target[-1], width=m.g_width, norm=m.g_norm, dropout=args["dropout"])
        D = PatchDiscriminator(source[0] + target[0], width=m.d_width, n_layers=args["n_layers"], norm=m.d_norm,
                               spectral=m.d_spectral_norm)
        return cls(G, D, input_shape=source, objective=cls.objective_for(cfg), l1_weight=args["l1_weight"],
                   adv_weight=args["adv_weight"], test_dropout=args["test_dropout"])

    def phases(self) -> list[Phase]:
        return [Phase("D", self.d_step, trains="D", after=self.constrain), Phase("G", self.g_step, trains="G", new_batch=False)]

    def d_step(self, batch: Batch, step: int) -> LossTerms:
        """D sees the input and an output together (the conditional GAN of the paper); views, penalties and tricks
        act on the pair. The paper halves D's objective "to slow down the rate at which D learns relative to G"."""
        fake = self.G(batch.a)
        judged = self.objective.d_loss(self.D, real=pair(batch.a, batch.x), fake=pair(batch.a, fake), step=step,
                                       adv_weight=0.5)
        self.record_d(d_real=judged.real_score, d_fake=judged.fake_score)
        return judged.terms

    def g_step(self, batch: Batch, step: int) -> LossTerms:
        fake = self.G(batch.a)
        out = {"l1": self.l1_weight * l1_loss(output=fake, target=batch.x)}
        if self.adv_weight:
            out.update(self.objective.g_loss(self.D, real=pair(batch.a, batch.x), fake=pair(batch.a, fake), step=step,
                                             adv_weight=self.adv_weight).terms)
        return out


def pair(a: Tensor, b: Tensor) -> Tensor:
    """An input and an output side by side in channels: what pix2pix's D judges. (B, Ca + Cb, H, W)"""
    return torch.cat([a, b], dim=1)
