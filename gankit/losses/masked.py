"""Pathak et al. 2016 (Context Encoders): the masked reconstruction loss, as a pure function."""
from __future__ import annotations

from torch import Tensor


def masked_l2(*, output: Tensor, target: Tensor, weight: Tensor) -> Tensor:
    """Pathak et al. 2016: the mean squared error over the pixels where ``weight`` > 0, each weighted by it.

    ``weight`` (B, 1, H, W) is 1 on the hole and, with the paper's overlap, 10 on a thin band of context around it
    that G also predicts; 0 elsewhere. The mean is over the weighted pixels and channels, so with weight 1 on the
    hole alone it is the hole's mean squared error."""
    if weight.dim() != 4 or weight.shape[1] != 1 or weight.shape[-2:] != output.shape[-2:]:
        raise ValueError(f"masked_l2: weight must be (B, 1, H, W) for outputs {tuple(output.shape)}; "
                         f"got {tuple(weight.shape)}")
    squared = (output - target) ** 2 * weight  # (B, C, H, W)
    count = (weight > 0).sum() * output.shape[1]
    return squared.sum() / count.clamp(min=1)


__all__ = ["masked_l2"]
