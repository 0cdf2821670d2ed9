"""Residual G and D of Miyato et al. 2018 (SNGAN, CIFAR) and Zhang et al. 2019 (SAGAN).

G: z -> (width, base, base) -> n x ResUp -> BN, ReLU, conv3 -> tanh.
D: optimised first ResDown -> ResDown ... -> one ResBlock at base -> ReLU -> sum over positions.
"""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from gankit.nets import ARCHS, ModelConfig, NetSpec
from gankit.nets.common import DHead, conditioned_latent, image_shape, resolution_plan
from gankit.nn import LabelInput, SelfAttention, maybe_sn, norm2d
from gankit.types import DOut


class ResUp(nn.Module):
    """norm, ReLU, upsample x2, conv3, norm, ReLU, conv3; shortcut upsample, conv1."""

    def __init__(self, ch: int, norm: str | None, sn: bool) -> None:
        super().__init__()
        self.norm1, self.norm2 = norm2d(norm, ch, "model.g_norm"), norm2d(norm, ch, "model.g_norm")
        self.conv1 = maybe_sn(nn.Conv2d(ch, ch, 3, 1, 1), sn)
        self.conv2 = maybe_sn(nn.Conv2d(ch, ch, 3, 1, 1), sn)
        self.skip = maybe_sn(nn.Conv2d(ch, ch, 1), sn)

    def forward(self, x: Tensor) -> Tensor:
        h = F.interpolate(F.relu(self.norm1(x)), scale_factor=2)
        h = self.conv2(F.relu(self.norm2(self.conv1(h))))
        return h + self.skip(F.interpolate(x, scale_factor=2))  # (B, C, 2H, 2W)


class ResDown(nn.Module):
    """[ReLU], conv3, ReLU, conv3, [avgpool]; shortcut conv1, [avgpool]. ``first`` skips the pre-ReLU."""

    def __init__(self, ch_in: int, ch: int, *, down: bool, first: bool, norm: str | None, sn: bool) -> None:
        super().__init__()
        self.down, self.first = down, first
        self.conv1 = maybe_sn(nn.Conv2d(ch_in, ch, 3, 1, 1), sn)
        self.conv2 = maybe_sn(nn.Conv2d(ch, ch, 3, 1, 1), sn)
        self.norm = norm2d(norm, ch, "model.d_norm")
        self.skip = maybe_sn(nn.Conv2d(ch_in, ch, 1), sn) if (ch_in != ch or down) else nn.Identity()

    def _pool(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(x, 2) if self.down else x

    def forward(self, x: Tensor) -> Tensor:
        h = x if self.first else F.relu(x)
        h = self.conv2(F.relu(self.norm(self.conv1(h))))
        skip = self._pool(self.skip(x)) if self.first else self.skip(self._pool(x))
        return self._pool(h) + skip


class ResNetGenerator(nn.Module):
    def __init__(self, spec: NetSpec, cfg: ModelConfig) -> None:
        super().__init__()
        channels, size = image_shape(spec.sample_shape, "resnet")
        self.base, n_up = resolution_plan(size, "resnet")
        self.num_classes, self.width = spec.g_classes, cfg.g_width
        sn = cfg.g_spectral_norm
        self.project = maybe_sn(nn.Linear(spec.z_dim + spec.g_classes, self.width * self.base**2), sn)
        blocks: list[nn.Module] = []
        res = self.base
        for _ in range(n_up):
            blocks.append(ResUp(self.width, cfg.g_norm, sn))
            res *= 2
            if cfg.attention == res:
                blocks.append(SelfAttention(self.width, sn))
        self.blocks = nn.Sequential(*blocks)
        self.out = nn.Sequential(norm2d(cfg.g_norm, self.width, "model.g_norm"), nn.ReLU(),
                                 maybe_sn(nn.Conv2d(self.width, channels, 3, 1, 1), sn), nn.Tanh())

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        h = self.project(conditioned_latent(z, y, self.num_classes))
        h = self.blocks(h.view(-1, self.width, self.base, self.base))
        return self.out(h)  # (B, C, H, W)


class ResNetDiscriminator(nn.Module):
    def __init__(self, spec: NetSpec, cfg: ModelConfig) -> None:
        super().__init__()
        channels, size = image_shape(spec.sample_shape, "resnet")
        _, n_down = resolution_plan(size, "resnet")
        sn, width = cfg.d_spectral_norm, cfg.d_width
        self.label_input = LabelInput(cfg.label_input, spec.d_classes, width, sn)
        ch_in = channels + self.label_input.extra_channels
        blocks: list[nn.Module] = []
        res = size
        for i in range(n_down):
            blocks.append(ResDown(ch_in if i == 0 else width, width, down=True, first=i == 0, norm=cfg.d_norm, sn=sn))
            res //= 2
            if cfg.attention == res:
                blocks.append(SelfAttention(width, sn))
        blocks.append(ResDown(width, width, down=False, first=False, norm=cfg.d_norm, sn=sn))
        self.blocks = nn.Sequential(*blocks)
        self.head = DHead(width, self.label_input, spec.aux_dim, sn)

    def forward(self, x: Tensor, y: Tensor | None = None) -> DOut:
        h = F.relu(self.blocks(self.label_input.concat(x, y)))  # (B, W, base, base)
        return self.head(h.sum(dim=(2, 3)), y)  # global sum pooling, as in SNGAN


ARCHS.register("resnet", doc="residual G and D (Miyato et al. 2018, Zhang et al. 2019)")((ResNetGenerator, ResNetDiscriminator))
