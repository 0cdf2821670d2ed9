"""Small layers shared by every architecture."""
from __future__ import annotations

import math

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


def norm2d(kind: str | None, channels: int, field: str = "model.norm", *, dims: int = 2) -> nn.Module:
    """A normalisation layer for (B, C, H, W) maps, or (B, C, D, H, W) volumes with ``dims=3``; layer norm is
    GroupNorm(1, C) (WGAN-GP's choice)."""
    _check_norm(kind, field)
    if kind == "batch":
        return (nn.BatchNorm2d if dims == 2 else nn.BatchNorm3d)(channels)
    if kind == "instance":
        return (nn.InstanceNorm2d if dims == 2 else nn.InstanceNorm3d)(channels, affine=True)
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


class EqualLinear(nn.Module):
    """Karras et al. 2018's equalised learning rate: weights stored as N(0, 1/lr_mul^2), scaled at run time by
    lr_mul / sqrt(fan_in), so Adam's step is the same for every layer (and lr_mul times smaller here)."""

    def __init__(self, fan_in: int, fan_out: int, *, lr_mul: float = 1.0, bias_init: float = 0.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(fan_out, fan_in) / lr_mul)
        self.bias = nn.Parameter(torch.full((fan_out,), bias_init / lr_mul))
        self.scale, self.lr_mul = lr_mul / math.sqrt(fan_in), lr_mul

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)


def pixel_norm(x: Tensor) -> Tensor:
    """Each vector scaled to unit mean square (Karras et al. 2018)."""
    return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


class EqualConv2d(nn.Module):
    """A conv with Karras et al. 2018's equalised learning rate: weights N(0, 1), scaled by 1/sqrt(fan_in) at run
    time (ProGAN's layers; with the leaky ReLU's gain sqrt(2) applied after the activation by the caller)."""

    def __init__(self, ch_in: int, ch_out: int, k: int, *, padding: int = 0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(ch_out, ch_in, k, k))
        self.bias = nn.Parameter(torch.zeros(ch_out))
        self.scale, self.padding = 1 / math.sqrt(ch_in * k * k), padding

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


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
