"""Mode coverage on 2D Gaussian mixtures, the PacGAN / VEEGAN protocol (Lin et al. 2018)."""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from gankit.data import MIXTURES
from gankit.errors import ConfigError, unknown


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
