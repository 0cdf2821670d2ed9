"""Losses of the sequence GANs: the likelihood of token sequences, as pure functions."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def token_nll(*, log_probs: Tensor, mask: Tensor) -> Tensor:
    """Mean negative log-likelihood per chosen token: log_probs and mask (B, T); masked tokens (padding) not counted."""
    return -(log_probs * mask).sum() / mask.sum().clamp(min=1)


def discounted_returns(rewards: Tensor, gamma: float) -> Tensor:
    """(B, T) rewards -> (B, T) returns R_t = sum_{s >= t} gamma^(s - t) r_s (MaskGAN's per-token returns)."""
    returns, running = rewards.clone(), rewards[:, -1] * 0
    for t in range(rewards.shape[1] - 1, -1, -1):
        running = rewards[:, t] + gamma * running
        returns[:, t] = running
    return returns


def masked_token_bce(*, real: Tensor, fake: Tensor, mask: Tensor) -> Tensor:
    """MaskGAN's D loss: per-token binary cross-entropy of logits (B, T) on the blanks only (``mask`` (B, T)), real
    tokens labelled 1 and filled ones 0; the mean of the two halves, each a mean over its blanks."""
    mask = mask.float()
    count = mask.sum().clamp(min=1)
    real_loss = (F.binary_cross_entropy_with_logits(real.float(), torch.ones_like(real, dtype=torch.float),
                                                    reduction="none") * mask).sum() / count
    fake_loss = (F.binary_cross_entropy_with_logits(fake.float(), torch.zeros_like(fake, dtype=torch.float),
                                                    reduction="none") * mask).sum() / count
    return (real_loss + fake_loss) / 2


def critic_advantages(*, rewards: Tensor, values: Tensor | None, mask: Tensor, gamma: float,
                      clip: float | None = None) -> tuple[Tensor, Tensor]:
    """MaskGAN's returns and advantages (B, T): R_t = sum_{s >= t} gamma^(s - t) m_s r_s over the blanks m, and
    A_t = m_t (R_t - V_t) clipped to [-clip, clip] (``values`` None: no baseline). Neither carries a gradient."""
    mask = mask.float()
    returns = discounted_returns(rewards.detach() * mask, gamma)
    advantages = returns - values.detach() if values is not None else returns
    if clip is not None:
        advantages = advantages.clamp(-clip, clip)
    return returns, advantages * mask


def masked_mse(*, prediction: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Mean squared error over the entries where ``mask`` (B, T) is set (MaskGAN's critic loss, target detached)."""
    mask = mask.float()
    return (((prediction.float() - target.detach().float()) ** 2) * mask).sum() / mask.sum().clamp(min=1)


__all__ = ["token_nll", "discounted_returns", "masked_token_bce", "critic_advantages", "masked_mse"]
