"""Inception Score (Salimans et al. 2016) from class probabilities, float64."""
from __future__ import annotations

import numpy as np
import torch

from gankit.metrics.base import Inputs, Metric, Need, register_metric
from gankit.metrics.stats import Features, MetricInputError, as_features


def inception_score(probs: Features, *, splits: int = 10) -> tuple[float, float]:
    """exp(E_x KL(p(y|x) || p(y))) on each of ``splits`` contiguous splits; (mean, population std).

    ``probs`` is (N, K) class probabilities (softmax outputs, not logits): rows must be
    non-negative and sum to 1 within 1e-3.
    """
    p = as_features(probs, "probs")  # (N, K)
    n = p.shape[0]
    if not 1 <= splits <= n:
        raise MetricInputError(f"inception_score splits must be in [1, N={n}], got {splits}")
    if bool((p < 0).any()) or not bool(torch.isfinite(p).all()):
        raise MetricInputError("probs must be finite and non-negative class probabilities (did you pass logits? apply softmax)")
    row_sums = p.sum(dim=1)
    worst = int((row_sums - 1).abs().argmax())
    if abs(float(row_sums[worst]) - 1) > 1e-3:
        raise MetricInputError(f"probs rows must sum to 1 within 1e-3; row {worst} sums to {float(row_sums[worst]):.6g} "
                               "(did you pass logits? apply softmax)")
    scores = []
    for i in range(splits):
        part = p[i * n // splits:(i + 1) * n // splits]  # (n_i, K)
        marginal = part.mean(dim=0, keepdim=True)  # (1, K)
        # 0 log 0 = 0; where p(y|x) > 0 the marginal is > 0 too
        kl = torch.where(part > 0, part * (torch.log(part) - torch.log(marginal)), torch.zeros_like(part)).sum(dim=1)
        scores.append(float(torch.exp(kl.mean())))
    return float(np.mean(scores)), float(np.std(scores))


@register_metric("is")
class InceptionScore(Metric):
    """Inception Score of the class probabilities, 10 splits (Salimans et al. 2016)."""

    scores = {"is": True, "is_std": False}
    needs = frozenset({Need.CLASS_PROBS})

    def score(self, inputs: Inputs) -> dict[str, float]:
        probs = inputs.fake.probs
        mean, std = inception_score(probs, splits=min(10, len(probs)))
        return {"is": mean, "is_std": std}
