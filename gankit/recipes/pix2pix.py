"""Isola et al. 2017 (pix2pix): a conditional GAN on (input, output) pairs plus an L1 term."""
from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from gankit.losses import PENALTIES, Penalty, get_loss
from gankit.losses.auxiliary import l1_loss
from gankit.recipes.base import LossTerms, Phase, register_recipe
from gankit.recipes.gan import build_items, named_terms
from gankit.recipes.translation import Translation, recipe_args, translation_data
from gankit.types import Batch

DEFAULTS = {"l1_weight": 100.0, "adv_weight": 1.0, "n_layers": 3, "dropout": 0.5, "test_dropout": True}


@register_recipe("pix2pix")
class Pix2Pix(Translation):
    """Isola et al. 2017: U-Net G(a), PatchGAN D on the pair (a, b), adversarial loss + 100 x L1.

    G's only noise is its dropout, which stays on when sampling and evaluating (``test_dropout``), as in the paper."""

    paper = "Isola et al. 2017, Image-to-Image Translation with Conditional Adversarial Networks"
    has_targets = True

    def __init__(self, G: nn.Module, D: nn.Module, *, input_shape: tuple[int, ...], loss: str = "nonsat",
                 l1_weight: float = 100.0, adv_weight: float = 1.0, penalties: Mapping[str, Penalty] | None = None,
                 test_dropout: bool = True) -> None:
        super().__init__()
        self.test_dropout = test_dropout
        self.G, self.D, self.input_shape = G, D, tuple(input_shape)
        self.loss_name, self.adv = loss, get_loss(loss)
        self.l1_weight, self.adv_weight = l1_weight, adv_weight  # adv_weight 0: the paper's L1-only ablation
        self.penalties = dict(penalties or {})

    @classmethod
    def from_config(cls, cfg, data) -> "Pix2Pix":  # noqa: ANN001
        from gankit.nets.translation import PatchDiscriminator, UNetGenerator

        args = recipe_args(cfg, DEFAULTS, "pix2pix")
        source, target = translation_data(data, "pix2pix", "paired")
        m = cfg.model
        G = UNetGenerator(source[0], target[0], target[-1], width=m.g_width, norm=m.g_norm, dropout=args["dropout"])
        D = PatchDiscriminator(source[0] + target[0], width=m.d_width, n_layers=args["n_layers"], norm=m.d_norm,
                               spectral=m.d_spectral_norm)
        return cls(G, D, input_shape=source, loss=cfg.loss, l1_weight=args["l1_weight"], adv_weight=args["adv_weight"],
                   penalties=build_items(PENALTIES, cfg.penalties, "penalties"), test_dropout=args["test_dropout"])

    def phases(self) -> list[Phase]:
        return [Phase("D", self.d_step, trains="D", after=self.constrain), Phase("G", self.g_step, trains="G", new_batch=False)]

    def judge(self, a: Tensor, b: Tensor):  # noqa: ANN201
        """D sees the input and an output together: the conditional GAN of the paper."""
        return self.D(torch.cat([a, b], dim=1))  # (B, Ca + Cb, H, W) -> DOut with a (B, H', W') logit map

    def d_step(self, batch: Batch, step: int) -> LossTerms:
        fake = self.G(batch.a).detach()
        real_out, fake_out = self.judge(batch.a, batch.x), self.judge(batch.a, fake)
        self.record_d(d_real=real_out.logit, d_fake=fake_out.logit)
        # the paper halves D's objective "to slow down the rate at which D learns relative to G"
        out = {"adv": 0.5 * self.adv.d(real=real_out.logit, fake=fake_out.logit)}
        critic = lambda pair: self.D(pair).logit  # noqa: E731
        real_pair, fake_pair = torch.cat([batch.a, batch.x], 1), torch.cat([batch.a, fake], 1)
        out.update(named_terms(self.penalties, lambda p: p.loss(critic=critic, real=real_pair, fake=fake_pair, step=step)))
        return out

    def g_step(self, batch: Batch, step: int) -> LossTerms:
        fake = self.G(batch.a)
        out = {"l1": self.l1_weight * l1_loss(output=fake, target=batch.x)}
        if self.adv_weight:
            out["adv"] = self.adv_weight * self.adv.g(fake=self.judge(batch.a, fake).logit)
        return out
