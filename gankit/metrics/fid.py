"""Fréchet Inception Distance (Heusel et al. 2017) on precomputed features, float64 throughout."""
from __future__ import annotations

import numpy as np
import scipy.linalg

from gankit.metrics.stats import Features, MetricInputError, as_pair


def fid_from_stats(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray,
                   *, eps: float = 1e-6) -> float:
    """Fréchet distance ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^1/2) between two Gaussians.

    The square root is ``scipy.linalg.sqrtm`` with pytorch-fid's handling: when S1 S2 is
    near-singular (non-finite root) ``eps * I`` is added to both covariances; a tiny imaginary
    part (diagonal within 1e-3 of 0) is dropped, a larger one raises ValueError.
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    d = mu1.shape[0]
    for name, value, shape in (("mu1", mu1, (d,)), ("mu2", mu2, (d,)), ("sigma1", sigma1, (d, d)), ("sigma2", sigma2, (d, d))):
        if value.shape != shape:
            raise MetricInputError(f"{name} has shape {value.shape}, expected {shape} "
                                   f"(mu1 {mu1.shape}, sigma1 {sigma1.shape}, mu2 {mu2.shape}, sigma2 {sigma2.shape})")
    diff = mu1 - mu2
    covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        offset = np.eye(d) * eps
        covmean = scipy.linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"FID: imaginary component {np.max(np.abs(covmean.imag)):.3g} in sqrtm(sigma1 sigma2); "
                             "the covariances are ill-conditioned (use more samples than feature dimensions)")
        covmean = covmean.real
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def fid(feats_a: Features, feats_b: Features) -> float:
    """FID between Gaussians fitted (mean, unbiased covariance, float64) to two (N, D) feature sets."""
    a, b = as_pair(feats_a, feats_b, ("feats_a", "feats_b"))
    for name, t in (("feats_a", a), ("feats_b", b)):
        if t.shape[0] < 2:
            raise MetricInputError(f"{name} needs at least 2 samples for a covariance, got shape {tuple(t.shape)}")
    a_np, b_np = a.numpy(), b.numpy()
    return fid_from_stats(a_np.mean(axis=0), np.cov(a_np, rowvar=False), b_np.mean(axis=0), np.cov(b_np, rowvar=False))
