"""``spectrum``: the log-spectral distance between generated and reference sequences, in dB (lower is better).

Each sequence's periodogram P_k = |rfft(x)_k|^2 / T (k = 0..T/2, per feature) is averaged over the set; the
distance is the RMS over bins and features of 10 log10((S_fake + FLOOR) / (S_real + FLOOR)). A pure sine of
amplitude A at an integer frequency k puts A^2 T / 4 into bin k and nothing elsewhere. FLOOR (1e-6, in the data's
units squared) keeps empty bins finite: a bin with no power counts as -60 dB, so the scale suits data of about unit
size (see gankit/data/sequences.py).
"""
from __future__ import annotations

import torch
from torch import Tensor

from gankit.metrics.base import register_metric
from gankit.metrics.sequences import SequenceDistance, check_sequences

FLOOR = 1e-6


def mean_power_spectrum(x: Tensor) -> Tensor:
    """(N, T, F) -> (T // 2 + 1, F) float64: the periodogram |rfft over time|^2 / T averaged over the N sequences."""
    x = check_sequences(x, "sequences")
    return torch.fft.rfft(x, dim=1).abs().pow(2).mean(dim=0) / x.shape[1]


@register_metric("spectrum")
class Spectrum(SequenceDistance):
    """Log-spectral distance (dB) of the mean power spectra of generated vs reference sequences."""

    scores = {"spectrum": False}
    summary = f"10 log10 of the mean periodogram (rfft over time, per feature; power floor {FLOOR:g}), in dB"

    def statistic(self, x: Tensor) -> Tensor:
        return 10 * torch.log10(mean_power_spectrum(x) + FLOOR)  # (bins, F) dB
