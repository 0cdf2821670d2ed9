"""Scores inside the hole of an inpainting (Pathak et al. 2016, Table 1: mean L1, mean L2 and PSNR over the
missing region): the math, and the base class of the registered ``hole_psnr`` and ``hole_l1``.

Images are in gankit's [-1, 1] range and are mapped to [0, 1] first (PSNR's peak is 1, L1 is a fraction of the
range, the paper's percentages / 100). Only the hole's pixels count: the context is copied from the input, so
whole-image scores would mostly measure the hole's size.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from gankit.errors import ConfigError
from gankit.metrics.base import Inputs, Metric, Need, Setting
from gankit.metrics.image import _unit  # [-1, 1] -> [0, 1] in float64, as psnr and ssim score


def _hole_mean(error: Tensor, hole: Tensor) -> Tensor:
    """Per image, the mean of ``error`` (N, C, H, W) over the pixels where ``hole`` (N, 1, H, W) is 1. (N,)"""
    if error.dim() != 4 or hole.shape != (error.shape[0], 1, *error.shape[2:]):
        raise ValueError(f"hole must be (N, 1, H, W) for images {tuple(error.shape)}; got {tuple(hole.shape)}")
    hole = hole.double()
    count = hole.sum(dim=(1, 2, 3)) * error.shape[1]
    if (count == 0).any():
        raise ValueError("an image has an empty hole: there is nothing to score")
    return (error * hole).sum(dim=(1, 2, 3)) / count


def hole_psnr(output: Tensor, target: Tensor, hole: Tensor) -> float:
    """Mean over images of 10 log10(1 / MSE) in dB, the MSE over the hole only, for images in [-1, 1]."""
    if output.shape != target.shape:
        raise ValueError(f"outputs and targets differ in shape: {tuple(output.shape)} and {tuple(target.shape)}")
    mse = _hole_mean((_unit(output) - _unit(target)) ** 2, hole)  # (N,)
    return float(torch.where(mse > 0, 10 * torch.log10(1 / mse), torch.full_like(mse, math.inf)).mean())


def hole_l1(output: Tensor, target: Tensor, hole: Tensor) -> float:
    """Mean absolute error over the hole's pixels, in [0, 1] units (Pathak et al.'s mean L1 loss / 100)."""
    if output.shape != target.shape:
        raise ValueError(f"outputs and targets differ in shape: {tuple(output.shape)} and {tuple(target.shape)}")
    return float(_hole_mean((_unit(output) - _unit(target)).abs(), hole).mean())


class HoleScore(Metric):
    """Base of hole_psnr and hole_l1: the completed images against the originals on the hole, with the recipe's
    no-learning fill (the context's mean colour) scored beside them."""

    needs = frozenset({Need.SAMPLES, Need.PAIRS, Need.BASELINE})

    @staticmethod
    def compare(output: Tensor, target: Tensor, hole: Tensor) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def check(self, setting: Setting) -> None:
        from gankit.recipes.inpainting import ContextEncoderGAN  # here: gankit.metrics loads without the recipes

        if not isinstance(setting.recipe, ContextEncoderGAN):
            raise ConfigError(f"{self.name} scores the filled hole of an inpainting run (context-encoder); "
                              "paired translation (pix2pix, srgan): use psnr or ssim")

    def score(self, inputs: Inputs) -> dict[str, float]:
        latent = inputs.latent
        target, hole = latent.target.float().cpu(), inputs.setting.recipe.hole(latent).float().cpu()
        out = {self.name: self.compare(inputs.samples, target, hole)}
        if inputs.baseline is not None:  # the same holes filled without learning: hole_psnr_mean_fill, ...
            out[f"{self.name}_{inputs.setting.recipe.baseline_name}"] = self.compare(inputs.baseline, target, hole)
        return out

    def protocol(self, inputs: Inputs) -> dict[str, str]:
        return {"baseline": inputs.setting.recipe.baseline_name, "hole": inputs.setting.recipe.mask}
