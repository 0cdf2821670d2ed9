"""Multilayer perceptrons (Goodfellow et al. 2014): for 2D mixtures and flat images."""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from gankit.nets import ARCHS, ModelConfig, NetSpec
from gankit.nets.common import DHead, conditioned_latent
from gankit.nn import LabelInput, maybe_sn, norm1d
from gankit.types import DOut


class MLPGenerator(nn.Module):
    """z -> [Linear, norm, ReLU] x g_layers -> Linear -> sample (tanh for images)."""

    def __init__(self, spec: NetSpec, cfg: ModelConfig) -> None:
        super().__init__()
        self.sample_shape = spec.sample_shape
        self.num_classes = spec.g_classes
        width, sn = cfg.g_width, cfg.g_spectral_norm
        layers: list[nn.Module] = []
        fan_in = spec.z_dim + spec.g_classes
        for _ in range(cfg.g_layers):
            layers += [maybe_sn(nn.Linear(fan_in, width), sn), norm1d(cfg.g_norm, width, "model.g_norm"), nn.ReLU()]
            fan_in = width
        layers.append(maybe_sn(nn.Linear(fan_in, math.prod(spec.sample_shape)), sn))
        if len(spec.sample_shape) == 3:  # images live in [-1, 1]
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        out = self.net(conditioned_latent(z, y, self.num_classes))  # (B, prod(shape))
        return out.view(-1, *self.sample_shape)


class MLPDiscriminator(nn.Module):
    """sample -> [Linear, norm, LeakyReLU(0.2)] x d_layers -> head."""

    def __init__(self, spec: NetSpec, cfg: ModelConfig) -> None:
        super().__init__()
        width, sn = cfg.d_width, cfg.d_spectral_norm
        self.label_input = LabelInput(cfg.label_input, spec.d_classes, width, sn)
        layers: list[nn.Module] = []
        fan_in = math.prod(spec.sample_shape) + self.label_input.extra_channels
        for i in range(cfg.d_layers):
            norm = norm1d(cfg.d_norm, width, "model.d_norm") if i > 0 else nn.Identity()
            layers += [maybe_sn(nn.Linear(fan_in, width), sn), norm, nn.LeakyReLU(0.2)]
            fan_in = width
        self.trunk = nn.Sequential(*layers)
        self.head = DHead(fan_in, self.label_input, spec.aux_dim, sn)

    def forward(self, x: Tensor, y: Tensor | None = None) -> DOut:
        h = self.label_input.concat(torch.flatten(x, 1), y)  # (B, D [+K])
        return self.head(self.trunk(h), y)


ARCHS.register("mlp", doc="multilayer perceptron G and D (Goodfellow et al. 2014)")((MLPGenerator, MLPDiscriminator))
