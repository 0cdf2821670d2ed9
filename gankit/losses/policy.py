"""Policy-gradient losses for generators of discrete outputs (items, tokens), whose samples cannot carry a gradient.

``reinforce`` is Williams 1992's score-function estimator as IRGAN (Wang et al. 2017) and SeqGAN (Yu et al.
2017) use it: G's loss is -E[log p_G(x) * reward(x)], with the reward (D's judgement of the sample) a constant.
"""
from __future__ import annotations

from torch import Tensor


def reinforce(*, log_probs: Tensor, rewards: Tensor, baseline: Tensor | float | None = None,
              mask: Tensor | None = None) -> Tensor:
    """-mean(log_probs * (rewards - baseline)) over the entries (those where ``mask`` is true), a scalar.

    log_probs: log p_G of each sampled action, (B,) (one item per sample) or (B, T) (one token per step); the
       only input the gradient flows through.
    rewards:   the same shape; detached here (REINFORCE treats the reward as a constant).
    baseline:  subtracted from the rewards to lower the variance (a number, or a tensor broadcasting to
       ``rewards``: (B, 1) per sample, (B, T) per step); detached here; None: none.
    mask:      bool of the same shape, false for padding after a sequence's end; None: every entry counts.
    """
    if rewards.shape != log_probs.shape:
        raise ValueError(f"reinforce: rewards have shape {tuple(rewards.shape)}, log_probs {tuple(log_probs.shape)}; "
                         "give one reward per sampled action")
    if log_probs.dim() not in (1, 2):
        raise ValueError(f"reinforce: log_probs must be (B,) or (B, T); got shape {tuple(log_probs.shape)}")
    advantage = rewards.detach()
    if baseline is not None:
        advantage = advantage - (baseline.detach() if isinstance(baseline, Tensor) else baseline)
    weighted = log_probs * advantage  # (B,) or (B, T)
    if mask is None:
        return -weighted.mean()
    if mask.shape != log_probs.shape:
        raise ValueError(f"reinforce: mask has shape {tuple(mask.shape)}, log_probs {tuple(log_probs.shape)}")
    return -(weighted * mask).sum() / mask.sum().clamp_min(1)


__all__ = ["reinforce"]
