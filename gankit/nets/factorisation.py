"""Matrix-factorisation scorers of (user, item) pairs: IRGAN's generator and discriminator, BPR's model.

s(u, i) = <p_u, q_i> + b_i with user and item embeddings p, q (``dim`` each) and an item bias b, initialised as in
IRGAN's released item-recommendation code: embeddings U(-0.05, 0.05), biases 0 (Wang et al. 2017).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.nets.common import inverse_cdf
from gankit.types import DOut

INIT_DELTA = 0.05  # IRGAN's INIT_DELTA: the embeddings start U(-0.05, 0.05)


class MatrixFactorisation(nn.Module):
    """s(u, i) = <p_u, q_i> + b_i for ``users`` x ``items``, embeddings of size ``dim``."""

    def __init__(self, users: int, items: int, dim: int) -> None:
        super().__init__()
        self.num_users, self.num_items, self.dim = users, items, dim
        self.user = nn.Embedding(users, dim)
        self.item = nn.Embedding(items, dim)
        self.bias = nn.Parameter(torch.zeros(items))
        nn.init.uniform_(self.user.weight, -INIT_DELTA, INIT_DELTA)
        nn.init.uniform_(self.item.weight, -INIT_DELTA, INIT_DELTA)

    def pair_scores(self, users: Tensor, items: Tensor) -> Tensor:
        """(B,) users and (B,) or (B, S) items -> scores of the same shape as items."""
        p = self.user(users)  # (B, K)
        if items.dim() == 2:
            p = p[:, None]  # (B, 1, K) against (B, S, K)
        return (p * self.item(items)).sum(-1) + self.bias[items]

    def all_scores(self, users: Tensor) -> Tensor:
        """(B,) users -> (B, items): every item's score for each user."""
        return self.user(users) @ self.item.weight.T + self.bias  # (B, I)

    def l2(self, users: Tensor, *items: Tensor) -> Tensor:
        """Half the squared norms of the looked-up rows (IRGAN's tf.nn.l2_loss of the batch's embeddings and biases)
        divided by len(users): the weight decay of the rows a step touches. ``items``: one tensor per item of a
        row (BPR's liked and unseen item), each aligned with ``users``."""
        total = self.user(users).pow(2).sum()
        for some in items:
            total = total + self.item(some).pow(2).sum() + self.bias[some].pow(2).sum()
        return 0.5 * total / len(users)


class PairScorer(MatrixFactorisation):
    """A discriminator of (user, item) rows (B, 2): DOut(logit = s(u, i), features = p_u * q_i (B, K))."""

    def forward(self, pairs: Tensor, y: Tensor | None = None) -> DOut:
        users, items = pairs[:, 0], pairs[:, 1]
        features = self.user(users) * self.item(items)  # (B, K)
        return DOut(logit=features.sum(1) + self.bias[items], features=features)


class ItemPolicy(MatrixFactorisation):
    """A generator of items: p(i | u) = softmax_i(s(u, i) / temperature). G(noise, users) draws one item per user
    by inverse-CDF sampling with the given uniform noise (B,), so the same latent always gives the same items;
    returns (user, item) rows (B, 2) int64."""

    def forward(self, noise: Tensor, users: Tensor, temperature: float | None = None) -> Tensor:
        probs = self.probs(users, temperature)  # (B, I)
        items = inverse_cdf(probs, noise)
        return torch.stack([users, items], dim=1)

    def probs(self, users: Tensor, temperature: float | None = None) -> Tensor:
        """(B, I) p(i | u) at ``temperature`` (None: 1)."""
        return F.softmax(self.all_scores(users) / (temperature or 1.0), dim=1)

    def log_probs(self, users: Tensor, items: Tensor) -> Tensor:
        """log p(i | u) of the policy (temperature 1) for (B,) users and (B,) or (B, S) items; same shape as items."""
        log_p = F.log_softmax(self.all_scores(users), dim=1)  # (B, I)
        return log_p.gather(1, items if items.dim() == 2 else items[:, None]).reshape(items.shape)


__all__ = ["MatrixFactorisation", "PairScorer", "ItemPolicy", "INIT_DELTA"]
