"""Kernel Inception Distance (Bińkowski et al. 2018): unbiased MMD^2 with a cubic polynomial kernel.

NumPy float64 like torch-fidelity: many small matrix products, where torch's thread pool costs more than the work.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from gankit.metrics.base import Inputs, Metric, Need, register_metric
from gankit.metrics.stats import Features, MetricInputError, as_pair


def polynomial_kernel(x: np.ndarray, y: np.ndarray, *, degree: int = 3, gamma: float | None = None,
                      coef0: float = 1) -> np.ndarray:
    """k(x, y) = (gamma x.y + coef0)^degree with gamma = 1/D by default; (N, D), (M, D) -> (N, M)."""
    gamma = 1.0 / x.shape[1] if gamma is None else gamma
    return (gamma * (x @ y.T) + coef0) ** degree


def mmd2_unbiased(x: np.ndarray, y: np.ndarray, **kernel) -> float:
    """Unbiased MMD^2 of equal-size samples as in KID / torch-fidelity: within-set terms skip i == j.

    Cross terms average all m^2 pairs (x and y are independent, so this is still unbiased).
    """
    m = x.shape[0]
    k_xx, k_yy, k_xy = polynomial_kernel(x, x, **kernel), polynomial_kernel(y, y, **kernel), polynomial_kernel(x, y, **kernel)
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within - 2 * k_xy.sum() / (m * m))


def kid(feats_a: Features, feats_b: Features, *, subsets: int = 100, subset_size: int = 1000, degree: int = 3,
        gamma: float | None = None, coef0: float = 1, seed: int = 0) -> tuple[float, float]:
    """KID as (mean, std) of the unbiased MMD^2 over ``subsets`` random subsets (without replacement).

    ``subset_size`` is clipped to min(n_a, n_b), so with small feature sets every subset is
    the whole set. The std is the population std over subsets (torch-fidelity's convention).
    """
    a, b = (t.numpy() for t in as_pair(feats_a, feats_b, ("feats_a", "feats_b")))
    if subsets < 1:
        raise MetricInputError(f"kid subsets must be >= 1, got {subsets}")
    m = min(a.shape[0], b.shape[0], subset_size)
    if m < 2:
        raise MetricInputError(f"kid needs subsets of at least 2 samples, got subset_size={subset_size}, "
                               f"feats_a {tuple(a.shape)}, feats_b {tuple(b.shape)}")
    rng = np.random.default_rng(seed)
    mmds = []
    for _ in range(subsets):
        x = a[rng.choice(a.shape[0], m, replace=False)]  # (m, D)
        y = b[rng.choice(b.shape[0], m, replace=False)]
        mmds.append(mmd2_unbiased(x, y, degree=degree, gamma=gamma, coef0=coef0))
    return float(np.mean(mmds)), float(np.std(mmds))


@register_metric("kid")
class KID(Metric):
    """Unbiased kernel inception distance (Binkowski et al. 2018), 100 subsets of up to 1,000."""

    scores = {"kid": False, "kid_std": False}
    needs = frozenset({Need.FEATURE_ROWS})
    subsets, max_subset_size = 100, 1000

    def subset_size(self, inputs: Inputs) -> int:
        return min(self.max_subset_size, inputs.n_real, inputs.setting.cfg.n)

    def score(self, inputs: Inputs) -> dict[str, float]:
        mean, std = kid(inputs.real.rows, inputs.fake.rows, subsets=self.subsets, subset_size=self.subset_size(inputs),
                        seed=inputs.setting.cfg.seed)
        return {"kid": mean, "kid_std": std}

    def protocol(self, inputs: Inputs) -> dict[str, Any]:
        return {"kid_subsets": self.subsets, "kid_subset_size": self.subset_size(inputs)}
