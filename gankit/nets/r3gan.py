"""Huang et al. 2024 (R3GAN, "The GAN is dead; long live the GAN!"): the modernised ConvNeXt-style backbone.

No normalisation layers at all (the R1 and R2 penalties and the relativistic loss keep training stable); every
residual branch is an inverted bottleneck: 1x1 conv widening by ``EXPANSION``, leaky ReLU, grouped 3x3 conv
(``GROUP_WIDTH`` channels a group), leaky ReLU, 1x1 conv back. Fix-up initialisation: the branch's last layer
starts at zero and its others are scaled by L^(-1/4) (L residual blocks in the network, 3 layers a branch), so
each network starts as the identity through its residual path. Resolution changes in transition layers
(bilinear resampling and a 1x1 conv where the width changes); ``model.blocks`` residual blocks at each
resolution. Width doubles as resolution halves, from ``model.g_width``/``model.d_width`` at full resolution to
four times that.

G: z (and a one-hot class) -> a learnt 4x4 (or base x base) basis scaled channel-wise by a linear map of z ->
stages -> 1x1 conv -> tanh (the paper's G has no output activation; gankit's images live in [-1, 1]).
D: 1x1 conv from the image -> stages -> a depthwise base x base conv (the paper's discriminative basis) ->
linear head (label projection and auxiliary heads as in every gankit D).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.nets import ARCHS, ModelConfig, NetSpec
from gankit.nets.common import (DHead, conditioned_latent, image_shape, refuse_settings, resolution_plan,
                                 stage_widths)
from gankit.nn import LabelInput
from gankit.types import DOut

EXPANSION = 2  # the bottleneck's widening
GROUP_WIDTH = 16  # channels in each group of the grouped 3x3 conv
SLOPE = 0.2  # leaky ReLU


class ResidualBlock(nn.Module):
    """x + 1x1(act(grouped 3x3(act(1x1(x))))), fix-up initialised for a network of ``total`` blocks."""

    def __init__(self, channels: int, total: int) -> None:
        super().__init__()
        hidden = channels * EXPANSION
        self.widen = nn.Conv2d(channels, hidden, 1)
        self.mix = nn.Conv2d(hidden, hidden, 3, 1, 1, groups=max(hidden // GROUP_WIDTH, 1))
        self.narrow = nn.Conv2d(hidden, channels, 1)
        gain = nn.init.calculate_gain("leaky_relu", SLOPE) * total ** -0.25
        for conv in (self.widen, self.mix):
            fan_in = conv.weight[0].numel()
            nn.init.normal_(conv.weight, std=gain / fan_in**0.5)
            nn.init.zeros_(conv.bias)
        nn.init.zeros_(self.narrow.weight), nn.init.zeros_(self.narrow.bias)

    def forward(self, x: Tensor) -> Tensor:
        h = F.leaky_relu(self.widen(x), SLOPE)
        h = F.leaky_relu(self.mix(h), SLOPE)
        return x + self.narrow(h)


class Transition(nn.Module):
    """Resolution x ``scale`` (bilinear) and a 1x1 conv where the width changes; G upsamples after the conv
    (cheaper at the lower resolution), D downsamples before it."""

    def __init__(self, ch_in: int, ch_out: int, scale: float) -> None:
        super().__init__()
        self.scale = scale
        self.conv = nn.Conv2d(ch_in, ch_out, 1) if ch_in != ch_out else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        if self.scale > 1:
            return F.interpolate(self.conv(x), scale_factor=self.scale, mode="bilinear", align_corners=False)
        wide = x.float() if x.dtype == torch.bfloat16 else x  # antialiased resampling has no bf16 kernel on a CPU
        return self.conv(F.interpolate(wide, scale_factor=self.scale, mode="bilinear", align_corners=False,
                                       antialias=True).to(x.dtype))


def stages(widths: list[int], blocks: int, scale: float) -> nn.Sequential:
    """``blocks`` residual blocks at each width, a transition between consecutive widths."""
    total = blocks * len(widths)
    layers: list[nn.Module] = []
    for i, ch in enumerate(widths):
        if i > 0:
            layers.append(Transition(widths[i - 1], ch, scale))
        layers += [ResidualBlock(ch, total) for _ in range(blocks)]
    return nn.Sequential(*layers)


class R3GenerativeBasis(nn.Module):
    """A learnt (C, base, base) basis, each channel scaled by a linear map of the latent. (B, Z) -> (B, C, b, b)"""

    def __init__(self, latent: int, channels: int, base: int) -> None:
        super().__init__()
        self.basis = nn.Parameter(torch.randn(channels, base, base))
        self.linear = nn.Linear(latent, channels)

    def forward(self, z: Tensor) -> Tensor:
        return self.basis[None] * self.linear(z)[:, :, None, None]


class R3Generator(nn.Module):
    def __init__(self, spec: NetSpec, cfg: ModelConfig) -> None:
        super().__init__()
        refuse_settings(cfg, ("g_norm", "d_norm", "g_spectral_norm", "d_spectral_norm"), "model.arch=r3gan has no "
                        "normalisation layers (its penalties r1 and r2 stabilise it)")
        channels, size = image_shape(spec.sample_shape, "r3gan")
        base, n_up = resolution_plan(size, "r3gan")
        widths = stage_widths(cfg.g_width, n_up)
        self.num_classes = spec.g_classes
        self.basis = R3GenerativeBasis(spec.z_dim + spec.g_classes, widths[0], base)
        self.body = stages(widths, cfg.blocks, 2.0)
        self.out = nn.Conv2d(widths[-1], channels, 1)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        h = self.body(self.basis(conditioned_latent(z, y, self.num_classes)))
        return torch.tanh(self.out(h))  # (B, C, H, W)


class R3Discriminator(nn.Module):
    def __init__(self, spec: NetSpec, cfg: ModelConfig) -> None:
        super().__init__()
        channels, size = image_shape(spec.sample_shape, "r3gan")
        base, n_up = resolution_plan(size, "r3gan")
        widths = stage_widths(cfg.d_width, n_up)[::-1]  # full resolution first
        self.label_input = LabelInput(cfg.label_input, spec.d_classes, widths[-1])
        self.extract = nn.Conv2d(channels + self.label_input.extra_channels, widths[0], 1)
        self.body = stages(widths, cfg.blocks, 0.5)
        self.basis = nn.Conv2d(widths[-1], widths[-1], base, groups=widths[-1])  # (B, C, b, b) -> (B, C, 1, 1)
        self.head = DHead(widths[-1], self.label_input, spec.aux_dim, False)

    def forward(self, x: Tensor, y: Tensor | None = None) -> DOut:
        h = self.body(self.extract(self.label_input.concat(x, y)))
        return self.head(self.basis(h).flatten(1), y)


ARCHS.register("r3gan", doc="R3GAN's normalisation-free residual G and D (Huang et al. 2024)")((R3Generator, R3Discriminator))
