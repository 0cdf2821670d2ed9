"""Perarnau et al. 2016 (IcGAN, Invertible Conditional GANs): encoders from an image to the (z, y) of a conditional G.

A conditional GAN (any of gankit's: cGAN's label input, AC-GAN's classification term) trains as the
generic recipe does; beside it an encoder E with two heads learns, in a phase of its own:

- E_z: x -> z, on G's samples, whose z is known: || E_z(G(z, y)) - z ||^2;
- E_y: x -> y, on the real labelled images: cross-entropy with their labels.

A real image is then edited by encoding it and decoding with another class: G(E_z(x), y') keeps the
image's style (stroke, slant) and takes class y' (``Run.edit``, ``gankit edit``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.nets.encoder import Encoder
from gankit.recipes.base import LossTerms, Phase, check_recipe_args, register_recipe
from gankit.recipes.encoding import Editing
from gankit.recipes.gan import GAN
from gankit.types import Batch


@register_recipe("icgan")
class IcGAN(Editing, GAN):
    """A conditional GAN and an encoder x -> (z, y) trained beside it, so real images can be edited."""

    paper = "Perarnau et al. 2016, Invertible Conditional GANs for image editing (IcGAN)"

    def __init__(self, G: nn.Module, D: nn.Module, E: Encoder, *, class_weight: float = 1.0,
                 **common) -> None:  # noqa: ANN003
        super().__init__(G, D, **common)
        self.E, self.class_weight = E, class_weight

    @classmethod
    def from_config(cls, cfg, data) -> "IcGAN":  # noqa: ANN001
        args = dict(cfg.recipe_args)
        check_recipe_args(args, ("class_weight",), "icgan")
        objective = cls.objective_for(cfg)
        common = cls.common_args(cfg, data, objective)
        if common["num_classes"] < 1:
            raise ConfigError("recipe 'icgan' edits the class of images: it needs a conditional G (conditional=true "
                              "or terms=[classification]) and labelled data (digits, mnist, a class-folder)")
        E = Encoder(data.sample_shape, cfg.model.z_dim + common["num_classes"], width=cfg.model.d_width,
                    norm=cfg.model.d_norm)
        return cls(*cls.build(cfg, data, objective), E, **common, **args)

    def networks(self) -> dict[str, nn.Module]:
        return {"G": self.G, "D": self.D, "E": self.E}

    def groups(self) -> dict[str, list[str]]:
        return {"G": ["G"], "D": ["D"], "E": ["E"]}

    def phases(self) -> list[Phase]:
        return [*super().phases(), Phase("E", self.e_step, trains="E", new_batch=False)]

    def _heads(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """E's two heads: (z (B, Z), class logits (B, K))."""
        return self.split_code(self.E(x).mean)

    def e_step(self, batch: Batch, step: int) -> LossTerms:
        latent = self.sample_latent(len(batch))
        with torch.no_grad():
            fake = self.G(latent.z, latent.y)
        z_hat, _ = self._heads(fake)
        _, logits = self._heads(batch.x)
        return {"z_mse": F.mse_loss(z_hat, latent.z),
                "y_ce": self.class_weight * F.cross_entropy(logits, batch.y)}


__all__ = ["IcGAN"]
