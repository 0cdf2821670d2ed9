"""k-NN manifold metrics: improved precision/recall (Kynkäänniemi et al. 2019), density/coverage (Naeem et al. 2020)."""
from __future__ import annotations

import torch
from torch import Tensor

from gankit.metrics.stats import Features, MetricInputError, as_pair


def knn_radii(x: Tensor, k: int, *, chunk_size: int = 1024) -> Tensor:
    """Distance from each row of x (N, D) to its k-th nearest *other* row; (N,). Distances in row blocks."""
    n = x.shape[0]
    radii = torch.empty(n, dtype=x.dtype)
    for start in range(0, n, chunk_size):
        dist = torch.cdist(x[start:start + chunk_size], x)  # (B, N)
        rows = torch.arange(dist.shape[0])
        dist[rows, rows + start] = float("inf")  # a point is not its own neighbour
        radii[start:start + chunk_size] = dist.kthvalue(k, dim=1).values
    return radii


def _balls_containing(points: Tensor, centres: Tensor, radii: Tensor, chunk_size: int) -> Tensor:
    """For each of points (M, D): how many balls (centres (N, D), radii (N,)) contain it; (M,)."""
    counts = torch.empty(points.shape[0], dtype=torch.long)
    for start in range(0, points.shape[0], chunk_size):
        dist = torch.cdist(points[start:start + chunk_size], centres)  # (B, N)
        counts[start:start + chunk_size] = (dist <= radii[None, :]).sum(dim=1)
    return counts


def _nearest_distance(points: Tensor, others: Tensor, chunk_size: int) -> Tensor:
    """Distance from each of points (M, D) to its nearest row of others; (M,)."""
    nearest = torch.empty(points.shape[0], dtype=points.dtype)
    for start in range(0, points.shape[0], chunk_size):
        nearest[start:start + chunk_size] = torch.cdist(points[start:start + chunk_size], others).min(dim=1).values
    return nearest


def _checked(real: Features, fake: Features, k: int, chunk_size: int) -> tuple[Tensor, Tensor]:
    r, f = as_pair(real, fake, ("real", "fake"))
    if k < 1 or chunk_size < 1:
        raise MetricInputError(f"k and chunk_size must be >= 1, got k={k}, chunk_size={chunk_size}")
    for name, t in (("real", r), ("fake", f)):
        if t.shape[0] <= k:
            raise MetricInputError(f"{name} needs more than k={k} samples for k-NN radii, got shape {tuple(t.shape)}")
    return r, f


def precision_recall(real: Features, fake: Features, *, k: int = 3, chunk_size: int = 1024) -> dict[str, float]:
    """Precision: fake share inside some real k-NN ball; recall: real share inside some fake k-NN ball."""
    r, f = _checked(real, fake, k, chunk_size)
    precision = (_balls_containing(f, r, knn_radii(r, k, chunk_size=chunk_size), chunk_size) > 0).double().mean()
    recall = (_balls_containing(r, f, knn_radii(f, k, chunk_size=chunk_size), chunk_size) > 0).double().mean()
    return {"precision": float(precision), "recall": float(recall)}


def density_coverage(real: Features, fake: Features, *, k: int = 5, chunk_size: int = 1024) -> dict[str, float]:
    """Density: real k-NN balls containing each fake, averaged and divided by k; coverage: real
    share whose k-NN ball contains at least one fake."""
    r, f = _checked(real, fake, k, chunk_size)
    radii = knn_radii(r, k, chunk_size=chunk_size)
    density = _balls_containing(f, r, radii, chunk_size).double().sum() / (k * f.shape[0])
    coverage = (_nearest_distance(r, f, chunk_size) <= radii).double().mean()
    return {"density": float(density), "coverage": float(coverage)}
