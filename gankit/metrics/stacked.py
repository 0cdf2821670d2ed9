"""Stacked MNIST mode count and KL (Metz et al. 2017, unrolled GANs; VEEGAN; PacGAN, Lin et al. 2018).

A stacked-MNIST sample is three MNIST digits stacked as the R, G and B channels, so there are
1000 modes, labelled 100 * d_R + 10 * d_G + d_B. A generator's samples (26,000 of them in the
protocol) are scored by classifying each channel with an MNIST classifier:

- ``modes``: how many of the 1000 digit triples occur at least once;
- ``kl``: KL(p_gen || uniform) = sum_m p(m) log(1000 p(m)) over the covered modes (0 log 0 = 0),
  where p is the histogram of generated triples. This is the direction PacGAN's code computes
  (``KLD(p, q)`` with p the generated histogram and q = 1/1000) and calls "KL" (reverse KL
  from the data's point of view); it is log 1000 = 6.91 for one mode and about
  (1000 - 1) / (2 N) for N samples spread uniformly.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from gankit.metrics.extractor import FeatureExtractor
from gankit.metrics.stats import MetricInputError

DIGITS = 10
STACKED_CHANNELS = 3
MODES = DIGITS ** STACKED_CHANNELS
PROTOCOL_SAMPLES = 26_000  # per the protocol of PacGAN / VEEGAN / unrolled GANs; the caller samples them


def triple_labels(digits: Tensor) -> Tensor:
    """(N, 3) digits (R, G, B) -> (N,) mode labels 100 * d_R + 10 * d_G + d_B."""
    return digits[:, 0] * DIGITS ** 2 + digits[:, 1] * DIGITS + digits[:, 2]


def mode_statistics(labels: Tensor | np.ndarray, num_modes: int = MODES) -> dict[str, float | int]:
    """Modes covered and KL(p_gen || uniform over ``num_modes``) of (N,) integer mode labels."""
    labels = torch.as_tensor(np.asarray(labels) if not isinstance(labels, Tensor) else labels).long().reshape(-1)
    if labels.numel() == 0:
        raise MetricInputError("no samples: mode statistics need at least one label")
    if int(labels.min()) < 0 or int(labels.max()) >= num_modes:
        raise MetricInputError(f"mode labels must be in 0..{num_modes - 1}, got {int(labels.min())}..{int(labels.max())}")
    counts = torch.bincount(labels.cpu(), minlength=num_modes).double()
    p = counts[counts > 0] / labels.numel()
    kl = float((p * torch.log(p * num_modes)).sum())
    return {"modes": int((counts > 0).sum()), "kl": max(kl, 0.0), "n": int(labels.numel())}


@torch.no_grad()
def stacked_mnist_modes(images: Tensor, evaluator: FeatureExtractor, *, batch_size: int = 500) -> dict[str, float | int]:
    """{"modes", "kl", "n"} of (N, 3, H, W) stacked-MNIST samples in [-1, 1], each channel classified by
    ``evaluator`` (a 10-class MNIST evaluator, e.g. ``load_evaluator("mnist")``)."""
    if images.dim() != 4 or images.shape[1] != STACKED_CHANNELS:
        raise MetricInputError(f"stacked-MNIST samples must be (N, 3, H, W), got shape {tuple(images.shape)}")
    if evaluator.num_classes != DIGITS:
        raise MetricInputError(f"stacked-MNIST modes need a 10-class MNIST classifier; {evaluator.name} has "
                               f"{evaluator.num_classes} classes (use load_evaluator('mnist'))")
    digits = []
    for channel in range(STACKED_CHANNELS):
        _, logits = evaluator.extract(images[:, channel:channel + 1], batch_size)  # (N, 10)
        digits.append(logits.argmax(dim=1))
    return mode_statistics(triple_labels(torch.stack(digits, dim=1)))


def uniform_kl_floor(n: int, num_modes: int = MODES) -> float:
    """The KL that sampling noise alone gives a perfect generator: about (num_modes - 1) / (2 n)."""
    return (num_modes - 1) / (2 * n) if n > 0 else math.inf
