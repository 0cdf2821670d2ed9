"""``autocorr``: the distance between the mean autocorrelation functions of generated and reference sequences.

Each sequence's (biased, mean-removed) sample autocorrelation r(tau) = sum_{t < T - tau} d_t d_{t+tau} / sum_t d_t^2,
d = x - mean_t x, for tau = 1..T/2 and each feature, averaged over the set; the distance is the RMS difference over
lags and features (lower is better; 0 to 2). r does not see the scale of a sequence (``spectrum`` does); a constant
sequence has r = 0. Example: the alternating (-1)^t has r(tau) = (-1)^tau (T - tau) / T.
"""
from __future__ import annotations

import torch
from torch import Tensor

from gankit.metrics.base import register_metric
from gankit.metrics.sequences import SequenceDistance, check_sequences


def autocorrelation(x: Tensor) -> Tensor:
    """(N, T, F) -> (N, T // 2, F) float64: each sequence's sample autocorrelation at lags 1..T/2."""
    x = check_sequences(x, "sequences")
    d = x - x.mean(dim=1, keepdim=True)
    energy = d.pow(2).sum(dim=1)  # (N, F)
    length = x.shape[1]
    lags = torch.stack([(d[:, :length - tau] * d[:, tau:]).sum(dim=1) for tau in range(1, length // 2 + 1)], dim=1)
    return torch.where(energy[:, None] > 0, lags / energy[:, None].clamp_min(1e-300), torch.zeros_like(lags))


@register_metric("autocorr")
class Autocorr(SequenceDistance):
    """RMS difference of the mean autocorrelation functions (lags 1..T/2) of generated vs reference sequences."""

    scores = {"autocorr": False}
    summary = "the mean sample autocorrelation (mean removed, lags 1..T/2, per feature)"

    def statistic(self, x: Tensor) -> Tensor:
        return autocorrelation(x).mean(dim=0)  # (T // 2, F)
