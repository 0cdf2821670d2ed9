"""Do an encoder's codes follow the distribution its generator samples from? A two-sample statistic.

For recipes with an encoder (gankit/recipes/encoding.py) whose codes live where G's noise does (AAE:
the prior; BiGAN/ALI: N(0, I)): ``prior_mmd`` is the unbiased squared MMD (Gretton et al. 2012) between
the codes E(x) of eval.n test images and as many draws of ``sample_latent`` (drawn with the images' labels
when the recipe's latent takes classes, e.g. the AAE's labelled mixture). The kernel is the mean of
Gaussian kernels whose bandwidths are ``SCALES`` times the median distance between the prior draws (the
median heuristic alone is blind to fine structure: it hardly tells the AAE's mixture of narrow 2-D
Gaussians from N(0, I)); the prior alone fixes it, so trained and untrained encoders share the kernel.

Beside it, as the baseline a matched encoder must beat, ``prior_mmd_wide``: the same statistic against the
prior's draws scaled by ``WIDE`` (a mismatched prior of the same shape). Codes that match the prior score
``prior_mmd`` near 0, far below ``prior_mmd_wide``.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from gankit.errors import ConfigError
from gankit.metrics.base import Inputs, Metric, Setting, register_metric

WIDE = 2.0  # the mismatched prior of the baseline: the prior's draws times this
SCALES = (0.2, 0.5, 1.0, 2.0)  # the kernel's bandwidths, in units of the prior draws' median distance
PRIOR_SEED = 0  # the generator of the prior draws (then eval.seed is added)


def median_bandwidth(x: Tensor) -> float:
    """The median distance between distinct rows of x (N, D): the Gaussian kernel's median-heuristic bandwidth."""
    d = torch.cdist(x.double(), x.double())
    return float(d[~torch.eye(len(x), dtype=torch.bool)].median())


def mmd2_unbiased(x: Tensor, y: Tensor, *, bandwidths: Sequence[float]) -> float:
    """Gretton et al. 2012, Lemma 6: the unbiased squared MMD between samples x (N, D) and y (M, D) under the kernel
    k(a, b) = mean over h in ``bandwidths`` of exp(-|a - b|^2 / (2 h^2)); within-sample pairs exclude i = j, so it
    may be slightly < 0."""
    if len(x) < 2 or len(y) < 2:
        raise ValueError(f"the unbiased MMD needs at least 2 samples on each side, got {len(x)} and {len(y)}")
    x, y = x.double(), y.double()

    def kernel(a: Tensor, b: Tensor) -> Tensor:
        squared = torch.cdist(a, b).pow(2)
        return sum(torch.exp(-squared / (2 * h**2)) for h in bandwidths) / len(bandwidths)

    kxx, kyy, kxy = kernel(x, x), kernel(y, y), kernel(x, y)
    n, m = len(x), len(y)
    within_x = (kxx.sum() - kxx.diagonal().sum()) / (n * (n - 1))
    within_y = (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
    return float(within_x + within_y - 2 * kxy.mean())


@register_metric("prior_match")
class PriorMatch(Metric):
    """Unbiased MMD^2 between E(test images) and draws of G's prior; beside it, against the prior widened 2x."""

    scores = {"prior_mmd": False}

    def check(self, setting: Setting) -> None:
        from gankit.recipes.encoding import Encoding  # imported here: gankit.metrics loads without the recipes

        if not isinstance(setting.recipe, Encoding):
            raise ConfigError(f"prior_match compares an encoder's codes with G's prior, and recipe "
                              f"{setting.recipe.__class__.__name__} has no encoder: use it with aae, bigan or ali runs")

    def score(self, inputs: Inputs) -> dict[str, float]:
        from gankit.metrics.encoding import _split  # the encoder family's test images

        setting, recipe = inputs.setting, inputs.setting.recipe
        test = _split(setting, setting.cfg.split, setting.cfg.n)
        device = next(recipe.parameters()).device
        codes = recipe.encode_all(test.x.to(device)).z.flatten(1).cpu()
        labels = test.y.to(device) if recipe.label_classes() and test.y is not None else None
        generator = torch.Generator(device=device).manual_seed(PRIOR_SEED + setting.cfg.seed)
        prior = recipe.sample_latent(len(codes), labels=labels, generator=generator).z.flatten(1).cpu()
        bandwidths = [scale * median_bandwidth(prior) for scale in SCALES]
        return {"prior_mmd": mmd2_unbiased(codes, prior, bandwidths=bandwidths),
                "prior_mmd_wide": mmd2_unbiased(codes, WIDE * prior, bandwidths=bandwidths)}

    def protocol(self, inputs: Inputs) -> dict[str, Any]:
        return {"prior_match": f"unbiased MMD^2, mean of Gaussian kernels of {SCALES} times the prior draws' median "
                               f"distance, codes of up to "
                               f"eval.n images of eval.split against as many prior draws (seed {PRIOR_SEED} + "
                               f"eval.seed); prior_mmd_wide: against the draws times {WIDE}"}


__all__ = ["PriorMatch", "mmd2_unbiased", "median_bandwidth", "WIDE", "SCALES"]
