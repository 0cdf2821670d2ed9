"""NDCG@k of an item recommender's ranking, and of the popularity baseline (gankit/metrics/ranking.py)."""
from __future__ import annotations

from torch import Tensor

from gankit.metrics.base import register_metric
from gankit.metrics.ranking import RankingMetric, keys, ndcg_at


@register_metric("ndcg_at_k")
class NDCGAtK(RankingMetric):
    """Normalised discounted cumulative gain of each user's top k (k = 5, 10; training items left out), beside popularity's."""

    measure = "ndcg"
    scores = keys("ndcg")

    def per_user(self, hits: Tensor, relevant_count: Tensor, k: int) -> Tensor:
        return ndcg_at(hits, relevant_count, k)


__all__ = ["NDCGAtK"]
