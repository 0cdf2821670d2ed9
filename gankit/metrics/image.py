"""Full-reference image metrics for paired translation and super-resolution: PSNR and SSIM.

Images are in gankit's [-1, 1] range and are mapped to [0, 1] first, so PSNR's peak is 1 and
SSIM uses data_range 1 (the convention of skimage and torchmetrics for float images).
SSIM is torchmetrics' (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03),
with the window shrunk to the image for images smaller than 11 px.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor


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
