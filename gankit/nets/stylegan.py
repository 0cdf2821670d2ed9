"""Karras et al. 2019 (StyleGAN) and 2020 (StyleGAN2): a mapping network from z to w and a synthesis network
styled by w at every layer.

Mapping: z (pixel-normalised; joined by a normalised class embedding for a conditional G) through
``model.mapping_layers`` equalised-lr linear layers (lr multiplier 0.01) with leaky ReLU to w (``z_dim`` wide).
Synthesis: a learnt constant (width, base, base) -> one styled 3x3 conv at the base resolution -> two styled 3x3
convs per doubling (the first upsamples, bilinear) -> an RGB output at every resolution, the outputs summed after
upsampling (StyleGAN2's skip architecture; StyleGAN's progressive output is its limit). Every styled conv adds
per-pixel noise scaled by a learnt per-layer strength, a bias, and leaky ReLU x sqrt(2).

- v2 (``model.arch=stylegan2``): modulated convolutions: the kernel is scaled per input channel by an affine map
  of w (bias 1) and demodulated (each output channel's kernel divided by its norm), as a grouped convolution.
- v1 (``model.arch=stylegan``): AdaIN: the conv output is instance-normalised and scaled and shifted by affine
  maps of w (scale bias 1).

Training-time behaviour lives in G, so every recipe gets it: style mixing (with probability
``model.style_mixing`` a second z's w takes over from a random layer on, so that neighbouring layers' styles are
not correlated) and a running average of w (``w_avg``, decay 0.995) for the truncation trick, w' = w_avg +
psi (w - w_avg) (``forward(z, y, psi=...)``). ``styles`` and ``synthesize`` expose the two halves (path-length
regularisation, style-mixing grids). D is the residual D of gankit/nets/resnet.py (no normalisation in the presets).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit import distributed as noise
from gankit.errors import ConfigError
from gankit.nets import ARCHS, ModelConfig, NetSpec
from gankit.nets.common import image_shape, refuse_settings, resolution_plan, stage_widths
from gankit.nets.resnet import ResNetDiscriminator
from gankit.nn.layers import EqualLinear, pixel_norm

SLOPE = 0.2
GAIN = math.sqrt(2.0)  # leaky ReLU's output rescaled to unit variance, as in the official code
W_AVG_DECAY = 0.995


class MappingNetwork(nn.Module):
    """z (B, Z) [, y (B,)] -> w (B, Z)."""

    def __init__(self, z_dim: int, classes: int, layers: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(classes, z_dim) if classes else None
        width_in = z_dim * (2 if classes else 1)
        self.layers = nn.ModuleList(EqualLinear(width_in if i == 0 else z_dim, z_dim, lr_mul=0.01)
                                    for i in range(layers))

    def forward(self, z: Tensor, y: Tensor | None) -> Tensor:
        h = pixel_norm(z)
        if self.embed is not None:
            if y is None:
                raise ValueError("this generator is conditional: pass labels y")
            h = torch.cat([h, pixel_norm(self.embed(y))], dim=1)
        for layer in self.layers:
            h = F.leaky_relu(layer(h), SLOPE) * GAIN
        return h


class ModulatedConv(nn.Module):
    """StyleGAN2's modulated (and optionally demodulated) k x k convolution, one kernel per sample."""

    def __init__(self, ch_in: int, ch_out: int, k: int, w_dim: int, *, demodulate: bool = True,
                 up: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(ch_out, ch_in, k, k))
        self.scale = 1 / math.sqrt(ch_in * k * k)
        self.affine = EqualLinear(w_dim, ch_in, bias_init=1.0)
        self.demodulate, self.up, self.padding = demodulate, up, k // 2

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        b, ch_in, h, wd = x.shape
        style = self.affine(w)  # (B, in)
        weight = self.scale * self.weight[None] * style[:, None, :, None, None]  # (B, out, in, k, k)
        if self.demodulate:
            weight = weight * torch.rsqrt(weight.pow(2).sum(dim=(2, 3, 4), keepdim=True) + 1e-8)
        if self.up:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            h, wd = h * 2, wd * 2
        out = F.conv2d(x.reshape(1, b * ch_in, h, wd), weight.reshape(-1, ch_in, *weight.shape[3:]),
                       padding=self.padding, groups=b)
        return out.view(b, -1, h, wd)


class AdaIN(nn.Module):
    """StyleGAN's adaptive instance norm: instance-normalised x, scaled by (affine(w), bias 1) and shifted."""

    def __init__(self, channels: int, w_dim: int) -> None:
        super().__init__()
        self.scale = EqualLinear(w_dim, channels, bias_init=1.0)
        self.shift = EqualLinear(w_dim, channels)

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        return F.instance_norm(x) * self.scale(w)[:, :, None, None] + self.shift(w)[:, :, None, None]


class StyledConv(nn.Module):
    """A styled 3x3 conv (v2: modulated; v1: conv then AdaIN), noise, bias, leaky ReLU.

    The noise is fresh in training (from the shared random stream, so a resumed or multi-process run draws what
    one process would) and a fixed map per layer in eval mode (the official code's ``noise_mode='const'``), so
    the same z gives the same image."""

    def __init__(self, ch_in: int, ch_out: int, w_dim: int, *, up: bool, version: int, size: int) -> None:
        super().__init__()
        self.register_buffer("const_noise", torch.randn(1, 1, size, size,
                                                        generator=torch.Generator().manual_seed(size * 1000 + ch_out)))
        self.version, self.up = version, up
        if version == 2:
            self.conv = ModulatedConv(ch_in, ch_out, 3, w_dim, up=up)
        else:
            self.conv = nn.Conv2d(ch_in, ch_out, 3, 1, 1, bias=False)
            self.adain = AdaIN(ch_out, w_dim)
        self.noise_strength = nn.Parameter(torch.zeros(()))
        self.bias = nn.Parameter(torch.zeros(ch_out))

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        if self.version == 2:
            h = self.conv(x, w)
        else:
            h = self.conv(F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False) if self.up else x)
        b, _, height, width = h.shape
        fresh = noise.batch_randn(b, 1, height, width, device=h.device, dtype=h.dtype) if self.training else None
        h = h + self.noise_strength * (fresh if fresh is not None else self.const_noise)
        h = F.leaky_relu(h + self.bias[None, :, None, None], SLOPE) * GAIN
        return self.adain(h, w) if self.version == 1 else h


class ToImage(nn.Module):
    """A styled 1x1 conv to the image's channels (modulated, not demodulated; v1: a plain 1x1 conv)."""

    def __init__(self, ch_in: int, channels: int, w_dim: int, version: int) -> None:
        super().__init__()
        self.conv = ModulatedConv(ch_in, channels, 1, w_dim, demodulate=False) if version == 2 else None
        self.plain = nn.Conv2d(ch_in, channels, 1) if version == 1 else None
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        out = self.conv(x, w) if self.conv is not None else self.plain(x)
        return out + self.bias[None, :, None, None]


class StyleGenerator(nn.Module):
    """G(z, y=None, psi=None) -> images; ``styles`` (z -> per-layer w) and ``synthesize`` (w -> images)."""

    version = 2

    def __init__(self, spec: NetSpec, cfg: ModelConfig) -> None:
        super().__init__()
        arch = "stylegan2" if self.version == 2 else "stylegan"
        refuse_settings(cfg, ("g_norm", "g_spectral_norm", "attention"),
                        f"model.arch={arch}: G's layers are styled by w, with no normalisation, spectral norm or attention")
        if not 0 <= cfg.style_mixing <= 1:
            raise ConfigError(f"model.style_mixing={cfg.style_mixing}: a probability in [0, 1] (the paper: 0.9)")
        channels, size = image_shape(spec.sample_shape, arch)
        base, n_up = resolution_plan(size, arch)
        widths = stage_widths(cfg.g_width, n_up)  # base -> full size
        w_dim, self.num_classes, self.style_mixing = spec.z_dim, spec.g_classes, cfg.style_mixing
        self.mapping = MappingNetwork(spec.z_dim, spec.g_classes, cfg.mapping_layers)
        self.const = nn.Parameter(torch.randn(widths[0], base, base))
        v, res = self.version, base
        self.convs = nn.ModuleList([StyledConv(widths[0], widths[0], w_dim, up=False, version=v, size=res)])
        self.to_images = nn.ModuleList([ToImage(widths[0], channels, w_dim, v)])
        for prev, ch in zip(widths, widths[1:]):
            res *= 2
            self.convs.append(StyledConv(prev, ch, w_dim, up=True, version=v, size=res))
            self.convs.append(StyledConv(ch, ch, w_dim, up=False, version=v, size=res))
            self.to_images.append(ToImage(ch, channels, w_dim, v))
        self.num_ws = len(self.convs) + 1  # each conv's w, the last image layer's w
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def styles(self, z: Tensor, y: Tensor | None = None, *, psi: float | None = None) -> Tensor:
        """Per-layer w (B, num_ws, W); in training also updates ``w_avg`` and mixes styles."""
        w = self.mapping(z, y)
        if self.training:
            with torch.no_grad():
                self.w_avg.lerp_(w.detach().mean(0).to(self.w_avg.dtype), 1 - W_AVG_DECAY)  # float32 under autocast
        ws = w[:, None].expand(-1, self.num_ws, -1)
        if self.training and self.style_mixing > 0:
            ws = self._mixed(ws, y)
        if psi is not None:
            ws = self.w_avg + psi * (ws - self.w_avg)
        return ws

    def _mixed(self, ws: Tensor, y: Tensor | None) -> Tensor:
        """With probability style_mixing per sample, a second z's w from a random layer 1..num_ws-1 on."""
        b, device = ws.shape[0], ws.device
        other = self.mapping(noise.batch_randn(b, ws.shape[2], device=device), y)
        u, v = noise.batch_rand(b, device=device), noise.batch_rand(b, device=device)
        cutoff = torch.where(u < self.style_mixing, 1 + (v * (self.num_ws - 1)).long(),
                             torch.full_like(u, self.num_ws, dtype=torch.long))  # (B,): num_ws means no mixing
        layer = torch.arange(self.num_ws, device=device)
        return torch.where((layer[None] < cutoff[:, None])[..., None], ws, other[:, None])

    def synthesize(self, ws: Tensor) -> Tensor:
        """Images from per-layer w (B, num_ws, W)."""
        h = self.const[None].expand(ws.shape[0], -1, -1, -1)
        h = self.convs[0](h, ws[:, 0])
        image = self.to_images[0](h, ws[:, 1])
        for i, to_image in enumerate(self.to_images[1:]):
            h = self.convs[2 * i + 1](h, ws[:, 2 * i + 1])
            h = self.convs[2 * i + 2](h, ws[:, 2 * i + 2])
            image = F.interpolate(image, scale_factor=2, mode="bilinear", align_corners=False)
            image = image + to_image(h, ws[:, 2 * i + 3])
        return torch.tanh(image)

    def forward(self, z: Tensor, y: Tensor | None = None, *, psi: float | None = None) -> Tensor:
        return self.synthesize(self.styles(z, y, psi=psi))  # (B, C, H, W)


class StyleGenerator1(StyleGenerator):
    version = 1


def is_style_generator(G: nn.Module) -> bool:
    """Whether G is a style generator (``styles`` / ``synthesize``, w_avg, truncation in w)."""
    return isinstance(G, StyleGenerator)


def mix_styles(coarse: Tensor, fine: Tensor, cutoff: int) -> Tensor:
    """Per-layer styles (B, num_ws, W): ``coarse``'s before layer ``cutoff``, ``fine``'s from it on."""
    return torch.cat([coarse[:, :cutoff], fine[:, cutoff:]], dim=1)


ARCHS.register("stylegan2", doc="StyleGAN2's G (mapping network, modulated convolutions, noise, skip outputs; Karras "
               "et al. 2020) and the residual D")((StyleGenerator, ResNetDiscriminator))
ARCHS.register("stylegan", doc="StyleGAN's G (mapping network, AdaIN, noise; Karras et al. 2019) and the residual "
               "D")((StyleGenerator1, ResNetDiscriminator))
