"""Karras et al. 2018 (ProGAN): the generic GAN on networks that grow, one resolution at a time.

The growth schedule counts real images shown, as the paper does (``stable_kimg`` thousand at the base
resolution; then for each doubling ``fade_kimg`` thousand while the new block fades in, alpha rising linearly
from 0 to 1, and ``stable_kimg`` thousand at the new resolution; the paper: 800 and 800). The growth p is a pure
function of the step (``growth_at``), so a run resumed anywhere, mid fade-in included, continues exactly; it is
also a buffer of both networks, so checkpoints and the EMA G carry it and a loaded G samples at its stage.

Real images are shown to D as G makes them at the current stage (``fade_reals``: the current resolution, blended
with the coarser one during a fade-in). Everything else is an engine piece the presets compose: the growing
networks (``model.arch=progan``: equalised lr, pixel norm, minibatch stddev), WGAN-GP with the drift penalty
(``loss=wasserstein``, ``penalties=[gp, drift]``), Adam (0, 0.99), EMA of G. The stage is logged (resolution and
alpha) and ``stage`` names it, so the trainer keeps a sample grid at the end of every stage for the report.
"""
from __future__ import annotations

import math
from dataclasses import replace

from gankit import distributed
from gankit.errors import ConfigError
from gankit.nets.progan import Growing, fade_reals, level_and_alpha
from gankit.objective import Accepts
from gankit.recipes.base import LossTerms, check_recipe_args, register_recipe
from gankit.recipes.gan import GAN
from gankit.tricks import TRICKS
from gankit.types import Batch


def growth_at(images: float, *, levels: int, fade: float, stable: float) -> float:
    """Growth p in [0, levels] after ``images`` real images: ``stable`` at the base, then per level ``fade``
    (p rises linearly to the next whole number) and ``stable`` (p stays)."""
    if images < stable or levels == 0:
        return 0.0
    level, within = divmod(images - stable, fade + stable)
    return min(level + min(within / fade, 1.0) if fade > 0 else level + 1.0, float(levels))


@register_recipe("progan")
class ProGAN(GAN):
    """Karras et al. 2018: grow G and D from the base resolution to the full size, fading each new level in."""

    paper = "Karras et al. 2018, Progressive Growing of GANs for Improved Quality, Stability, and Variation"
    accepts = Accepts(tricks=frozenset(TRICKS.names()) - {"virtual_batch_norm"},
                      why="ProGAN's G normalises with pixel norm and has no batch norm for virtual batch norm to replace")

    def __init__(self, G, D, *, batch_size: int, fade_kimg: float = 800.0, stable_kimg: float = 800.0,  # noqa: ANN001
                 **gan_kwargs) -> None:
        super().__init__(G, D, **gan_kwargs)
        self._growing = [m for net in (G, D) for m in net.modules() if isinstance(m, Growing)]  # inside tricks' wrappers
        if len(self._growing) != 2:
            raise ConfigError("recipe progan grows its networks: use model.arch=progan "
                              f"(this G is a {type(G).__name__}, this D a {type(D).__name__})")
        if fade_kimg < 0 or stable_kimg < 0 or fade_kimg + stable_kimg <= 0:
            raise ConfigError(f"recipe_args: fade_kimg={fade_kimg} and stable_kimg={stable_kimg} (thousands of real "
                              "images per fade-in and per stable stage; the paper: 800 and 800) must be >= 0, "
                              "not both 0")
        self.levels, self.base, self.batch_size = self._growing[0].levels, self._growing[0].base, batch_size
        self.fade, self.stable = 1000.0 * fade_kimg, 1000.0 * stable_kimg

    @classmethod
    def from_config(cls, cfg, data) -> "ProGAN":  # noqa: ANN001
        args = dict(cfg.recipe_args)
        check_recipe_args(args, ("fade_kimg", "stable_kimg"), "progan")
        objective = cls.objective_for(cfg)
        return cls(*cls.build(cfg, data, objective), batch_size=cfg.train.batch_size,
                   **cls.common_args(cfg, data, objective), **args)

    def growth(self, step: int) -> float:
        """p during generator step ``step`` (1-based): from the real images shown before it, every rank's."""
        images = (step - 1) * self.batch_size * distributed.world_size()
        return growth_at(images, levels=self.levels, fade=self.fade, stable=self.stable)

    def representative_step(self) -> int:
        """The first step fully grown: the dearest kind (train.minutes then never overruns)."""
        images = self.levels * (self.fade + self.stable)  # growth_at reaches levels there
        return math.ceil(images / (self.batch_size * distributed.world_size())) + 1

    def stage(self, step: int) -> str:
        """The stage of step ``step``, e.g. "16px" or "16px fade-in" (the trainer keeps a grid at each one's end)."""
        level, alpha = level_and_alpha(self.growth(step))
        return f"{self.base * 2 ** level}px" + (" fade-in" if alpha < 1 else "")

    def _grow(self, step: int) -> float:
        p = self.growth(step)
        for net in self._growing + ([m for m in self.ema.net.modules() if isinstance(m, Growing)] if self.ema else []):
            net.grow_to(p)
        return p

    def _shown(self, batch: Batch, p: float) -> Batch:
        return replace(batch, x=fade_reals(batch.x, p, self.levels))

    def d_step(self, batch: Batch, step: int) -> LossTerms:
        p = self._grow(step)
        level, alpha = level_and_alpha(p)
        self.record(resolution=float(self.base * 2 ** level), alpha=alpha)
        return super().d_step(self._shown(batch, p), step)

    def g_step(self, batch: Batch, step: int) -> LossTerms:
        return super().g_step(self._shown(batch, self._grow(step)), step)


__all__ = ["ProGAN", "growth_at"]
