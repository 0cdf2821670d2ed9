"""Fully convolutional texture networks: SGAN/PSGAN's generator on a spatial noise tensor and their score-map
discriminator (Jetchev et al. 2016; Bergmann et al. 2017), the Markovian GAN's discriminator on feature patches
(Li & Wand 2016), and fixed feature networks (a frozen VGG19 prefix, or random convolutions).

Every network here is fully convolutional: G makes an image of 2^n_up times its noise's height and width at any
size, and D scores each patch of its receptive field.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from gankit.nets.common import stage_widths
from gankit.nets.translation import conv_unit
from gankit.types import DOut

G_NORM, D_NORM = "model.g_norm", "model.d_norm"
KERNEL, STRIDE, PADDING = 4, 2, 1  # every up/down step exactly doubles/halves the size (the papers: 5x5 kernels)


class SpatialGenerator(nn.Module):
    """Jetchev et al. 2016 (SGAN), Bergmann et al. 2017 (PSGAN): n_up transposed convs from spatial noise.

    z (B, local + global + periodic, h, w) packs the three PSGAN components: local noise (i.i.d. per position),
    a global code (the same at every position: one texture per code) and, for each periodic channel, a phase in
    [0, 2 pi) (constant over space). G replaces the phases by the periodic component sin(k . (row, col) + phase),
    its wave numbers k (2 per channel) learnt from the global code by a small MLP (PSGAN, Sec. 3.2); SGAN is
    local noise alone (global = periodic = 0). Output (B, C, h 2^n_up, w 2^n_up) in [-1, 1]. With ``rgb_width``,
    the last up-sampling step makes rgb_width feature channels (normalised, ReLU) and a 3x3 conv at full
    resolution makes the image: a layer of its own for pixel-level detail (the papers: the last step makes it).
    """

    def __init__(self, channels: int, *, local_dim: int, global_dim: int = 0, periodic_dim: int = 0,
                 width: int = 64, n_up: int = 4, wave_hidden: int = 60, norm: str | None = "batch",
                 upsample: str = "transpose", rgb_width: int = 0) -> None:
        super().__init__()
        if periodic_dim and not global_dim:
            raise ValueError("PSGAN's periodic component needs a global code to learn its wave numbers from")
        self.local_dim, self.global_dim, self.periodic_dim, self.n_up = local_dim, global_dim, periodic_dim, n_up
        self.noise_dim = local_dim + global_dim + periodic_dim
        widths = [self.noise_dim, *stage_widths(width, n_up - 2)]  # e.g. noise -> 4w -> 2w -> w
        self.body = nn.Sequential(*(
            up_unit(widths[i], widths[i + 1], upsample, norm=norm, act=nn.ReLU()) for i in range(n_up - 1)))
        if rgb_width:  # the last step to rgb_width channels, then a full-resolution 3x3 conv to the image
            last = [*up_unit(widths[-1], rgb_width, upsample, norm=norm, act=nn.ReLU()),
                    nn.Conv2d(rgb_width, channels, 3, 1, 1)]
        else:  # the papers: the last step makes the image
            last = [*up_unit(widths[-1], channels, upsample, norm=None, act=None)]
        self.out = nn.Sequential(*last, nn.Tanh())
        self.waves = (nn.Sequential(nn.Linear(global_dim, wave_hidden), nn.ReLU(), nn.Linear(wave_hidden, 2 * periodic_dim))
                      if periodic_dim else None)
        if self.waves is not None:
            init_wave_numbers(self.waves[-1], periodic_dim)

    @property
    def scale(self) -> int:
        """Output pixels per noise position along each side."""
        return 2 ** self.n_up

    def wave_numbers(self, global_code: Tensor, period: int | None = None) -> Tensor:
        """(B, P, 2) wave numbers (radians per noise position, along rows and columns) of the global code (B, G);
        with ``period``, rounded to whole cycles per ``period`` positions so the component repeats exactly."""
        assert self.waves is not None
        k = self.waves(global_code).view(-1, self.periodic_dim, 2)  # (B, P, 2)
        if period is None:
            return k
        cycle = 2 * math.pi / period
        return torch.round(k / cycle) * cycle

    def periodic(self, global_code: Tensor, phase: Tensor, height: int, width: int, period: int | None) -> Tensor:
        """PSGAN's periodic component (B, P, height, width): sin(k_row * row + k_col * col + phase)."""
        k = self.wave_numbers(global_code, period)  # (B, P, 2)
        rows = torch.arange(height, device=phase.device, dtype=phase.dtype)[:, None]  # (h, 1)
        cols = torch.arange(width, device=phase.device, dtype=phase.dtype)[None, :]  # (1, w)
        angle = k[..., 0, None, None] * rows + k[..., 1, None, None] * cols  # (B, P, h, w)
        return torch.sin(angle + phase[..., None, None])

    def forward(self, z: Tensor, y: Tensor | None = None, *, period: int | None = None) -> Tensor:
        if z.dim() != 4 or z.shape[1] != self.noise_dim:
            raise ValueError(f"SpatialGenerator takes noise (B, {self.noise_dim}, h, w); got {tuple(z.shape)}")
        if self.periodic_dim:
            local, global_map, phase = z.split([self.local_dim, self.global_dim, self.periodic_dim], dim=1)
            waves = self.periodic(global_map[:, :, 0, 0], phase[:, :, 0, 0], *z.shape[2:], period)
            z = torch.cat([local, global_map, waves], dim=1)  # (B, L + G + P, h, w)
        return self.out(self.body(z))  # (B, C, h 2^n_up, w 2^n_up)


def up_unit(ch_in: int, ch_out: int, upsample: str, *, norm: str | None, act: nn.Module | None) -> nn.Sequential:
    """One x2 up-sampling step: ``transpose``, a 4x4 stride-2 transposed conv (the papers), or ``resize``, nearest
    x2 then a 3x3 conv (Odena et al. 2016, "Deconvolution and Checkerboard Artifacts": every output pixel gets the
    same number of kernel taps, so no checkerboard)."""
    if upsample == "transpose":
        return conv_unit(ch_in, ch_out, KERNEL, STRIDE, PADDING, norm=norm, act=act, field=G_NORM, transpose=True)
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                         *conv_unit(ch_in, ch_out, 3, 1, 1, norm=norm, act=act, field=G_NORM))


def init_wave_numbers(last: nn.Linear, periodic_dim: int) -> None:
    """PSGAN's start (the authors' code): channel i's waves run along rows (even i) or columns (odd i) at
    pi (0.5 + 0.5 (i + 1) / P) radians per noise position, periods of 2 to 4 positions, with the global code's
    influence small at first. From k = 0 (a constant channel) the sine's gradient barely moves k; from here the
    periodic channels carry a spatial frequency from the first step."""
    band = torch.pi * (0.5 + 0.5 * torch.arange(1, periodic_dim + 1) / periodic_dim)  # (P,)
    bias = torch.zeros(periodic_dim, 2)
    bias[0::2, 0], bias[1::2, 1] = band[0::2], band[1::2]  # (P, 2): (along rows, along columns)
    with torch.no_grad():
        last.bias.copy_(bias.reshape(-1))
        last.weight.mul_(0.1)


def periodic_pad(z: Tensor, margin: int) -> Tensor:
    """(B, C, h, w) -> (B, C, h + 2 margin, w + 2 margin): the noise continued periodically on every side (any
    margin, also more than one period)."""
    rows = torch.arange(-margin, z.shape[2] + margin, device=z.device) % z.shape[2]
    cols = torch.arange(-margin, z.shape[3] + margin, device=z.device) % z.shape[3]
    return z[:, :, rows][:, :, :, cols]


class SpatialDiscriminator(nn.Module):
    """SGAN/PSGAN's D: n_down stride-2 convs, the last to one channel: a map of logits (B, H/2^n, W/2^n), one
    per patch of its receptive field (every position of the map is an independent real/fake judgement)."""

    def __init__(self, channels: int, *, width: int = 64, n_down: int = 4, norm: str | None = "batch",
                 spectral: bool = False) -> None:
        super().__init__()
        widths = [channels, *reversed(stage_widths(width, n_down - 2))]  # e.g. C -> w -> 2w -> 4w
        self.trunk = nn.Sequential(*(
            conv_unit(widths[i], widths[i + 1], KERNEL, STRIDE, PADDING, norm=norm if i > 0 else None,
                      act=nn.LeakyReLU(0.2), field=D_NORM, spectral=spectral) for i in range(n_down - 1)))
        self.out = conv_unit(widths[-1], 1, KERNEL, STRIDE, PADDING, spectral=spectral)

    def forward(self, x: Tensor, y: Tensor | None = None) -> DOut:
        h = self.trunk(x)  # (B, F, H / 2^(n-1), W / 2^(n-1))
        return DOut(logit=self.out(h).squeeze(1), features=h.mean(dim=(2, 3)))  # logit (B, H', W')


class RandomFeatures(nn.Module):
    """A fixed random conv encoder in the shape of VGG19 up to relu3_1 (two 3x3 conv + ReLU + 2x2 average-pool
    stages, then a 3x3 conv + ReLU: (B, 4 width, H/4, W/4)), its weights drawn from ``seed`` and never trained.
    Random conv features describe textures well (Ustyuzhaninov et al. 2017); the Markovian GAN's D reads them
    where the VGG19 weights are absent."""

    def __init__(self, channels: int, *, width: int = 64, seed: int = 0) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        chs = [channels, width, 2 * width, 4 * width]
        layers: list[nn.Module] = []
        for i in range(3):
            conv = nn.Conv2d(chs[i], chs[i + 1], 3, padding=1, padding_mode="reflect")
            with torch.no_grad():  # He-normal, so the ReLU features keep their scale through the stack
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=generator) * math.sqrt(2 / (9 * chs[i])))
                conv.bias.zero_()
            layers += [conv, nn.ReLU()] + ([nn.AvgPool2d(2)] if i < 2 else [])
        self.net = nn.Sequential(*layers).requires_grad_(False)

    def train(self, mode: bool = True) -> "RandomFeatures":
        return super().train(False)  # fixed features: no mode to switch

    def forward(self, images: Tensor) -> Tensor:
        return self.net(images)  # (B, 4 width, H / 4, W / 4)


class FeaturePatchDiscriminator(nn.Module):
    """Li & Wand 2016 (Markovian GAN): D scores "neural patches", the local windows of a fixed network's feature
    map (VGG19 relu3_1 in the paper), with a small trained conv head: a logit map (B, H/4 - 2, W/4 - 2)."""

    def __init__(self, features: nn.Module, feature_channels: int, *, width: int = 64, norm: str | None = "batch",
                 spectral: bool = False) -> None:
        super().__init__()
        self.features = features  # frozen (requires_grad False): only the head trains
        self.head = conv_unit(feature_channels, width, 3, 1, 0, norm=norm, act=nn.LeakyReLU(0.2), field=D_NORM,
                              spectral=spectral)  # each output sees a 3x3 window of feature positions
        self.out = conv_unit(width, 1, 1, spectral=spectral)

    def forward(self, x: Tensor, y: Tensor | None = None) -> DOut:
        h = self.head(self.features(x))  # (B, width, H', W')
        return DOut(logit=self.out(h).squeeze(1), features=h.mean(dim=(2, 3)))


__all__ = ["SpatialGenerator", "SpatialDiscriminator", "periodic_pad", "RandomFeatures", "FeaturePatchDiscriminator"]
