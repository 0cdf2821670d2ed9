"""Precision@k of an item recommender's ranking, and of the popularity baseline (gankit/metrics/ranking.py)."""
from __future__ import annotations

from torch import Tensor

from gankit.metrics.base import register_metric
from gankit.metrics.ranking import RankingMetric, keys, precision_at


@register_metric("precision_at_k")
class PrecisionAtK(RankingMetric):
    """Share of test items among each user's top k (k = 5, 10; training items left out), beside popularity's."""

    measure = "p"
    scores = keys("p")

    def per_user(self, hits: Tensor, relevant_count: Tensor, k: int) -> Tensor:
        return precision_at(hits, k)


__all__ = ["PrecisionAtK"]
