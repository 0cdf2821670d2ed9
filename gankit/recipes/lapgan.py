"""Denton et al. 2015 (LapGAN): a Laplacian pyramid of GANs, one per scale, each refining the coarser one.

Training follows the paper: every level learns on the real data's pyramid, independently of the others. Level 0
is an ordinary GAN on the coarsest images (MLP G and D, ``coarse_width`` units); level k's G is given the real
coarser image upsampled, l_k, and makes the residual h_k; its D (the preset's architecture at level k's size) sees
the image l_k + h against the real level-k image, which is l_k + the real residual (the paper adds l_k to h before
D's first layer). In a class-conditional pyramid the refining levels get the real image's class, since their l_k
is of that class. Each level's loss terms come from the one Objective, named with the level's size (``adv_16px``).
Sampling chains the levels (gankit/nets/lapgan.py), and the sample grids show each sample's pyramid, one row per
sample from the coarsest image to the finest (each upsampled to the full size).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.nets import ARCHS, build_nets
from gankit.nets.lapgan import LaplacianGenerator, Refiner, gaussian_pyramid
from gankit.objective import Accepts
from gankit.recipes.base import Latent, LossTerms, check_recipe_args, eval_mode, register_recipe
from gankit.recipes.gan import GAN
from gankit.tricks import TRICKS
from gankit.types import Batch


@dataclass(frozen=True)
class PyramidArgs:
    """recipe_args of lapgan."""

    levels: int = 3  # images in the pyramid: 3 is 8 -> 16 -> 32 px (the paper's CIFAR-10 pyramid)
    coarse_width: int = 512  # hidden units of the coarsest level's MLP G and D

    def sizes(self, size: int) -> list[int]:
        if not isinstance(self.levels, int) or self.levels < 2:
            raise ConfigError(f"recipe_args.levels={self.levels!r}: a pyramid has at least 2 levels")
        if size % 2 ** (self.levels - 1) or size // 2 ** (self.levels - 1) < 4:
            raise ConfigError(f"recipe_args.levels={self.levels} does not fit {size} px images: each level halves "
                              f"the size, and the coarsest must be a whole number of at least 4 px; use fewer levels "
                              f"(e.g. {max(2, _fitting_levels(size))})")
        return [size // 2 ** (self.levels - 1 - k) for k in range(self.levels)]


def _fitting_levels(size: int) -> int:
    levels = 1
    while size % 2 ** levels == 0 and size // 2 ** levels >= 4:
        levels += 1
    return levels


@register_recipe("lapgan")
class LapGAN(GAN):
    """Denton et al. 2015: G is a pyramid (``G.levels``), D one discriminator per level (``D``, a ModuleList)."""

    paper = "Denton et al. 2015, Deep Generative Image Models using a Laplacian Pyramid of Adversarial Networks"
    accepts = Accepts(tricks=frozenset(TRICKS.names()) - {"virtual_batch_norm"},
                      why="the pyramid's levels are trained on real coarse images, not on one reference batch of z")
    G: LaplacianGenerator
    D: nn.ModuleList

    @classmethod
    def from_config(cls, cfg, data) -> "LapGAN":  # noqa: ANN001
        check_recipe_args(cfg.recipe_args, tuple(PyramidArgs.__dataclass_fields__), "lapgan")
        args = PyramidArgs(**cfg.recipe_args)
        objective = cls.objective_for(cfg)
        spec = cls.spec(cfg, data, objective)
        if len(spec.sample_shape) != 3:
            raise ConfigError(f"recipe lapgan builds a pyramid of images; data set {data.name!r} has samples of "
                              f"shape {spec.sample_shape}")
        channels, size = spec.sample_shape[0], spec.sample_shape[1]
        sizes = args.sizes(size)
        at = [replace(spec, sample_shape=(channels, s, s)) for s in sizes]  # each level's NetSpec
        mlp = replace(cfg.model, arch="mlp", g_width=args.coarse_width, d_width=args.coarse_width, g_layers=2,
                      d_layers=2)
        coarse_G, coarse_D = build_nets(at[0], mlp, d_shape=objective.d_input_shape(at[0].sample_shape))
        refiners = [Refiner(channels, cfg.model.g_width, spec.g_classes, cfg.model.g_norm) for _ in sizes[1:]]
        d_class = ARCHS.get(cfg.model.arch)[1]  # each refining level's D: the preset's architecture at its size
        D = nn.ModuleList([objective.wrap_d(coarse_D, at[0])])
        for level in at[1:]:
            d_spec = replace(level, sample_shape=objective.d_input_shape(level.sample_shape))
            D.append(objective.wrap_d(d_class(d_spec, cfg.model), level))
        G = LaplacianGenerator(coarse_G, refiners, sizes, cfg.model.z_dim)
        common = cls.common_args(cfg, data, objective)
        common["z_dim"] = G.noise_dim
        return cls(G, D, **common)

    def networks(self) -> dict[str, nn.Module]:
        return {**{f"G.levels.{k}": g for k, g in enumerate(self.G.levels)}, **{f"D.{k}": d for k, d in enumerate(self.D)}}

    def groups(self) -> dict[str, list[str]]:
        return {"G": [f"G.levels.{k}" for k in range(len(self.G.levels))], "D": [f"D.{k}" for k in range(len(self.D))]}

    def discriminators(self) -> list[nn.Module]:
        return list(self.D)

    def _level_fakes(self, batch: Batch, latent: Latent) -> tuple[list[Tensor], list[Tensor], list[Tensor | None]]:
        """Per level, coarse to fine: the real images, G's images, and the labels of G's images."""
        reals = gaussian_pyramid(batch.x, len(self.D))
        z0, planes = self.G.split(latent.z)
        fakes = [self.G.levels[0](z0, latent.y)]
        fakes += [self.G.refine(k, reals[k - 1], planes[k - 1], batch.y) for k in range(1, len(reals))]
        return reals, fakes, [latent.y] + [batch.y] * (len(reals) - 1)

    def d_step(self, batch: Batch, step: int) -> LossTerms:
        latent = self.sample_latent(len(batch), labels=batch.y if self.num_classes else None)
        reals, fakes, labels = self._level_fakes(batch, latent)
        terms: LossTerms = {}
        for D, real, fake, y_fake in zip(self.D, reals, fakes, labels):
            judged = self.objective.d_loss(D, real=real, fake=fake, step=step, y_real=batch.y, y_fake=y_fake,
                                           z=latent.z, suffix=f"_{real.shape[-1]}px")
            terms.update(judged.terms)
        self.record_d(d_real=judged.real_score, d_fake=judged.fake_score)  # the finest level's D
        return terms

    def g_step(self, batch: Batch, step: int) -> LossTerms:
        latent = self.sample_latent(len(batch), labels=batch.y if self.num_classes else None)
        reals, fakes, labels = self._level_fakes(batch, latent)
        terms: LossTerms = {}
        for D, real, fake, y_fake in zip(self.D, reals, fakes, labels):
            terms.update(self.objective.g_loss(D, real=real, fake=fake, step=step, y_real=batch.y, y_fake=y_fake,
                                               z=latent.z, suffix=f"_{real.shape[-1]}px").terms)
        return terms

    @torch.no_grad()
    def pyramid(self, latent: Latent, batch_size: int = 256) -> list[Tensor]:
        """Every level's images, coarse to fine, of the sampler's samples for ``latent`` (eval mode, in chunks)."""
        with eval_mode(self.sampler()) as net:
            chunks = [net.pyramid(part.z, part.y) for part in (latent[i:i + batch_size]
                                                             for i in range(0, len(latent), batch_size))]
        return [torch.cat(level) for level in zip(*chunks)]

    def show(self, latent: Latent, output: Tensor) -> tuple[Tensor, int | None]:
        """Each sample's pyramid side by side, coarsest first, every level upsampled (nearest) to the full size;
        four samples a row."""
        levels = self.pyramid(latent)
        size = levels[-1].shape[-1]
        shown = [F.interpolate(img, size=(size, size), mode="nearest") for img in levels]
        return torch.stack(shown, dim=1).flatten(0, 1), 4 * len(levels)  # (n * levels, C, size, size)


__all__ = ["LapGAN", "PyramidArgs"]
