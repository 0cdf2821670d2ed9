"""Feature checks and streaming first/second moments (float64), shared by FID, KID, IS and PRDC."""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from gankit.errors import GankitError

Features = Tensor | np.ndarray


class MetricInputError(GankitError, ValueError):
    """Features or probabilities given to a metric have the wrong shape or values."""


def as_features(x: Features, name: str, dim: int | None = None) -> Tensor:
    """``x`` as a float64 (N, D) tensor on the CPU; ValueError naming ``name`` otherwise."""
    if isinstance(x, np.ndarray):
        x = np.ascontiguousarray(x)  # torch cannot wrap negative strides (x[::-1])
    t = torch.as_tensor(x).detach().to("cpu", torch.float64)
    if t.dim() != 2:
        raise MetricInputError(f"{name} must be 2D (N, D) features, got shape {tuple(t.shape)}")
    if dim is not None and t.shape[1] != dim:
        raise MetricInputError(f"{name} has feature dimension {t.shape[1]} (shape {tuple(t.shape)}), expected {dim}")
    return t


def as_pair(a: Features, b: Features, names: tuple[str, str]) -> tuple[Tensor, Tensor]:
    """Two feature sets with the same D, as float64 (N, D) tensors; ValueError naming both shapes."""
    ta, tb = as_features(a, names[0]), as_features(b, names[1])
    if ta.shape[1] != tb.shape[1]:
        raise MetricInputError(f"{names[0]} and {names[1]} must have the same feature dimension, "
                               f"got shapes {tuple(ta.shape)} and {tuple(tb.shape)}")
    return ta, tb


class RunningStats:
    """Streaming mean and unbiased covariance of (N, dim) batches; memory O(dim^2), not O(N).

    Sums of x and x x^T are kept in float64 around a shift (the first batch's mean), so
    features with a large mean relative to their spread do not lose precision to cancellation.
    """

    def __init__(self, dim: int):
        if dim < 1:
            raise MetricInputError(f"RunningStats dim must be >= 1, got {dim}")
        self.dim = dim
        self.n = 0
        self.shift: Tensor | None = None
        self.sum_x = torch.zeros(dim, dtype=torch.float64)
        self.sum_xxt = torch.zeros(dim, dim, dtype=torch.float64)

    def update(self, batch: Features) -> "RunningStats":
        x = as_features(batch, "batch", self.dim)  # (B, dim)
        if x.shape[0] == 0:
            return self
        if self.shift is None:
            self.shift = x.mean(dim=0)
        centred = x - self.shift
        self.sum_x += centred.sum(dim=0)
        self.sum_xxt += centred.T @ centred  # (dim, dim)
        self.n += x.shape[0]
        return self

    def mean(self) -> np.ndarray:
        """Mean of everything seen so far, float64 (dim,)."""
        if self.n < 1:
            raise MetricInputError("RunningStats.mean() needs at least one sample; call update() first")
        return (self.shift + self.sum_x / self.n).numpy()

    def cov(self) -> np.ndarray:
        """Unbiased (N - 1) covariance, float64 (dim, dim), like np.cov(x, rowvar=False)."""
        if self.n < 2:
            raise MetricInputError(f"RunningStats.cov() needs at least 2 samples, got {self.n}")
        centred_mean = self.sum_x / self.n
        cov = (self.sum_xxt - self.n * torch.outer(centred_mean, centred_mean)) / (self.n - 1)
        return cov.numpy()
