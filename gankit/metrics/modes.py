"""Mode coverage on 2D Gaussian mixtures, the PacGAN / VEEGAN protocol (Lin et al. 2018), and the `modes` metric
(2D mixtures here, stacked-mnist through `gankit.metrics.stacked`)."""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from gankit.data import MIXTURES
from gankit.errors import ConfigError, unknown
from gankit.metrics.base import Inputs, Metric, Need, Setting, register_metric
from gankit.metrics.stacked import stacked_mnist_modes


def modes_2d(samples: Tensor | np.ndarray, data: str = "ring8") -> dict[str, float]:
    """Modes covered, fraction of high-quality samples and reverse KL to uniform over modes.

    A sample is high quality when it lies within 3 standard deviations of its nearest
    mode; a mode is covered when it holds at least one high-quality sample. The reverse
    KL is KL(q || uniform) of the histogram q of high-quality samples over modes
    (PacGAN's table), 0 for a perfect spread.
    """
    if data not in MIXTURES:
        raise ConfigError(unknown("2D mixture", data, MIXTURES))
    centres, std = MIXTURES[data]
    x = torch.as_tensor(samples, dtype=torch.float64).reshape(-1, 2)
    dist = torch.cdist(x, torch.as_tensor(centres, dtype=torch.float64))  # (N, modes)
    nearest_dist, nearest = dist.min(dim=1)
    good = nearest_dist <= 3 * std
    counts = torch.bincount(nearest[good], minlength=len(centres)).double()
    q = counts / counts.sum().clamp_min(1)
    k = len(centres)
    nz = q > 0
    reverse_kl = float((q[nz] * torch.log(q[nz] * k)).sum()) if bool(nz.any()) else float("inf")
    return {"modes": int((counts > 0).sum()), "high_quality": float(good.double().mean()), "reverse_kl": reverse_kl}


STACKED_MNIST = "stacked-mnist"  # the one image data set with countable modes: its channels are MNIST digits


@register_metric("modes")
class Modes(Metric):
    """Modes covered: 2D mixtures (PacGAN protocol) or stacked-mnist (1000 modes, each channel classified)."""

    scores = {"modes": True, "high_quality": True, "reverse_kl": False}  # high_quality: 2D mixtures only
    needs = frozenset({Need.SAMPLES, Need.LABELLER})

    def check(self, setting: Setting) -> None:
        data = setting.data
        if not (data.kind == "points" and data.name in MIXTURES) and data.name != STACKED_MNIST:
            raise ConfigError(f"modes is defined for 2D mixtures ({', '.join(MIXTURES)}) and {STACKED_MNIST}, "
                              f"not {data.name!r}: use classes to see how evenly G spreads over the classes")

    def labeller(self, setting: Setting) -> str | None:
        return "mnist" if setting.data.name == STACKED_MNIST else None  # 2D points are counted without one

    def score(self, inputs: Inputs) -> dict[str, float]:
        data = inputs.setting.data
        if data.kind == "points":
            return modes_2d(inputs.samples, data.name)
        result = stacked_mnist_modes(inputs.samples, inputs.labellers[self.labeller(inputs.setting)])
        return {"modes": result["modes"], "reverse_kl": result["kl"]}
