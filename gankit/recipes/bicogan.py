"""Jaiswal et al. 2018 (BiCoGAN, Bidirectional Conditional GANs): BiGAN with a class-conditional G.

G draws x from (z, c); the encoder E maps x back to both (z, c), and D judges joint triples:
(x, E_z(x), softmax E_c(x)) for real data against (G(z, c), z, onehot(c)). The game alone would
make E invert G; the extrinsic factor loss (EFL) ties E's class head to the labels of the real
data, so E_c is a classifier and E_z keeps what the class does not say (stroke, slant). A real
image is edited as with IcGAN, G(E_z(x), c') (``gankit edit``, ``Run.edit``), but here E is
trained through the game together with G rather than after it on G's samples.

The paper tunes EFL's importance weight gamma during training; gankit keeps it a constant,
``recipe_args.efl_weight`` (1 by default).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.nets.encoder import Encoder, Posterior
from gankit.recipes.base import Latent, LossTerms, register_recipe
from gankit.recipes.bigan import BiGAN
from gankit.recipes.encoding import Editing
from gankit.types import Batch


@register_recipe("bicogan")
class BiCoGAN(Editing, BiGAN):
    """D(x, z, c) on (x, E(x)) vs (G(z, c), z, c); G and E train together against it, E_c also on the labels."""

    paper = "Jaiswal et al. 2018, Bidirectional Conditional Generative Adversarial Networks (BiCoGAN)"
    own_args = ("efl_weight",)

    def __init__(self, G: nn.Module, E: Encoder, D: nn.Module, *, efl_weight: float = 1.0,
                 **common) -> None:  # noqa: ANN003
        super().__init__(G, E, D, **common)
        if not efl_weight >= 0:
            raise ConfigError(f"recipe_args.efl_weight={efl_weight!r}: the weight of E's class loss, >= 0")
        self.efl_weight = efl_weight

    @classmethod
    def check_classes(cls, cfg, num_classes: int) -> None:  # noqa: ANN001
        if num_classes < 1 or cfg.model.label_input is not None:
            raise ConfigError("recipe 'bicogan' needs a class-conditional G (conditional=true) and labelled data "
                              "(digits, mnist, a class-folder), with model.label_input=null: D sees the class in "
                              "the code beside the sample")

    def fake_code(self, latent: Latent) -> Tensor:
        return torch.cat([latent.z, F.one_hot(latent.y, self.num_classes).to(latent.z.dtype)], dim=1)

    def real_code(self, posterior: Posterior) -> Tensor:
        z, _ = self.split_code(posterior.sample())
        _, logits = self.split_code(posterior.mean)
        soft = logits.softmax(1)
        hard = F.one_hot(soft.argmax(1), self.num_classes).to(soft.dtype)
        return torch.cat([z, hard + soft - soft.detach()], dim=1)

    def encoder_terms(self, batch: Batch, posterior: Posterior) -> LossTerms:
        _, logits = self.split_code(posterior.mean)
        return {"efl": self.efl_weight * F.cross_entropy(logits, batch.y)}


__all__ = ["BiCoGAN"]
