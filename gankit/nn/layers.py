"""Small layers shared by every architecture."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from gankit.errors import ConfigError, unknown

NORMS = ("batch", "instance", "layer")


def maybe_sn(module: nn.Module, enabled: bool) -> nn.Module:
    """Miyato et al. 2018: wrap a conv/linear so its weight has largest singular value ~1."""
    return spectral_norm(module) if enabled else module


def _check_norm(kind: str | None, field: str) -> None:
    if kind is not None and kind not in NORMS:
        raise ConfigError(f"{field}: {unknown('normalisation', kind, NORMS)} Use null for none.")


def norm2d(kind: str | None, channels: int, field: str = "model.norm") -> nn.Module:
    """A normalisation layer for (B, C, H, W) maps; layer norm is GroupNorm(1, C) (WGAN-GP's choice)."""
    _check_norm(kind, field)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    return nn.Identity()


def norm1d(kind: str | None, features: int, field: str = "model.norm") -> nn.Module:
    """A normalisation layer for (B, F) vectors."""
    _check_norm(kind, field)
    if kind == "batch":
        return nn.BatchNorm1d(features)
    if kind in ("layer", "instance"):
        return nn.LayerNorm(features)
    return nn.Identity()


class SelfAttention(nn.Module):
    """Zhang et al. 2019 (SAGAN): non-local attention over positions; gamma starts at 0."""

    def __init__(self, channels: int, spectral: bool = False) -> None:
        super().__init__()
        inner = max(channels // 8, 1)
        self.query = maybe_sn(nn.Conv2d(channels, inner, 1), spectral)
        self.key = maybe_sn(nn.Conv2d(channels, inner, 1), spectral)
        self.value = maybe_sn(nn.Conv2d(channels, channels, 1), spectral)
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        q = self.query(x).flatten(2).transpose(1, 2)  # (B, HW, C')
        k = self.key(x).flatten(2)  # (B, C', HW)
        v = self.value(x).flatten(2)  # (B, C, HW)
        attn = torch.softmax(q @ k, dim=-1)  # (B, HW, HW): row i attends over all positions
        out = (v @ attn.transpose(1, 2)).view(b, c, h, w)
        return x + self.gamma * out


class LabelInput(nn.Module):
    """How a discriminator sees class labels.

    "concat" (Mirza & Osindero 2014): one-hot labels appended to the input (as constant
    maps for images). "projection" (Miyato & Koyama 2018): logit += <embed(y), features>.
    """

    MODES = ("concat", "projection")

    def __init__(self, mode: str | None, num_classes: int, features: int, spectral: bool = False) -> None:
        super().__init__()
        if mode is not None and mode not in self.MODES:
            raise ConfigError(f"model.label_input: {unknown('label input', mode, self.MODES)} Use null for none.")
        if mode is not None and num_classes < 1:
            raise ConfigError(f"model.label_input={mode!r} needs a labelled data set (this one has no labels).")
        self.mode = mode
        self.num_classes = num_classes
        self.extra_channels = num_classes if mode == "concat" else 0
        self.embed = maybe_sn(nn.Embedding(num_classes, features), spectral) if mode == "projection" else None

    def concat(self, x: Tensor, y: Tensor | None) -> Tensor:
        """Append one-hot labels to x: (B, D) -> (B, D+K) or (B, C, H, W) -> (B, C+K, H, W)."""
        if self.mode != "concat":
            return x
        onehot = F.one_hot(_require(y), self.num_classes).to(x.dtype)
        if x.dim() == 4:
            onehot = onehot[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])
        return torch.cat([x, onehot], dim=1)

    def project(self, logit: Tensor, features: Tensor, y: Tensor | None) -> Tensor:
        """Add the projection term <embed(y), features> to the logit. (B,)"""
        if self.embed is None:
            return logit
        return logit + (self.embed(_require(y)) * features).sum(dim=1)


def _require(y: Tensor | None) -> Tensor:
    if y is None:
        raise ValueError("this network is conditional: pass labels y")
    return y
