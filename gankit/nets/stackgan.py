"""StackGAN's networks (Zhang et al. 2017): a text encoder, conditioning augmentation, the stage-I and stage-II
generators and the matching-aware discriminator.

- ``TextEncoder``: the paper uses Reed et al. 2016's pre-trained char-CNN-RNN (1,024-d); offline, a word embedding
  and a GRU read the caption's token ids and the GRU state at ``<eos>`` is the embedding (B, E).
- ``ConditioningAugmentation``: c ~ N(mu(e), diag(sigma(e)^2)) by the reparameterisation trick, with the noise given
  (so a latent fixes the sample); the recipe adds KL(N(mu, sigma) || N(0, I)) to G's loss.
- ``StageOneGenerator``: [z, c] -> DCGAN generator (gankit/nets/dcgan.py) -> a low-resolution image.
- ``StageTwoGenerator``: the stage-I image, down-sampled (halving to at most 16 px) and joined with c replicated
  spatially, then residual blocks and up-sampling to the high resolution (the paper: 64 -> 16 px, 4 residual
  blocks, up to 256 px).
- ``MatchingDiscriminator``: a DCGAN-style image trunk (gankit/nets/encoder.py) joined with the compressed text
  embedding; it scores (image, text) pairs, so it can call a real image with a mismatching caption fake.
- ``StackGenerator``: all of G's parts; ``G(z, captions)`` is the stage-II image (stage I alone before stage II
  trains is ``G.stage_one_images``). z holds G's noise, then the two conditioning augmentations' noise.
"""
from __future__ import annotations

from dataclasses import replace

import torch
from torch import Tensor, nn

from gankit.nets import ModelConfig, NetSpec
from gankit.nets.dcgan import DCGANGenerator
from gankit.nets.encoder import Posterior, trunk
from gankit.nets.translation import ResidualBlock, conv_unit
from gankit.types import DOut


class TextEncoder(nn.Module):
    """Caption token ids (B, T) -> embedding (B, dim): word embeddings, a GRU, its state at the first <eos>."""

    def __init__(self, vocab: int, dim: int, *, eos: int, pad: int) -> None:
        super().__init__()
        self.eos = eos
        self.embed = nn.Embedding(vocab, dim, padding_idx=pad)
        self.gru = nn.GRU(dim, dim, batch_first=True)

    def forward(self, captions: Tensor) -> Tensor:
        states, _ = self.gru(self.embed(captions))  # (B, T, dim)
        is_eos = captions == self.eos
        last = torch.where(is_eos.any(1), is_eos.int().argmax(1), captions.shape[1] - 1)  # (B,) the <eos> step
        return states[torch.arange(len(captions), device=captions.device), last]  # (B, dim)


class ConditioningAugmentation(nn.Module):
    """Zhang et al. 2017, Sec. 3.1: text embedding (B, E) -> a Gaussian over the condition c (B, dim)."""

    def __init__(self, text_dim: int, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.fc = nn.Linear(text_dim, 2 * dim)

    def forward(self, text: Tensor) -> Posterior:
        mean, log_std = self.fc(text).chunk(2, dim=1)  # (B, dim) each: one fully connected layer
        return Posterior(mean, log_std.clamp(-8.0, 4.0))

    @staticmethod
    def draw(posterior: Posterior, eps: Tensor) -> Tensor:
        """c = mu + sigma * eps for given standard normal ``eps`` (B, dim)."""
        return posterior.mean + posterior.log_std.exp() * eps


class StageOneGenerator(nn.Module):
    """[z, c] (B, Z + Nc) -> (B, C, S1, S1): the DCGAN generator on the noise joined with the condition."""

    def __init__(self, shape: tuple[int, int, int], z_dim: int, condition_dim: int, cfg: ModelConfig) -> None:
        super().__init__()
        self.net = DCGANGenerator(NetSpec(sample_shape=shape, z_dim=z_dim + condition_dim), cfg)

    def forward(self, z: Tensor, c: Tensor) -> Tensor:
        return self.net(torch.cat([z, c], dim=1))


def halvings_to(size: int, at_most: int = 16) -> int:
    """How many times stage II halves the stage-I image: at least once, until it is at most ``at_most`` px."""
    count = 1
    while size // 2 ** count > at_most and (size // 2 ** count) % 2 == 0:
        count += 1
    return count


class StageTwoGenerator(nn.Module):
    """(stage-I image (B, C, S1, S1), c (B, Nc)) -> (B, C, S2, S2): encode, join c, residual blocks, up-sample."""

    def __init__(self, channels: int, low: int, high: int, condition_dim: int, *, width: int, blocks: int,
                 norm: str | None) -> None:
        super().__init__()
        downs = halvings_to(low)
        ups = (high // (low // 2 ** downs)).bit_length() - 1
        if low // 2 ** downs * 2 ** ups != high:
            raise ValueError(f"stage II cannot go from {low} to {high} px: {high} must be {low} times a power of two")
        layers = [conv_unit(channels, width, 3, 1, 1, act=nn.ReLU())]
        ch = width
        for _ in range(downs):
            layers.append(conv_unit(ch, ch * 2, 4, 2, 1, norm=norm, act=nn.ReLU()))
            ch *= 2
        self.encode = nn.Sequential(*layers)
        self.join = conv_unit(ch + condition_dim, ch, 3, 1, 1, norm=norm, act=nn.ReLU())
        self.residual = nn.Sequential(*[ResidualBlock(ch, norm=norm, act=nn.ReLU, reflect=False) for _ in range(blocks)])
        up: list[nn.Module] = []
        for _ in range(ups):  # the paper's up-sampling block: nearest x2, conv 3x3, norm, ReLU, halving the channels
            up += [nn.Upsample(scale_factor=2, mode="nearest"), conv_unit(ch, max(8, ch // 2), 3, 1, 1, norm=norm,
                                                                          act=nn.ReLU())]
            ch = max(8, ch // 2)
        self.up = nn.Sequential(*up, nn.Conv2d(ch, channels, 3, 1, 1), nn.Tanh())

    def forward(self, low: Tensor, c: Tensor) -> Tensor:
        h = self.encode(low)  # (B, ch, s, s)
        tiled = c[:, :, None, None].expand(-1, -1, *h.shape[-2:])  # (B, Nc, s, s)
        return self.up(self.residual(self.join(torch.cat([h, tiled], dim=1))))  # (B, C, S2, S2)


class StackGenerator(nn.Module):
    """Every part of StackGAN's G: G(z, captions) -> the stage-II image. z = [noise (Z), eps_1 (Nc), eps_2 (Nc)]."""

    def __init__(self, *, vocab: int, eos: int, pad: int, shape: tuple[int, int, int], low: int, z_dim: int,
                 text_dim: int, condition_dim: int, blocks: int, cfg: ModelConfig) -> None:
        super().__init__()
        channels, high = shape[0], shape[1]
        self.z_dim, self.condition_dim = z_dim, condition_dim
        self.text = TextEncoder(vocab, text_dim, eos=eos, pad=pad)
        self.ca1 = ConditioningAugmentation(text_dim, condition_dim)
        self.stage1 = StageOneGenerator((channels, low, low), z_dim, condition_dim, cfg)
        self.ca2 = ConditioningAugmentation(text_dim, condition_dim)
        self.stage2 = StageTwoGenerator(channels, low, high, condition_dim, width=cfg.g_width, blocks=blocks,
                                        norm=cfg.g_norm)

    @property
    def noise_dim(self) -> int:
        """Length of G's input z: the noise and both conditioning augmentations' standard normal draws."""
        return self.z_dim + 2 * self.condition_dim

    def split(self, z: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(noise (B, Z), eps_1 (B, Nc), eps_2 (B, Nc))."""
        return z.split([self.z_dim, self.condition_dim, self.condition_dim], dim=1)

    def stage_one(self, z: Tensor, text: Tensor) -> tuple[Tensor, Posterior]:
        """(stage-I images (B, C, S1, S1), the condition's posterior) for the text embedding (B, E)."""
        noise, eps1, _ = self.split(z)
        posterior = self.ca1(text)
        return self.stage1(noise, ConditioningAugmentation.draw(posterior, eps1)), posterior

    def stage_two(self, z: Tensor, text: Tensor, low: Tensor) -> tuple[Tensor, Posterior]:
        """(stage-II images (B, C, S2, S2), the condition's posterior) refining the stage-I images ``low``."""
        _, _, eps2 = self.split(z)
        posterior = self.ca2(text)
        return self.stage2(low, ConditioningAugmentation.draw(posterior, eps2)), posterior

    def stages(self, z: Tensor, captions: Tensor) -> tuple[Tensor, Tensor]:
        """(stage-I images, stage-II images) for captions (B, T)."""
        text = self.text(captions)
        low, _ = self.stage_one(z, text)
        return low, self.stage_two(z, text, low)[0]

    def forward(self, z: Tensor, captions: Tensor) -> Tensor:
        return self.stages(z, captions)[1]


class MatchingDiscriminator(nn.Module):
    """(image (B, C, S, S), text embedding (B, E)) -> DOut: image trunk features joined with the compressed text."""

    def __init__(self, shape: tuple[int, int, int], text_dim: int, *, width: int, norm: str | None,
                 spectral: bool = False, compressed: int = 128) -> None:
        super().__init__()
        self.trunk, features = trunk(shape, width, norm, spectral=spectral)
        self.compress = nn.Sequential(nn.Linear(text_dim, compressed), nn.LeakyReLU(0.2))  # the paper's N_d = 128
        self.joint = nn.Sequential(nn.Linear(features + compressed, 2 * width), nn.LeakyReLU(0.2))
        self.logit = nn.Linear(2 * width, 1)

    def forward(self, x: Tensor, text: Tensor | None) -> DOut:
        if text is None:
            raise ValueError("the matching-aware discriminator scores (image, text) pairs: pass the text embedding")
        h = self.joint(torch.cat([self.trunk(x), self.compress(text)], dim=1))  # (B, 2 width)
        return DOut(logit=self.logit(h).squeeze(1), features=h)


def stage_one_config(cfg: ModelConfig) -> ModelConfig:
    """Stage I's DCGAN generator reads [z, c] with no labels and no attention."""
    return replace(cfg, attention=None, label_input=None)


__all__ = ["TextEncoder", "ConditioningAugmentation", "StageOneGenerator", "StageTwoGenerator", "StackGenerator",
           "MatchingDiscriminator", "stage_one_config", "halvings_to"]
