"""Shared layers: spectral norm, normalisation choice, self-attention, label conditioning."""
from gankit.nn.layers import LabelInput, SelfAttention, maybe_sn, norm1d, norm2d

__all__ = ["LabelInput", "SelfAttention", "maybe_sn", "norm1d", "norm2d"]
