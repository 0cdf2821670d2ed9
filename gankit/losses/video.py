"""Auxiliary loss terms of the video GANs, as pure functions."""
from __future__ import annotations

from torch import Tensor


def mask_sparsity(*, mask: Tensor) -> Tensor:
    """Vondrick et al. 2016 (VGAN): mean |m| of the foreground mask, so the static background stream explains what
    does not move."""
    return mask.abs().mean()
