"""Ranking losses for recommenders that score (user, item) pairs."""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def bpr(*, positive: Tensor, negative: Tensor) -> Tensor:
    """Rendle et al. 2009 (BPR-Opt): -mean log sigmoid(s_pos - s_neg), scores (B,) of a liked and an unobserved item."""
    if positive.shape != negative.shape:
        raise ValueError(f"bpr: positive scores {tuple(positive.shape)} and negative {tuple(negative.shape)} must pair up")
    return -F.logsigmoid(positive - negative).mean()


__all__ = ["bpr"]
