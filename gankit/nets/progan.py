"""Karras et al. 2018 (ProGAN): networks that grow from a base resolution (4x4; 7x7 for 28 px) to the full size.

Every layer has an equalised learning rate. G: z (pixel-normalised; a one-hot class joined for a conditional G)
-> a dense layer to (C, base, base) and a 3x3 conv -> per doubling: nearest upsampling and two 3x3 convs -> a 1x1
"to image" conv at every resolution (linear, as in the paper); leaky ReLU (0.2) and pixelwise feature norm after
every conv. D mirrors it: a 1x1 "from image" conv at every resolution -> per halving: two 3x3 convs and 2x2
average pooling -> minibatch stddev as an extra channel -> a 3x3 conv and a dense base x base conv -> the head.

Where training stands is one number, the growth ``p`` in [0, levels] (``levels`` = doublings above the base):
resolution base * 2^ceil(p), and while p is fractional the newest block fades in with weight alpha = p -
floor(p): G's image is (1 - alpha) upsample(coarser image) + alpha new image; D's features at the coarser
resolution are (1 - alpha) from_image(pooled input) + alpha new block's. Both networks always take and give
full-size images (G's upsampled by nearest neighbour, D average-pools its input), so data, metrics, sample grids
and every other recipe see the same shapes at every stage, and D's pooling undoes G's upsampling exactly.

The recipe (gankit/recipes/progan.py) sets p from the step; it is a buffer (checkpointed, copied into the EMA G)
mirrored by a Python float, so forward never waits on the device to read it.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.nets import ARCHS, ModelConfig, NetSpec
from gankit.nets.common import (DHead, conditioned_latent, image_shape, refuse_settings, resolution_plan,
                                 stage_widths)
from gankit.nn import LabelInput
from gankit.nn.batch import minibatch_stddev
from gankit.nn.layers import EqualConv2d, EqualLinear, pixel_norm

SLOPE = 0.2
GAIN = math.sqrt(2.0)  # He's gain for leaky ReLU, applied to the activations (equivalent to it in the weights)


def act(x: Tensor, *, norm: bool) -> Tensor:
    """Leaky ReLU with the gain, then pixelwise feature norm in G."""
    x = F.leaky_relu(x, SLOPE) * GAIN
    return pixel_norm(x) if norm else x


def level_and_alpha(p: float) -> tuple[int, float]:
    """(newest level, its fade-in weight alpha) at growth p: level ceil(p), alpha 1 once p is a whole number."""
    level = math.ceil(p)
    return level, 1.0 - (level - p)


class Growing(nn.Module):
    """A network that grows: ``growth`` (a buffer, so checkpoints and the EMA copy keep it) and its Python mirror;
    its resolution plan (``base`` px doubled ``levels`` times) and the channels at each level (``widths``)."""

    may_skip_parameters = True  # the levels not grown yet get no gradient (DDP is told: find_unused_parameters)

    def __init__(self, spec: NetSpec, cfg: ModelConfig, width: int) -> None:
        super().__init__()
        refuse_settings(cfg, ("g_norm", "d_norm", "g_spectral_norm", "d_spectral_norm", "attention"),
                        "model.arch=progan normalises G with pixelwise feature norm and D with nothing (its WGAN-GP "
                        "loss wants an unnormalised critic)")
        self.channels, size = image_shape(spec.sample_shape, "progan")
        self.base, self.levels = resolution_plan(size, "progan")
        self.widths = stage_widths(width, self.levels)  # base (index 0) -> full size (index levels)
        # fully grown until a recipe grows it (progan); float64, so the mirror read back from a checkpoint is exact
        self.register_buffer("growth", torch.tensor(float(self.levels), dtype=torch.float64))
        self._p = float(self.levels)
        self.register_load_state_dict_post_hook(lambda module, keys: module._read_growth())

    @property
    def p(self) -> float:
        return self._p

    def grow_to(self, p: float) -> None:
        """Set the growth (the recipe does, every step); no host sync."""
        if not 0 <= p <= self.levels:
            raise ValueError(f"growth {p} outside [0, {self.levels}]")
        self._p = float(p)
        self.growth.fill_(self._p)

    def _read_growth(self) -> None:  # a loaded state dict (a checkpoint, a resumed run): once, not per step
        self._p = float(self.growth)


def _upsample(x: Tensor, factor: int) -> Tensor:
    return x if factor == 1 else F.interpolate(x, scale_factor=factor, mode="nearest")


def _pool(x: Tensor, factor: int) -> Tensor:
    return x if factor == 1 else F.avg_pool2d(x, factor)


class ProGenerator(Growing):
    """G(z, y=None) -> images of the full size, at the resolution of the current growth."""

    def __init__(self, spec: NetSpec, cfg: ModelConfig) -> None:
        super().__init__(spec, cfg, cfg.g_width)
        widths, base, channels = self.widths, self.base, self.channels
        self.num_classes = spec.g_classes
        self.dense = EqualLinear(spec.z_dim + spec.g_classes, widths[0] * base * base)
        self.conv0 = EqualConv2d(widths[0], widths[0], 3, padding=1)
        self.blocks = nn.ModuleList(nn.ModuleList([EqualConv2d(a, b, 3, padding=1), EqualConv2d(b, b, 3, padding=1)])
                                    for a, b in zip(widths, widths[1:]))
        self.to_images = nn.ModuleList(EqualConv2d(w, channels, 1) for w in widths)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        level, alpha = level_and_alpha(self._p)
        h = conditioned_latent(pixel_norm(z), y, self.num_classes)
        h = act(self.dense(h).unflatten(1, (-1, self.base, self.base)), norm=True)
        h = act(self.conv0(h), norm=True)
        coarser = None
        for i, (conv_a, conv_b) in enumerate(self.blocks[:level]):
            if i == level - 1 and alpha < 1:
                coarser = self.to_images[i](h)
            h = _upsample(h, 2)
            h = act(conv_b(act(conv_a(h), norm=True)), norm=True)
        image = self.to_images[level](h)
        if coarser is not None:
            image = torch.lerp(_upsample(coarser, 2), image, alpha)
        return _upsample(image, 2 ** (self.levels - level))  # (B, C, H, W), linear output as in the paper


class ProDiscriminator(Growing):
    """D(x, y=None) -> DOut, x full size; it looks at x at the resolution of the current growth."""

    def __init__(self, spec: NetSpec, cfg: ModelConfig) -> None:
        super().__init__(spec, cfg, cfg.d_width)
        widths, base = self.widths, self.base
        self.label_input = LabelInput(cfg.label_input, spec.d_classes, widths[0])
        ch_in = self.channels + self.label_input.extra_channels
        self.from_images = nn.ModuleList(EqualConv2d(ch_in, w, 1) for w in widths)
        # block i takes level i + 1 (widths[i + 1]) down to level i (widths[i])
        self.blocks = nn.ModuleList(nn.ModuleList([EqualConv2d(b, b, 3, padding=1), EqualConv2d(b, a, 3, padding=1)])
                                    for a, b in zip(widths, widths[1:]))
        self.conv_last = EqualConv2d(widths[0] + 1, widths[0], 3, padding=1)  # + the minibatch stddev channel
        self.dense_last = EqualConv2d(widths[0], widths[0], base)  # base x base -> 1 x 1
        self.head = DHead(widths[0], self.label_input, spec.aux_dim, False)

    def _block(self, i: int, h: Tensor) -> Tensor:
        conv_a, conv_b = self.blocks[i]
        return _pool(act(conv_b(act(conv_a(h), norm=False)), norm=False), 2)

    def forward(self, x: Tensor, y: Tensor | None = None):  # noqa: ANN201  (DOut)
        level, alpha = level_and_alpha(self._p)
        x = _pool(self.label_input.concat(x, y), 2 ** (self.levels - level))  # label planes survive the pooling
        h = act(self.from_images[level](x), norm=False)
        if level > 0:
            h = self._block(level - 1, h)
            if alpha < 1:
                h = torch.lerp(act(self.from_images[level - 1](_pool(x, 2)), norm=False), h, alpha)
        for i in reversed(range(level - 1)):
            h = self._block(i, h)
        stddev = minibatch_stddev(h)[:, :, None, None].expand(-1, 1, *h.shape[2:])
        h = act(self.conv_last(torch.cat([h, stddev], dim=1)), norm=False)
        h = act(self.dense_last(h), norm=False).flatten(1)
        return self.head(h, y)


def fade_reals(x: Tensor, p: float, levels: int) -> Tensor:
    """Real images as G shows them at growth p (the official code's process_reals): at the current resolution,
    and while a level fades in, (1 - alpha) of the coarser level's image upsampled plus alpha of its own; back at
    the full size (nearest), so D's pooling sees exactly that."""
    level, alpha = level_and_alpha(p)
    factor = 2 ** (levels - level)
    small = _pool(x, factor)
    if alpha < 1:
        small = torch.lerp(_upsample(_pool(small, 2), 2), small, alpha)
    return _upsample(small, factor)


ARCHS.register("progan", doc="ProGAN's growing G and D (equalised lr, pixel norm, minibatch stddev, fade-in; "
               "Karras et al. 2018); the recipe progan grows them")((ProGenerator, ProDiscriminator))

__all__ = ["Growing", "ProGenerator", "ProDiscriminator", "fade_reals", "level_and_alpha"]
