"""Full-reference image metrics for paired translation and super-resolution: PSNR and SSIM.

Images are in gankit's [-1, 1] range and are mapped to [0, 1] first, so PSNR's peak is 1 and
SSIM uses data_range 1 (the convention of skimage and torchmetrics for float images).
SSIM is torchmetrics' (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03),
with the window shrunk to the image for images smaller than 11 px.
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from gankit.errors import ConfigError
from gankit.metrics.base import Inputs, Metric, Need, Setting, register_metric


def _unit(x: Tensor) -> Tensor:
    return ((x.double() + 1) / 2).clamp(0, 1)


def _check(output: Tensor, target: Tensor) -> None:
    if output.shape != target.shape or output.dim() != 4:
        raise ValueError(f"outputs and targets must be (N, C, H, W) of one shape; got {tuple(output.shape)} "
                         f"and {tuple(target.shape)}")


def psnr(output: Tensor, target: Tensor) -> float:
    """Mean over images of 10 log10(1 / MSE) in dB, for images in [-1, 1]; identical images score inf."""
    _check(output, target)
    mse = ((_unit(output) - _unit(target)) ** 2).flatten(1).mean(1)  # (N,) per image
    return float(torch.where(mse > 0, 10 * torch.log10(1 / mse), torch.full_like(mse, math.inf)).mean())


def ssim(output: Tensor, target: Tensor) -> float:
    """Mean structural similarity (Wang et al. 2004) over images in [-1, 1]; 1 for identical images."""
    from torchmetrics.functional.image import structural_similarity_index_measure

    _check(output, target)
    window = min(11, *output.shape[-2:])
    window -= 1 - window % 2  # odd
    return float(structural_similarity_index_measure(_unit(output).float(), _unit(target).float(), data_range=1.0,
                                                     kernel_size=window, sigma=1.5 * window / 11))


class PairedScore(Metric):
    """Base of psnr and ssim: G's outputs against the paired targets, and the recipe's baseline beside them."""

    needs = frozenset({Need.SAMPLES, Need.PAIRS, Need.BASELINE})

    @staticmethod
    def compare(output: Tensor, target: Tensor) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def check(self, setting: Setting) -> None:
        from gankit.recipes.translation import Translation  # imported here: gankit.metrics loads without the recipes

        if not (isinstance(setting.recipe, Translation) and setting.recipe.has_targets):
            raise ConfigError(f"{self.name} compares outputs with paired targets: it is for pix2pix and srgan runs "
                              "(cyclegan: use cycle; any G: fid)")

    def score(self, inputs: Inputs) -> dict[str, float]:
        target = inputs.latent.target.float().cpu()
        out = {self.name: self.compare(inputs.samples, target)}
        if inputs.baseline is not None:  # the same inputs without learning, e.g. psnr_bicubic (srgan)
            out[f"{self.name}_{inputs.setting.recipe.baseline_name}"] = self.compare(inputs.baseline, target)
        return out

    def protocol(self, inputs: Inputs) -> dict[str, Any]:
        name = getattr(inputs.setting.recipe, "baseline_name", None)
        return {"baseline": name} if name else {}  # psnr_<baseline>, ssim_<baseline>: scores of no learning


@register_metric("psnr")
class PSNR(PairedScore):
    """Peak signal-to-noise ratio (dB) of outputs vs paired targets (pix2pix, srgan)."""

    scores = {"psnr": True}
    compare = staticmethod(psnr)


@register_metric("ssim")
class SSIM(PairedScore):
    """Structural similarity of outputs vs paired targets (Wang et al. 2004)."""

    scores = {"ssim": True}
    compare = staticmethod(ssim)


@register_metric("cycle")
class CycleL1(Metric):
    """Mean |F(G(a)) - a| in [-1, 1] units: CycleGAN's cycle reconstruction error."""

    scores = {"cycle_l1": False}
    needs = frozenset({Need.SAMPLES, Need.PAIRS})

    def check(self, setting: Setting) -> None:
        from gankit.recipes.translation import Translation  # imported here: gankit.metrics loads without the recipes

        if not isinstance(setting.recipe, Translation) or type(setting.recipe).reconstruct is Translation.reconstruct:
            raise ConfigError("cycle needs a recipe that maps its outputs back to its inputs (cyclegan); "
                              "paired runs (pix2pix, srgan): use psnr or ssim")

    def score(self, inputs: Inputs) -> dict[str, float]:
        latent, outputs, size = inputs.latent, inputs.samples, inputs.batch_size
        rebuilt = [inputs.setting.recipe.reconstruct(latent[i:i + size], outputs[i:i + size].to(latent.input.device))
                   for i in range(0, len(outputs), size)]
        return {"cycle_l1": float((torch.cat(rebuilt).float().cpu() - latent.input.float().cpu()).abs().mean())}
