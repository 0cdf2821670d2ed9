"""Brock et al. 2019 (BigGAN): a residual G with class-conditional batch norm and hierarchical latents.

G: z is split into one chunk per resolution plus one for the input layer (skip-z). The input chunk goes through
a linear layer to (width, base, base); each upsampling residual block is conditioned on c = [shared(y), z_i],
the class's row of one embedding shared by all blocks joined to the block's own chunk of z, through conditional
batch norms whose gain (1 + W_g c) and bias (W_b c) are linear in c. Spectral norm on G's layers
(model.g_spectral_norm), self-attention at model.attention, then BN, ReLU, conv3, tanh. Without classes the
blocks are conditioned on their chunks of z alone.

D is the residual discriminator of gankit/nets/resnet.py (SNGAN's, with spectral norm, label projection and
self-attention from the model config), which is BigGAN's at a constant width.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.nets import ARCHS, ModelConfig, NetSpec
from gankit.nets.common import image_shape, resolution_plan
from gankit.nets.resnet import ResNetDiscriminator
from gankit.nn import SelfAttention, maybe_sn


class ConditionalBatchNorm(nn.Module):
    """Batch norm without its own affine: gain 1 + W_g c and bias W_b c per sample. (B, C, H, W), (B, K)"""

    def __init__(self, channels: int, cond_dim: int, sn: bool) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.gain = maybe_sn(nn.Linear(cond_dim, channels, bias=False), sn)
        self.bias = maybe_sn(nn.Linear(cond_dim, channels, bias=False), sn)

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        return self.norm(x) * (1 + self.gain(c))[:, :, None, None] + self.bias(c)[:, :, None, None]


class GBlock(nn.Module):
    """CBN, ReLU, upsample x2, conv3, CBN, ReLU, conv3; shortcut upsample, conv1 (BigGAN's G block)."""

    def __init__(self, ch: int, cond_dim: int, sn: bool) -> None:
        super().__init__()
        self.norm1, self.norm2 = ConditionalBatchNorm(ch, cond_dim, sn), ConditionalBatchNorm(ch, cond_dim, sn)
        self.conv1 = maybe_sn(nn.Conv2d(ch, ch, 3, 1, 1), sn)
        self.conv2 = maybe_sn(nn.Conv2d(ch, ch, 3, 1, 1), sn)
        self.skip = maybe_sn(nn.Conv2d(ch, ch, 1), sn)

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        h = F.interpolate(F.relu(self.norm1(x, c)), scale_factor=2)
        h = self.conv2(F.relu(self.norm2(self.conv1(h), c)))
        return h + self.skip(F.interpolate(x, scale_factor=2))  # (B, C, 2H, 2W)


def z_chunks(z_dim: int, n_blocks: int) -> list[int]:
    """Sizes of the chunks of z: one for the input layer, one per block; equal, the input layer's taking the
    remainder (BigGAN: 120 = 6 x 20 at 128 px)."""
    size = z_dim // (n_blocks + 1)
    if size < 1:
        raise ConfigError(f"model.z_dim={z_dim} is too small for BigGAN's hierarchical latents: it is split into "
                          f"{n_blocks + 1} chunks (one per resolution and one for the input); use z_dim >= {n_blocks + 1}")
    return [z_dim - n_blocks * size] + [size] * n_blocks


class BigGANGenerator(nn.Module):
    def __init__(self, spec: NetSpec, cfg: ModelConfig) -> None:
        super().__init__()
        if cfg.g_norm != "batch":
            raise ConfigError(f"model.arch=biggan: G's norms are class-conditional batch norms; model.g_norm="
                              f"{cfg.g_norm!r} does not apply: set model.g_norm=batch")
        channels, size = image_shape(spec.sample_shape, "biggan")
        self.base, n_up = resolution_plan(size, "biggan")
        self.width, self.num_classes = cfg.g_width, spec.g_classes
        sn = cfg.g_spectral_norm
        self.chunks = z_chunks(spec.z_dim, n_up)
        self.shared = nn.Embedding(spec.g_classes, cfg.embed_dim) if spec.g_classes else None
        cond_dim = self.chunks[1] + (cfg.embed_dim if spec.g_classes else 0)
        self.project = maybe_sn(nn.Linear(self.chunks[0], self.width * self.base**2), sn)
        self.blocks = nn.ModuleList(GBlock(self.width, cond_dim, sn) for _ in range(n_up))
        res, self.attention = self.base, nn.ModuleDict()
        for i in range(n_up):
            res *= 2
            if cfg.attention == res:  # after block i
                self.attention[str(i)] = SelfAttention(self.width, sn)
        self.out = nn.Sequential(nn.BatchNorm2d(self.width), nn.ReLU(),
                                 maybe_sn(nn.Conv2d(self.width, channels, 3, 1, 1), sn), nn.Tanh())

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        parts = torch.split(z, self.chunks, dim=1)
        if self.shared is not None:
            if y is None:
                raise ValueError("this generator is conditional: pass labels y")
            embedded = self.shared(y)  # (B, E): one embedding shared by every block
        h = self.project(parts[0]).view(-1, self.width, self.base, self.base)
        for i, (block, z_i) in enumerate(zip(self.blocks, parts[1:])):
            h = block(h, z_i if self.shared is None else torch.cat([embedded, z_i], dim=1))
            if str(i) in self.attention:
                h = self.attention[str(i)](h)
        return self.out(h)  # (B, C, H, W)


ARCHS.register("biggan", doc="BigGAN's G (conditional batch norm, shared embedding, skip-z; Brock et al. 2019) and "
               "the residual D")((BigGANGenerator, ResNetDiscriminator))
