"""Pathak et al. 2016 (Context Encoders): the encoder-decoder that fills a hole, with its channel-wise fully
connected bottleneck.

G takes the masked image and the mask, (B, C + 1, H, W) in [-1, 1] with the hole set to 0 (mid grey), and
predicts a whole image (B, C, H, W); the recipe keeps its prediction on the hole (and the overlap band) only.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from gankit.nets.translation import _check_image, _check_power_of_two, conv_unit

BOTTLENECK = 4  # the encoder halves the image down to 4x4 (the paper: 128 px -> 4x4 after five AlexNet-like layers)


class ChannelwiseFC(nn.Module):
    """Pathak et al. 2016: a fully connected layer within each feature map (no weights across channels: C k^4
    parameters instead of C^2 k^4), then a stride-1 1x1 conv to spread information across channels."""

    def __init__(self, channels: int, side: int) -> None:
        super().__init__()
        positions = side * side
        self.weight = nn.Parameter(torch.randn(channels, positions, positions) / positions**0.5)  # (C, k^2, k^2)
        self.bias = nn.Parameter(torch.zeros(channels, positions))
        self.mix = nn.Conv2d(channels, channels, 1)

    def forward(self, h: Tensor) -> Tensor:
        b, c, height, width = h.shape
        flat = torch.einsum("bci,cij->bcj", h.flatten(2), self.weight) + self.bias  # (B, C, k^2) per channel
        return self.mix(flat.view(b, c, height, width))  # (B, C, k, k)


class ContextEncoder(nn.Module):
    """Pathak et al. 2016: Conv4/2 + [norm] + LeakyReLU(0.2) from ``size`` down to 4x4 (channels w, 2w, ... capped
    at 8w), the channel-wise fully connected layer, and ConvTranspose4/2 + norm + ReLU back up to ``size``, tanh.

    No skip connections: the hole's contents are not in the input, so G has to infer them from the context through
    the bottleneck. The input has one more channel than the output: the mask (1 on the hole), so the same G fills
    central, random-block and user holes (the paper's G reads the image alone, its hole filled with the mean).
    """

    def __init__(self, channels: int, size: int, *, width: int = 64, norm: str | None = "batch") -> None:
        super().__init__()
        depth = _check_power_of_two(size, "the context encoder") - 2  # stride-2 steps from size down to 4
        self.channels, self.size = channels, size
        chs = [width * min(2**i, 8) for i in range(depth)]
        self.encoder = nn.Sequential(*(
            conv_unit(chs[i - 1] if i else channels + 1, ch, 4, 2, 1, act=nn.LeakyReLU(0.2), norm=norm if i else None)
            for i, ch in enumerate(chs)
        ))
        self.bottleneck = nn.Sequential(ChannelwiseFC(chs[-1], BOTTLENECK), nn.ReLU())
        ups = [conv_unit(chs[i], chs[i - 1], 4, 2, 1, norm=norm, act=nn.ReLU(), transpose=True)
               for i in reversed(range(1, depth))]
        self.decoder = nn.Sequential(*ups, conv_unit(chs[0], channels, 4, 2, 1, act=nn.Tanh(), transpose=True))

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        _check_image(x, self.channels + 1, "ContextEncoder (image and mask channels)", self.size)
        h = self.encoder(x)  # (B, 8w or less, 4, 4)
        return self.decoder(self.bottleneck(h))  # (B, channels, size, size)


class HoleFiller(nn.Module):
    """Completion at sampling time: the context encoder's prediction on the hole, the input's pixels elsewhere."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, source: Tensor, y: Tensor | None = None) -> Tensor:
        image, hole = source[:, :-1], source[:, -1:]  # (B, C, H, W), (B, 1, H, W)
        return paste(image, self.net(source), hole)


def paste(context: Tensor, prediction: Tensor, hole: Tensor) -> Tensor:
    """The completed image: ``prediction`` on the hole (1 in ``hole``), ``context`` elsewhere. (B, C, H, W)"""
    return context * (1 - hole) + prediction * hole


__all__ = ["ChannelwiseFC", "ContextEncoder", "HoleFiller", "paste"]
