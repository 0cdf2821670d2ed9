"""Karras et al. 2020 (StyleGAN2): the generic GAN plus path-length regularisation of a style generator.

Everything else StyleGAN2 trains with is an engine piece the presets compose: the style G (model.arch=stylegan2,
gankit/nets/stylegan.py, with style mixing and w_avg inside it), the non-saturating loss, lazy R1
(``penalties=[{name: r1, every: 16}]``), EMA of G, truncation at sampling time.

Path-length regularisation (Sec. 3.2): for random image-space directions y ~ N(0, I) / sqrt(H W), the length
||J_w^T y|| of the gradient of <G(w), y> with respect to the per-layer w should be constant: G pays
``pl_weight`` x E(||J_w^T y|| - a)^2, a the running mean of the lengths (decay ``pl_decay``), every
``pl_every`` G steps (lazy, the loss scaled by pl_every) on half a batch, as in the official code.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from gankit import distributed as noise
from gankit.errors import ConfigError
from gankit.nets.stylegan import is_style_generator
from gankit.objective import Accepts
from gankit.recipes.base import LossTerms, check_recipe_args, register_recipe
from gankit.recipes.gan import GAN
from gankit.tricks import TRICKS
from gankit.types import Batch


def path_lengths(G, z: Tensor, y: Tensor | None, direction: Tensor | None = None) -> Tensor:  # noqa: ANN001
    """(B,) ||J_w^T y|| of G at the styles of z (labels y), for one image-space direction per sample: random
    N(0, I) / sqrt(H W) (the paper's) unless given."""
    ws = G.styles(z, y)
    images = G.synthesize(ws)
    h, w = images.shape[2], images.shape[3]
    if direction is None:
        direction = noise.batch_randn(len(z), *images.shape[1:], device=images.device) / math.sqrt(h * w)
    (grad,) = torch.autograd.grad((images * direction).sum(), ws, create_graph=True)
    return grad.pow(2).sum(dim=2).mean(dim=1).sqrt()


@register_recipe("stylegan")
class StyleGAN(GAN):
    """Karras et al. 2019 / 2020: a style G (mapping + synthesis) with path-length regularisation."""

    paper = "Karras et al. 2020, Analyzing and Improving the Image Quality of StyleGAN (StyleGAN2)"
    accepts = Accepts(tricks=frozenset(TRICKS.names()) - {"virtual_batch_norm"},
                      why="a style G has no batch norm for virtual batch norm to replace")

    def __init__(self, G, D, *, pl_weight: float = 2.0, pl_every: int = 4, pl_decay: float = 0.01,  # noqa: ANN001
                 **gan_kwargs) -> None:
        super().__init__(G, D, **gan_kwargs)
        if not is_style_generator(G):
            raise ConfigError("recipe stylegan regularises a style generator: use model.arch=stylegan2 or stylegan "
                              f"(this G is a {type(G).__name__})")
        if pl_weight < 0 or not isinstance(pl_every, int) or pl_every < 1 or not 0 < pl_decay <= 1:
            raise ConfigError(f"recipe_args: pl_weight={pl_weight} must be >= 0, pl_every={pl_every} an int >= 1, "
                              f"pl_decay={pl_decay} in (0, 1]")
        self.pl_weight, self.pl_every, self.pl_decay = pl_weight, pl_every, pl_decay
        self.register_buffer("pl_mean", torch.zeros(()))  # checkpoints keep the running mean (exact resume)

    @classmethod
    def from_config(cls, cfg, data) -> "StyleGAN":  # noqa: ANN001
        args = dict(cfg.recipe_args)
        check_recipe_args(args, ("pl_weight", "pl_every", "pl_decay"), "stylegan")
        objective = cls.objective_for(cfg)
        return cls(*cls.build(cfg, data, objective), **cls.common_args(cfg, data, objective), **args)

    def differentiates_twice(self) -> list[str]:
        return super().differentiates_twice() + (["path-length regularisation"] if self.pl_weight else [])

    def g_step(self, batch: Batch, step: int) -> LossTerms:
        terms = super().g_step(batch, step)
        if self.pl_weight and step % self.pl_every == 0:
            latent = self.sample_latent(max(len(batch) // 2, 1))
            lengths = path_lengths(getattr(self.G, "module", self.G), latent.z, latent.y)  # under DDP: its module
            with torch.no_grad():
                self.pl_mean.lerp_(noise.all_reduce_mean(lengths.detach().float().mean()), self.pl_decay)
            terms["path_length"] = self.pl_weight * self.pl_every * (lengths - self.pl_mean).pow(2).mean()
            self.record(path_length=lengths.detach().mean())
        return terms


__all__ = ["StyleGAN", "path_lengths"]
