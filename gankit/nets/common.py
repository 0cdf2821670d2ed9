"""Pieces the architectures share: label-conditioned latents, heads, resolution plans."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.nn import LabelInput, maybe_sn
from gankit.types import DOut


def conditioned_latent(z: Tensor, y: Tensor | None, num_classes: int) -> Tensor:
    """Mirza & Osindero 2014: G's input is [z, one_hot(y)]. (B, Z) -> (B, Z + K)"""
    if num_classes == 0:
        return z
    if y is None:
        raise ValueError("this generator is conditional: pass labels y")
    return torch.cat([z, F.one_hot(y, num_classes).to(z.dtype)], dim=1)


def image_shape(spec_shape: tuple[int, ...], arch: str) -> tuple[int, int]:
    """(channels, size) of a square image spec, with a clear error for other shapes."""
    if len(spec_shape) != 3 or spec_shape[1] != spec_shape[2]:
        raise ConfigError(
            f"model.arch={arch!r} needs square images (C, H, H); the data has sample shape {spec_shape}. "
            "Use model.arch=mlp for point data."
        )
    return spec_shape[0], spec_shape[1]


def resolution_plan(size: int, arch: str) -> tuple[int, int]:
    """(base, n_up) with size = base * 2**n_up, 4 <= base <= 7, n_up >= 1 (e.g. 28 = 7*4, 32 = 4*8)."""
    base, n_up = size, 0
    while base % 2 == 0 and base > 7:
        base //= 2
        n_up += 1
    if not (4 <= base <= 7) or n_up < 1:
        valid = sorted({b * 2**k for b in range(4, 8) for k in range(1, 6)}, key=lambda v: (abs(v - size), v))
        raise ConfigError(
            f"data.image_size={size} does not fit model.arch={arch!r}: it needs base * 2^k with base 4..7 and "
            f"k >= 1 (a power of two times 4..7). Nearest valid sizes: {valid[0]}, {valid[1]}."
        )
    return base, n_up


def stage_widths(width: int, n_up: int) -> list[int]:
    """Channels at each resolution from the base (index 0) to the full size (index n_up): ``width`` at full
    resolution, doubling per halving, at most 4 x width."""
    return [width * 2 ** min(n_up - i, 2) for i in range(n_up + 1)]


def refuse_settings(cfg, fields: tuple[str, ...], why: str) -> None:  # noqa: ANN001  (ModelConfig)
    """An architecture without some layers refuses a config asking for them: ConfigError with ``why`` and, for each
    ``model.<field>`` of ``fields`` that is set, the value to give it instead."""
    asked = [field for field in fields if getattr(cfg, field)]
    if asked:
        raise ConfigError(f"{why}: set " + ", ".join(f"model.{f}=" + ("false" if "spectral" in f else "null")
                                                      for f in asked))


class DHead(nn.Module):
    """The top of every discriminator: logit, optional label projection, optional auxiliary head."""

    def __init__(self, features: int, label_input: LabelInput, aux_dim: int, spectral: bool) -> None:
        super().__init__()
        self.linear = maybe_sn(nn.Linear(features, 1), spectral)
        self.label_input = label_input
        self.aux = nn.Linear(features, aux_dim) if aux_dim > 0 else None

    def forward(self, features: Tensor, y: Tensor | None) -> DOut:
        logit = self.label_input.project(self.linear(features).squeeze(1), features, y)
        aux = self.aux(features) if self.aux is not None else None
        return DOut(logit=logit, features=features, aux=aux)


def inverse_cdf(probs: Tensor, uniform: Tensor) -> Tensor:
    """The category of each row of ``probs`` (B, C) that uniform noise (B,) or (B, S) in [0, 1) falls into,
    (B,) or (B, S) int64: the first c with cumsum(probs)[c] > u * total."""
    cdf = probs.cumsum(1)  # (B, C)
    target = (uniform if uniform.dim() == 2 else uniform[:, None]) * cdf[:, -1:]
    index = torch.searchsorted(cdf, target.to(cdf.dtype).contiguous(), right=True)
    return index.clamp_(max=probs.shape[1] - 1).reshape(uniform.shape)
