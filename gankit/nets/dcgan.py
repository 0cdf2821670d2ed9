"""Radford et al. 2016 (DCGAN): strided (transposed) convolutions, batch norm, no pooling."""
from __future__ import annotations

from torch import Tensor, nn

from gankit.nets import ARCHS, ModelConfig, NetSpec
from gankit.nets.common import DHead, conditioned_latent, image_shape, resolution_plan
from gankit.nn import LabelInput, SelfAttention, maybe_sn, norm1d, norm2d
from gankit.types import DOut


class DCGANGenerator(nn.Module):
    """z -> (width*2^(n-1), base, base) -> n x [ConvT 4/2, norm, ReLU] doubling size -> tanh image."""

    def __init__(self, spec: NetSpec, cfg: ModelConfig) -> None:
        super().__init__()
        channels, size = image_shape(spec.sample_shape, "dcgan")
        self.base, n_up = resolution_plan(size, "dcgan")
        self.num_classes = spec.g_classes
        sn = cfg.g_spectral_norm
        self.ch0 = cfg.g_width * 2 ** (n_up - 1)
        self.project = nn.Sequential(
            maybe_sn(nn.Linear(spec.z_dim + spec.g_classes, self.ch0 * self.base**2), sn),
            norm1d(cfg.g_norm, self.ch0 * self.base**2, "model.g_norm"),
            nn.ReLU(),
        )
        blocks: list[nn.Module] = []
        ch, res = self.ch0, self.base
        for _ in range(n_up - 1):
            blocks += [maybe_sn(nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1), sn), norm2d(cfg.g_norm, ch // 2, "model.g_norm"), nn.ReLU()]
            ch, res = ch // 2, res * 2
            if cfg.attention == res:
                blocks.append(SelfAttention(ch, sn))
        blocks += [maybe_sn(nn.ConvTranspose2d(ch, channels, 4, 2, 1), sn), nn.Tanh()]
        self.blocks = nn.Sequential(*blocks)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        h = self.project(conditioned_latent(z, y, self.num_classes))  # (B, ch0 * base^2)
        return self.blocks(h.view(-1, self.ch0, self.base, self.base))  # (B, C, H, W)


class DCGANDiscriminator(nn.Module):
    """image -> [Conv 4/2, norm, LeakyReLU 0.2] halving size down to base -> flatten -> head."""

    def __init__(self, spec: NetSpec, cfg: ModelConfig) -> None:
        super().__init__()
        channels, size = image_shape(spec.sample_shape, "dcgan")
        base, n_down = resolution_plan(size, "dcgan")
        sn = cfg.d_spectral_norm
        ch_last = cfg.d_width * 2 ** (n_down - 1)
        self.label_input = LabelInput(cfg.label_input, spec.d_classes, ch_last * base**2, sn)
        layers: list[nn.Module] = []
        ch_in, ch, res = channels + self.label_input.extra_channels, cfg.d_width, size
        for i in range(n_down):
            norm = norm2d(cfg.d_norm, ch, "model.d_norm") if i > 0 else nn.Identity()  # DCGAN: no norm on D's input layer
            layers += [maybe_sn(nn.Conv2d(ch_in, ch, 4, 2, 1), sn), norm, nn.LeakyReLU(0.2)]
            ch_in, ch, res = ch, ch * 2, res // 2
            if cfg.attention == res:
                layers.append(SelfAttention(ch_in, sn))
        self.trunk = nn.Sequential(*layers, nn.Flatten())
        self.head = DHead(ch_in * base**2, self.label_input, spec.aux_dim, sn)

    def forward(self, x: Tensor, y: Tensor | None = None) -> DOut:
        return self.head(self.trunk(self.label_input.concat(x, y)), y)


ARCHS.register("dcgan", doc="DCGAN convolutional G and D (Radford et al. 2016)")((DCGANGenerator, DCGANDiscriminator))
