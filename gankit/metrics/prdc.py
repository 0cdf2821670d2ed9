"""k-NN manifold metrics: improved precision/recall (Kynkäänniemi et al. 2019), density/coverage (Naeem et al. 2020)."""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from gankit.metrics.base import Inputs, Metric, Need, register_metric
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


def nearest_distance(points: Tensor, others: Tensor, chunk_size: int = 1024) -> Tensor:
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
    coverage = (nearest_distance(r, f, chunk_size) <= radii).double().mean()
    return {"density": float(density), "coverage": float(coverage)}


@register_metric("pr")
class PrecisionRecall(Metric):
    """Improved precision/recall, k=3 (Kynkaanniemi et al. 2019)."""

    scores = {"precision": True, "recall": True}
    needs = frozenset({Need.FEATURE_ROWS})
    k = 3

    def score(self, inputs: Inputs) -> dict[str, float]:
        return precision_recall(inputs.real.rows, inputs.fake.rows, k=self.k)

    def protocol(self, inputs: Inputs) -> dict[str, Any]:
        return {"pr_k": self.k}


@register_metric("dc")
class DensityCoverage(Metric):
    """Density/coverage, k=5 (Naeem et al. 2020)."""

    scores = {"density": True, "coverage": True}
    needs = frozenset({Need.FEATURE_ROWS})
    k = 5

    def score(self, inputs: Inputs) -> dict[str, float]:
        return density_coverage(inputs.real.rows, inputs.fake.rows, k=self.k)

    def protocol(self, inputs: Inputs) -> dict[str, Any]:
        return {"dc_k": self.k}
