"""Texture likeness: the Gram-matrix (style) distance of generated textures to real crops (Gatys et al. 2015), and
beside it the same distance between two sets of real crops, the floor a perfect texture generator reaches.

Each generated image is paired with a random crop of the same size from the reference split's texture images, and
``gram`` is the mean over pairs of sum over layers of ||Gram(F_l(fake)) - Gram(F_l(real))||^2 / C_l^2, relative to
the mean of sum over layers of ||Gram(F_l(real))||^2 / C_l^2 (0: the same statistics; 1: as far as a blank image's
zero features). ``gram_real``
pairs two independent sets of real crops the same way: crops of one texture differ from each other too, so a
generator that draws fresh, faithful crops scores about ``gram_real``, and one that misses the texture scores far
above it.

Features: VGG19 relu1_1, relu2_1, relu3_1 and relu4_1 (Gatys et al.) where its weights are on this machine, else a
fixed multi-scale random conv layer (Ustyuzhaninov et al. 2017, "What does it take to generate natural textures?":
one layer of random filters at several sizes already describes textures well). Random filters need no download and
were never trained against, unlike the domain evaluator's features, which know CIFAR-10 objects, not textures.
"""
from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.data.texture import random_crops
from gankit.errors import ConfigError
from gankit.losses.texture import gram_distance
from gankit.metrics.base import Inputs, Metric, Need, Setting, register_metric

RANDOM_KERNELS = (3, 5, 9, 15)  # px: filter sizes of the random layer, one Gram matrix each
RANDOM_FILTERS = 64  # filters per size
RANDOM_SEED = 0  # fixed: the same filters for every run, so scores compare across runs
VGG_TAPS = (1, 6, 11, 20)  # torchvision vgg19().features indices of relu1_1, relu2_1, relu3_1, relu4_1


class RandomTextureFeatures(nn.Module):
    """Ustyuzhaninov et al. 2017: one conv layer of random zero-mean filters at several sizes, ReLU; a list of maps."""

    def __init__(self, channels: int, *, seed: int = RANDOM_SEED) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        for kernel in RANDOM_KERNELS:
            w = torch.randn(RANDOM_FILTERS, channels, kernel, kernel, generator=generator)
            w = w - w.mean(dim=(1, 2, 3), keepdim=True)  # zero-mean: a filter answers to structure, not brightness
            self.register_buffer(f"w{kernel}", w / math.sqrt(channels * kernel * kernel))

    def forward(self, images: Tensor) -> list[Tensor]:
        maps = []
        for kernel in RANDOM_KERNELS:
            padded = F.pad(images, [kernel // 2] * 4, mode="reflect")
            maps.append(F.relu(F.conv2d(padded, getattr(self, f"w{kernel}"))))  # (B, 64, H, W)
        return maps


class VGGTextureFeatures(nn.Module):
    """Gatys et al. 2015's texture layers of VGG19: relu1_1, relu2_1, relu3_1, relu4_1 (a list of maps)."""

    def __init__(self) -> None:
        super().__init__()
        from gankit.losses.perceptual import load_vgg19

        self.vgg = load_vgg19(download=False)

    def forward(self, images: Tensor) -> list[Tensor]:
        x = images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images
        x = ((x + 1) / 2 - self.vgg.mean) / self.vgg.std
        maps = []
        for index, layer in enumerate(self.vgg.net[:VGG_TAPS[-1] + 1]):
            x = layer(x)
            if index in VGG_TAPS:
                maps.append(x)
        return maps


def texture_features(channels: int) -> tuple[nn.Module, str]:
    """The feature network and its name in the protocol: VGG19 where its weights are present, else random."""
    from gankit.losses.perceptual import find_vgg19

    if find_vgg19() is not None:
        return VGGTextureFeatures().eval(), "vgg19 relu1_1,2_1,3_1,4_1"
    return RandomTextureFeatures(channels).eval(), f"random conv {RANDOM_FILTERS}x{list(RANDOM_KERNELS)} seed {RANDOM_SEED}"


@torch.no_grad()
def gram_score(net: nn.Module, a: Tensor, b: Tensor, batch_size: int = 64) -> float:
    """Relative Gram distance of paired (N, C, H, W) images: the mean over pairs (a_i, b_i) of the Gram distance
    summed over the net's layers, over the mean of the same sum for (0, b_i), so 0 is identical texture statistics
    and 1 as far from b's as no texture at all; free of the feature network's scale."""
    apart = reference = 0.0
    for start in range(0, len(a), batch_size):
        fa, fb = net(a[start:start + batch_size]), net(b[start:start + batch_size])
        apart += float(sum(gram_distance(x, y) for x, y in zip(fa, fb)).sum())
        reference += float(sum(gram_distance(torch.zeros_like(y), y) for y in fb).sum())
    return apart / reference

@register_metric("gram")
class GramDistance(Metric):
    """Texture runs: Gram (style) distance of samples to real crops; gram_real: real crops to other real crops."""

    scores = {"gram": False, "gram_real": False}
    needs = frozenset({Need.SAMPLES, Need.REAL_SAMPLES})

    def check(self, setting: Setting) -> None:
        if setting.data.kind != "image":
            raise ConfigError(f"metric 'gram' compares image textures; {setting.data.name!r} is {setting.data.kind} data")

    def score(self, inputs: Inputs) -> dict[str, float]:
        fake, real = inputs.samples, inputs.real_samples
        size = fake.shape[-1]
        if min(real.shape[-2:]) < size or fake.shape[-2] != size:
            raise ConfigError(f"metric 'gram' crops the reference images to the samples' {size} px square; the "
                              f"reference images are {tuple(real.shape[-2:])} px")
        generator = torch.Generator().manual_seed(inputs.setting.cfg.seed)
        crops = random_crops(real, len(fake), size, generator=generator)  # (n, C, size, size)
        others = random_crops(real, len(fake), size, generator=generator)
        net, self.features = texture_features(real.shape[1])
        return {"gram": gram_score(net, fake, crops), "gram_real": gram_score(net, others, crops)}

    def protocol(self, inputs: Inputs) -> dict[str, Any]:
        return {"gram": {"features": getattr(self, "features", None), "pairs": inputs.n_fake}}
