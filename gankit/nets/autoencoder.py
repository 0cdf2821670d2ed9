"""Auto-encoder discriminators (EBGAN, BEGAN): D(x) is the energy of x, the error of its reconstruction.

The encoder maps a sample to a code, the decoder maps the code back; ``forward`` returns a DOut whose logit
is minus the per-sample energy (higher still means "looks real", as for every discriminator) and whose
features are the code (EBGAN's pulling-away term reads it).
"""
from __future__ import annotations

import math
from collections.abc import Callable

from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.nets import ModelConfig
from gankit.nets.common import image_shape, resolution_plan
from gankit.nn import maybe_sn, norm1d, norm2d
from gankit.types import DOut

Energy = Callable[[Tensor, Tensor], Tensor]  # (x, reconstruction) -> (B,)


class AutoEncoderD(nn.Module):
    """An encoder to a code and a decoder back; the energy compares each input with its reconstruction."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module, energy: Energy) -> None:
        super().__init__()
        self.encoder, self.decoder, self.energy = encoder, decoder, energy

    def reconstruct(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(the reconstruction of x, shaped like x; the code (B, code_dim))."""
        code = self.encoder(x)
        return self.decoder(code).view_as(x), code

    def forward(self, x: Tensor, y: Tensor | None = None) -> DOut:
        reconstruction, code = self.reconstruct(x)
        return DOut(logit=-self.energy(x, reconstruction), features=code)  # logit (B,), features (B, code_dim)


def conv_autoencoder(channels: int, size: int, cfg: ModelConfig, code_dim: int) -> tuple[nn.Module, nn.Module]:
    """Encoder: DCGAN's D trunk, [Conv 4/2, norm, LeakyReLU 0.2] halving the size down to base (no norm on the
    input layer), then Linear to the code. Decoder, its mirror: Linear to (C_last, base, base), norm, ReLU, then
    [ConvT 4/2, norm, ReLU] doubling the size, the last ConvT to the image channels with no activation."""
    base, n = resolution_plan(size, "autoencoder")
    sn, norm = cfg.d_spectral_norm, cfg.d_norm
    chs = [cfg.d_width * 2**i for i in range(n)]  # channels after each down step
    down: list[nn.Module] = []
    for i, ch in enumerate(chs):
        down += [maybe_sn(nn.Conv2d(chs[i - 1] if i else channels, ch, 4, 2, 1), sn),
                 norm2d(norm, ch, "model.d_norm") if i else nn.Identity(), nn.LeakyReLU(0.2)]
    encoder = nn.Sequential(*down, nn.Flatten(), maybe_sn(nn.Linear(chs[-1] * base**2, code_dim), sn))
    up: list[nn.Module] = [maybe_sn(nn.Linear(code_dim, chs[-1] * base**2), sn), nn.Unflatten(1, (chs[-1], base, base)),
                           norm2d(norm, chs[-1], "model.d_norm"), nn.ReLU()]
    for i in reversed(range(1, n)):
        up += [maybe_sn(nn.ConvTranspose2d(chs[i], chs[i - 1], 4, 2, 1), sn), norm2d(norm, chs[i - 1], "model.d_norm"),
               nn.ReLU()]
    up.append(maybe_sn(nn.ConvTranspose2d(chs[0], channels, 4, 2, 1), sn))  # (B, C, size, size)
    return encoder, nn.Sequential(*up)


def mlp_autoencoder(features: int, cfg: ModelConfig, code_dim: int) -> tuple[nn.Module, nn.Module]:
    """Encoder: [Linear, norm, LeakyReLU 0.2] x d_layers (no norm on the first), Linear to the code. Decoder:
    [Linear, norm, ReLU] x d_layers from the code, Linear back to the sample's length."""
    sn, norm, width = cfg.d_spectral_norm, cfg.d_norm, cfg.d_width
    down: list[nn.Module] = [nn.Flatten()]
    up: list[nn.Module] = []
    for i in range(cfg.d_layers):
        down += [maybe_sn(nn.Linear(width if i else features, width), sn),
                 norm1d(norm, width, "model.d_norm") if i else nn.Identity(), nn.LeakyReLU(0.2)]
        up += [maybe_sn(nn.Linear(width if i else code_dim, width), sn), norm1d(norm, width, "model.d_norm"), nn.ReLU()]
    last = width if cfg.d_layers else features
    return (nn.Sequential(*down, maybe_sn(nn.Linear(last, code_dim), sn)),
            nn.Sequential(*up, maybe_sn(nn.Linear(width if cfg.d_layers else code_dim, features), sn)))


def default_code_dim(sample_shape: tuple[int, ...]) -> int:
    """A quarter of the sample's values, at most BEGAN's 64 and at least 1 (16 for the 8x8 digits): a bottleneck,
    so the auto-encoder cannot simply copy its input (a 64-value code reconstructs any 8x8 image)."""
    return min(64, max(1, math.prod(sample_shape) // 4))


def build_autoencoder(sample_shape: tuple[int, ...], cfg: ModelConfig, *, energy: Energy,
                      code_dim: int | None = None) -> AutoEncoderD:
    """The auto-encoder discriminator for samples of ``sample_shape``: convolutional for square images, an MLP
    with model.arch=mlp (points, or flattened images); its width is model.d_width, its code ``code_dim`` long
    (None: ``default_code_dim``)."""
    code_dim = default_code_dim(sample_shape) if code_dim is None else code_dim
    if code_dim < 1:
        raise ConfigError(f"recipe_args.code_dim={code_dim}: the auto-encoder's code needs at least 1 value")
    if cfg.arch == "mlp":
        encoder, decoder = mlp_autoencoder(math.prod(sample_shape), cfg, code_dim)
    else:
        channels, size = image_shape(sample_shape, cfg.arch)
        encoder, decoder = conv_autoencoder(channels, size, cfg, code_dim)
    return AutoEncoderD(encoder, decoder, energy)


__all__ = ["AutoEncoderD", "Energy", "build_autoencoder", "default_code_dim", "conv_autoencoder", "mlp_autoencoder"]
