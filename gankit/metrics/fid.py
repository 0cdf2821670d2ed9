"""Fréchet Inception Distance (Heusel et al. 2017) on precomputed features, float64 throughout."""
from __future__ import annotations

import numpy as np

from gankit.metrics.base import Inputs, Metric, Need, register_metric
from gankit.metrics.stats import Features, MetricInputError, as_pair


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """Tr (S1 S2)^1/2 for symmetric PSD S1, S2, as Tr (A S2 A)^1/2 with A = S1^1/2.

    (S1 S2 is similar to A S2 A, so they share eigenvalues.) Two symmetric eigendecompositions
    instead of ``scipy.linalg.sqrtm`` of a non-symmetric product: the same value (to ~1e-10
    relative on well-conditioned covariances, see tests/test_metrics.py), about 5x faster at
    2048 dimensions, and always real; eigenvalues below 0 from round-off are clipped to 0.
    """
    w, v = np.linalg.eigh(sigma1)
    root = (v * np.sqrt(np.clip(w, 0, None))) @ v.T  # S1^1/2
    m = root @ sigma2 @ root
    eig = np.linalg.eigvalsh((m + m.T) / 2)
    return float(np.sqrt(np.clip(eig, 0, None)).sum())


def fid_from_stats(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet distance ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^1/2) between two Gaussians, float64."""
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    d = mu1.shape[0]
    for name, value, shape in (("mu1", mu1, (d,)), ("mu2", mu2, (d,)), ("sigma1", sigma1, (d, d)), ("sigma2", sigma2, (d, d))):
        if value.shape != shape:
            raise MetricInputError(f"{name} has shape {value.shape}, expected {shape} "
                                   f"(mu1 {mu1.shape}, sigma1 {sigma1.shape}, mu2 {mu2.shape}, sigma2 {sigma2.shape})")
    for name, value in (("sigma1", sigma1), ("sigma2", sigma2)):
        if not np.isfinite(value).all():
            raise MetricInputError(f"{name} has non-finite entries")
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt_product(sigma1, sigma2))


def fid(feats_a: Features, feats_b: Features) -> float:
    """FID between Gaussians fitted (mean, unbiased covariance, float64) to two (N, D) feature sets."""
    a, b = as_pair(feats_a, feats_b, ("feats_a", "feats_b"))
    for name, t in (("feats_a", a), ("feats_b", b)):
        if t.shape[0] < 2:
            raise MetricInputError(f"{name} needs at least 2 samples for a covariance, got shape {tuple(t.shape)}")
    a_np, b_np = a.numpy(), b.numpy()
    return fid_from_stats(a_np.mean(axis=0), np.cov(a_np, rowvar=False), b_np.mean(axis=0), np.cov(b_np, rowvar=False))


@register_metric("fid")
class FID(Metric):
    """Frechet distance of feature Gaussians (Heusel et al. 2017)."""

    scores = {"fid": False}
    needs = frozenset({Need.MOMENTS})

    def score(self, inputs: Inputs) -> dict[str, float]:
        real, fake = inputs.real.stats, inputs.fake.stats
        return {"fid": fid_from_stats(real.mean(), real.cov(), fake.mean(), fake.cov())}
