"""Image-to-image networks: pix2pix's U-Net and PatchGAN, CycleGAN's ResNet generator (StarGAN's when
conditioned on a target domain), StarGAN's discriminator, SRGAN's SRResNet and discriminator.

Plain nn.Modules on NCHW images in [-1, 1]. Generators: ``G(x, y=None) -> image``; discriminators:
``D(x, y=None) -> DOut``, where a patch discriminator's logit is a map (B, H', W') (the adversarial losses
average it) and ``features`` are its last hidden maps, globally average-pooled, (B, F).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.nn import LabelInput, maybe_sn, norm2d
from gankit.types import DOut

G_NORM, D_NORM = "model.g_norm", "model.d_norm"  # the config keys the translation recipes read norms from


# --- shared building blocks -------------------------------------------------------------------------------
def conv_unit(ch_in: int, ch_out: int, kernel: int, stride: int = 1, padding: int = 0, *,
              norm: str | None = None, act: nn.Module | None = None, field: str = G_NORM,
              transpose: bool = False, reflect: bool = False, spectral: bool = False) -> nn.Sequential:
    """conv -> [norm] -> [activation], the unit every network in this file is built from.

    The conv has no bias when a norm follows (norm2d's layers are affine, so they would cancel it).
    ``transpose``: an up-sampling conv whose output is exactly ``stride`` times its input.
    ``reflect``: reflection padding (CycleGAN), which avoids the dark borders zero padding leaves.
    """
    bias = norm is None
    if transpose:
        conv: nn.Module = nn.ConvTranspose2d(ch_in, ch_out, kernel, stride, padding, bias=bias,
                                             output_padding=stride + 2 * padding - kernel)
    else:
        conv = nn.Conv2d(ch_in, ch_out, kernel, stride, padding, bias=bias,
                         padding_mode="reflect" if reflect else "zeros")
    layers = [maybe_sn(conv, spectral)]
    if norm is not None:
        layers.append(norm2d(norm, ch_out, field))
    if act is not None:
        layers.append(act)
    return nn.Sequential(*layers)


class ResidualBlock(nn.Module):
    """x + [conv3, norm, act, conv3, norm](x) at constant shape (He et al. 2016).

    CycleGAN's uses reflection padding and ReLU (Johnson et al. 2016); SRResNet's zero padding, batch
    norm and PReLU (Ledig et al. 2017).
    """

    def __init__(self, channels: int, *, norm: str | None, act: Callable[[], nn.Module], reflect: bool,
                 field: str = G_NORM) -> None:
        super().__init__()
        self.body = nn.Sequential(
            conv_unit(channels, channels, 3, 1, 1, norm=norm, act=act(), field=field, reflect=reflect),
            conv_unit(channels, channels, 3, 1, 1, norm=norm, field=field, reflect=reflect),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


def _nearest_first(value: int, choices: Iterable[int]) -> list[int]:
    return sorted(choices, key=lambda c: (abs(c - value), c))


def _check_power_of_two(size: int, net: str) -> int:
    """log2(size) for a power of two >= 8; else a ConfigError naming the nearest valid sizes."""
    if size >= 8 and size & (size - 1) == 0:
        return size.bit_length() - 1
    near = _nearest_first(size, [2**k for k in range(3, 14)])
    raise ConfigError(f"data.image_size={size} does not fit {net}: it needs a power of two >= 8. "
                      f"Nearest valid sizes: {near[0]}, {near[1]}.")


def _check_at_least(value: int, least: int, field: str, what: str) -> None:
    if value < least:
        raise ConfigError(f"{field}={value}: {what} must be at least {least}")


def _check_image(x: Tensor, channels: int, net: str, size: int | None = None) -> None:
    """Shape check at the module boundary: (B, channels, H, W), and H = W = size when the net is built for one."""
    ok = x.dim() == 4 and x.shape[1] == channels and (size is None or tuple(x.shape[2:]) == (size, size))
    if not ok:
        side = "H, W" if size is None else f"{size}, {size}"
        raise ValueError(f"{net} expects images of shape (B, {channels}, {side}); got {tuple(x.shape)}")


# --- pix2pix: U-Net generator and PatchGAN discriminator --------------------------------------------------
class UNetGenerator(nn.Module):
    """Isola et al. 2017 (pix2pix): an encoder down to 1x1 and a mirrored decoder, with skip connections.

    log2(size) Conv4/2 + LeakyReLU(0.2) steps (channels width, 2w, 4w, 8w, 8w, ...) and as many
    ConvTranspose4/2 + ReLU steps, each decoder output concatenated with the encoder map of its size.
    As in the official code there is no norm on the outermost and the innermost (1x1) down layers, nor on
    the outermost up layer. Dropout follows the 3 innermost decoder layers with 8w channels ("dropout in
    the first 3 layers of the decoder"; it commutes with ReLU, so the paper's conv-norm-dropout-ReLU holds).
    """

    def __init__(self, in_channels: int, out_channels: int, size: int, *, width: int = 64,
                 norm: str | None = "instance", dropout: float | None = 0.5) -> None:
        super().__init__()
        depth = _check_power_of_two(size, "the U-Net generator")
        if dropout is not None and not 0.0 <= dropout < 1.0:
            raise ConfigError(f"recipe_args.dropout={dropout}: a dropout probability is in [0, 1); use null for none")
        self.in_channels, self.size = in_channels, size
        chs = [width * min(2**i, 8) for i in range(depth)]  # encoder channels, capped at 8w
        self.down = nn.ModuleList(
            conv_unit(chs[i - 1] if i else in_channels, ch, 4, 2, 1, act=nn.LeakyReLU(0.2),
                      norm=None if i in (0, depth - 1) else norm)
            for i, ch in enumerate(chs)
        )
        self.up = nn.ModuleList(self._decoder(out_channels, chs, norm, dropout))  # innermost first

    @staticmethod
    def _decoder(out_channels: int, chs: list[int], norm: str | None, dropout: float | None) -> list[nn.Module]:
        """Up layer for encoder level i (innermost first): chs[i] channels (2 chs[i] with its skip) -> chs[i-1]."""
        depth, layers = len(chs), []
        for i in reversed(range(1, depth)):
            ch_in = chs[i] if i == depth - 1 else 2 * chs[i]
            layer = conv_unit(ch_in, chs[i - 1], 4, 2, 1, norm=norm, act=nn.ReLU(), transpose=True)
            if dropout and chs[i - 1] == 8 * chs[0] and len(layers) < 3:
                layer.append(nn.Dropout(dropout))
            layers.append(layer)
        layers.append(conv_unit(2 * chs[0], out_channels, 4, 2, 1, act=nn.Tanh(), transpose=True))
        return layers

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        _check_image(x, self.in_channels, "UNetGenerator", self.size)
        skips, h = [], x
        for down in self.down:
            h = down(h)  # (B, C_i, H / 2^(i+1), W / 2^(i+1)), ending at (B, 8w, 1, 1)
            skips.append(h)
        skips.pop()  # the 1x1 bottleneck feeds the decoder directly
        for up in self.up[:-1]:
            h = torch.cat([up(h), skips.pop()], dim=1)  # (B, 2 C_skip, 2h, 2w)
        return self.up[-1](h)  # (B, out_channels, size, size)


def _patch_convs(n_layers: int) -> list[tuple[int, int, int]]:
    """(kernel, stride, padding) of each PatchGAN conv: n_layers stride-2 ones, then two stride-1 ones."""
    _check_at_least(n_layers, 1, "recipe_args.n_layers", "a PatchGAN's number of stride-2 layers")
    return [(4, 2, 1)] * n_layers + [(4, 1, 1)] * 2


def patch_receptive_field(n_layers: int) -> int:
    """Side in input pixels of the patch each PatchGAN output sees: 70 for pix2pix's n_layers=3."""
    field = 1
    for kernel, stride, _ in reversed(_patch_convs(n_layers)):
        field = (field - 1) * stride + kernel
    return field


def _patch_side(size: int, n_layers: int) -> int:
    for kernel, stride, padding in _patch_convs(n_layers):
        size = (size + 2 * padding - kernel) // stride + 1
    return size


def patch_output_size(size: int, n_layers: int) -> int:
    """Side of the PatchGAN logit map for size x size inputs: 30 for 256 px and n_layers=3."""
    side = _patch_side(size, n_layers)
    if side < 1:
        fits = [n for n in range(1, n_layers) if _patch_side(size, n) >= 1]
        hint = f"use recipe_args.n_layers={fits[-1]} or smaller" if fits else "no n_layers fits: use larger images"
        # the two stride-1 convs need a map of at least 3x3 after the stride-2 ones
        raise ConfigError(f"data.image_size={size} is too small for a PatchGAN with recipe_args.n_layers={n_layers}"
                          f" (it needs at least {3 * 2**n_layers} px); {hint}")
    return side


class PatchDiscriminator(nn.Module):
    """Isola et al. 2017 (pix2pix), Zhu et al. 2017 (CycleGAN): PatchGAN, one logit per overlapping patch.

    Conv4/2 + LeakyReLU(0.2) (no norm), n_layers - 1 more with norm and doubling channels (capped at 8w),
    one Conv4/1 + norm + LeakyReLU, and a Conv4/1 to one channel. y is ignored: pix2pix conditions D by
    concatenating its input and output images into ``x``.
    """

    def __init__(self, in_channels: int, *, width: int = 64, n_layers: int = 3, norm: str | None = "instance",
                 spectral: bool = False) -> None:
        super().__init__()
        geometry = _patch_convs(n_layers)
        self.in_channels, self.n_layers = in_channels, n_layers
        chs = [in_channels] + [width * min(2**i, 8) for i in range(n_layers + 1)]
        self.trunk = nn.Sequential(*(
            conv_unit(chs[i], chs[i + 1], kernel, stride, padding, norm=norm if i > 0 else None,
                      act=nn.LeakyReLU(0.2), field=D_NORM, spectral=spectral)
            for i, (kernel, stride, padding) in enumerate(geometry[:-1])
        ))
        self.out = maybe_sn(nn.Conv2d(chs[-1], 1, *geometry[-1]), spectral)

    def forward(self, x: Tensor, y: Tensor | None = None) -> DOut:
        _check_image(x, self.in_channels, "PatchDiscriminator")
        patch_output_size(min(x.shape[2:]), self.n_layers)  # a clear error instead of a conv's complaint
        h = self.trunk(x)  # (B, F, H' + 1, W' + 1)
        return DOut(logit=self.out(h).squeeze(1), features=h.mean(dim=(2, 3)))  # logit (B, H', W')


# --- CycleGAN / StarGAN ------------------------------------------------------------------------------------
class ResnetGenerator(nn.Module):
    """Zhu et al. 2017 (CycleGAN), after Johnson et al. 2016: 2 stride-2 steps down, n_blocks residual
    blocks at a quarter of the size, 2 up.

    num_classes > 0 makes it StarGAN's generator (Choi et al. 2018): the target domain y (B,), one-hot and
    tiled to (B, K, H, W), is concatenated to x before the first conv.
    """

    def __init__(self, in_channels: int, out_channels: int, *, width: int = 64, n_blocks: int = 9,
                 norm: str | None = "instance", num_classes: int = 0) -> None:
        super().__init__()
        _check_at_least(n_blocks, 0, "recipe_args.n_blocks", "the number of residual blocks")
        _check_at_least(num_classes, 0, "num_classes", "the number of target domains (0: unconditional)")
        self.in_channels, self.num_classes = in_channels, num_classes
        self.labels = LabelInput("concat" if num_classes > 0 else None, num_classes, 0)
        # Reflection padding would keep the tiled label maps exactly constant, and the instance norm after the
        # first conv would subtract them away: the conditional generator zero-pads there, like the official StarGAN.
        self.encoder = nn.Sequential(
            conv_unit(in_channels + num_classes, width, 7, 1, 3, norm=norm, act=nn.ReLU(), reflect=num_classes == 0),
            conv_unit(width, 2 * width, 3, 2, 1, norm=norm, act=nn.ReLU()),
            conv_unit(2 * width, 4 * width, 3, 2, 1, norm=norm, act=nn.ReLU()),
        )
        self.blocks = nn.Sequential(*(ResidualBlock(4 * width, norm=norm, act=nn.ReLU, reflect=True)
                                      for _ in range(n_blocks)))
        self.decoder = nn.Sequential(
            conv_unit(4 * width, 2 * width, 3, 2, 1, norm=norm, act=nn.ReLU(), transpose=True),
            conv_unit(2 * width, width, 3, 2, 1, norm=norm, act=nn.ReLU(), transpose=True),
            conv_unit(width, out_channels, 7, 1, 3, act=nn.Tanh(), reflect=True),
        )

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        _check_image(x, self.in_channels, "ResnetGenerator")
        for side in x.shape[2:]:
            if side % 4 or side < 8:  # two stride-2 steps, and reflection padding needs 2x2 at the bottom
                near = _nearest_first(side, range(8, 2 * side + 16, 4))
                raise ConfigError(f"data.image_size={side} does not fit the ResNet generator: image sides must be "
                                  f"multiples of 4 and at least 8. Nearest valid sizes: {near[0]}, {near[1]}.")
        if self.num_classes > 0 and y is None:
            raise ValueError(f"ResnetGenerator(num_classes={self.num_classes}) is conditional (StarGAN): "
                             "pass the target-domain labels y, shape (B,)")
        h = self.encoder(self.labels.concat(x, y))  # (B, 4w, H/4, W/4); the labels add K input channels
        return self.decoder(self.blocks(h))  # (B, out_channels, H, W)


class StarGANDiscriminator(nn.Module):
    """Choi et al. 2018 (StarGAN): one trunk, a patch source head (real/fake) and a domain classifier.

    The trunk has min(n_layers, log2(size) - 1) Conv4/2 + LeakyReLU(0.01) layers (channels doubling from
    width, no norm): n_layers is reduced so the last map is at least 2x2 (exactly 2x2 for the paper's
    128 px and n_layers=6). The classifier is a conv as large as that map: DOut.aux is (B, num_domains).
    """

    def __init__(self, in_channels: int, size: int, num_domains: int, *, width: int = 64, n_layers: int = 6) -> None:
        super().__init__()
        depth = _check_power_of_two(size, "the StarGAN discriminator")
        _check_at_least(num_domains, 1, "num_domains", "the number of domains")
        _check_at_least(n_layers, 1, "recipe_args.n_layers", "the number of stride-2 layers")
        self.in_channels, self.size = in_channels, size
        self.n_layers = min(n_layers, depth - 1)
        chs = [in_channels] + [width * 2**i for i in range(self.n_layers)]
        self.trunk = nn.Sequential(*(conv_unit(chs[i], chs[i + 1], 4, 2, 1, act=nn.LeakyReLU(0.01))
                                     for i in range(self.n_layers)))
        self.source = nn.Conv2d(chs[-1], 1, 3, 1, 1, bias=False)  # no biases on the heads, as in the official code
        self.classify = nn.Conv2d(chs[-1], num_domains, size >> self.n_layers, bias=False)

    def forward(self, x: Tensor, y: Tensor | None = None) -> DOut:
        _check_image(x, self.in_channels, "StarGANDiscriminator", self.size)
        h = self.trunk(x)  # (B, F, s, s) with s = size / 2^n_layers >= 2
        return DOut(logit=self.source(h).squeeze(1), features=h.mean(dim=(2, 3)),  # logit (B, s, s)
                    aux=self.classify(h).flatten(1))  # (B, num_domains)


# --- SRGAN ---------------------------------------------------------------------------------------------------
class SRResNet(nn.Module):
    """Ledig et al. 2017 (SRGAN's generator): residual blocks at low resolution, then pixel-shuffle x2 steps.

    Conv9 + PReLU; n_blocks residual blocks; Conv3 + BN with a long skip from the first conv; log2(scale)
    x [Conv3 to 4w, PixelShuffle(2), PReLU]; Conv9 + Tanh (images live in [-1, 1]).
    """

    SCALES = (2, 4, 8)

    def __init__(self, channels: int = 3, *, scale: int = 4, width: int = 64, n_blocks: int = 16) -> None:
        super().__init__()
        if scale not in self.SCALES:
            valid = ", ".join(str(s) for s in _nearest_first(scale, self.SCALES))
            raise ConfigError(f"recipe_args.scale={scale} is not an SRResNet up-scaling factor; valid: {valid}")
        _check_at_least(n_blocks, 0, "recipe_args.n_blocks", "the number of residual blocks")
        self.channels, self.scale = channels, scale
        self.head = conv_unit(channels, width, 9, 1, 4, act=nn.PReLU())
        self.body = nn.Sequential(*(ResidualBlock(width, norm="batch", act=nn.PReLU, reflect=False)
                                    for _ in range(n_blocks)),
                                  conv_unit(width, width, 3, 1, 1, norm="batch"))
        self.upsample = nn.Sequential(*(
            nn.Sequential(nn.Conv2d(width, 4 * width, 3, 1, 1), nn.PixelShuffle(2), nn.PReLU())  # (B, w, 2h, 2w)
            for _ in range(scale.bit_length() - 1)
        ))
        self.out = conv_unit(width, channels, 9, 1, 4, act=nn.Tanh())

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        _check_image(x, self.channels, "SRResNet")
        h = self.head(x)  # (B, w, h, w)
        h = h + self.body(h)  # the long skip
        return self.out(self.upsample(h))  # (B, C, h * scale, w * scale)


class SRDiscriminator(nn.Module):
    """Ledig et al. 2017 (SRGAN): eight Conv3 + LeakyReLU(0.2) layers (BN on all but the first, 4 of stride 2),
    then Linear(8w, 16w) + LeakyReLU + Linear(16w, 1).

    Global average pooling replaces the paper's flatten of a 6x6 map (96 px crops), so any crop of at least
    16 px works.
    """

    PLAN = ((1, 2), (2, 1), (2, 2), (4, 1), (4, 2), (8, 1), (8, 2))  # (channels / width, stride) after the first conv
    MIN_SIZE = 16

    def __init__(self, channels: int = 3, *, width: int = 64, spectral: bool = False) -> None:
        super().__init__()
        self.channels = channels
        layers, ch_in = [conv_unit(channels, width, 3, 1, 1, act=nn.LeakyReLU(0.2), spectral=spectral)], width
        for mult, stride in self.PLAN:
            layers.append(conv_unit(ch_in, mult * width, 3, stride, 1, norm="batch", act=nn.LeakyReLU(0.2),
                                    field=D_NORM, spectral=spectral))
            ch_in = mult * width
        self.trunk = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())  # (B, 8w)
        self.hidden = nn.Sequential(maybe_sn(nn.Linear(8 * width, 16 * width), spectral), nn.LeakyReLU(0.2))
        self.out = maybe_sn(nn.Linear(16 * width, 1), spectral)

    def forward(self, x: Tensor, y: Tensor | None = None) -> DOut:
        _check_image(x, self.channels, "SRDiscriminator")
        if min(x.shape[2:]) < self.MIN_SIZE:
            raise ConfigError(f"data.image_size={min(x.shape[2:])} is too small for the SRGAN discriminator: "
                              f"it needs crops of at least {self.MIN_SIZE} px (four stride-2 layers)")
        features = self.hidden(self.trunk(x))  # (B, 16w)
        return DOut(logit=self.out(features).squeeze(1), features=features)  # logit (B,)


__all__ = ["PatchDiscriminator", "ResidualBlock", "ResnetGenerator", "SRDiscriminator", "SRResNet",
           "StarGANDiscriminator", "UNetGenerator", "conv_unit", "patch_output_size", "patch_receptive_field"]
