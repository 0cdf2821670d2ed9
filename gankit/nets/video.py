"""Video networks over clips (B, T, C, H, W): VGAN's two-stream G (Vondrick et al. 2016), MoCoGAN's content + motion
G (Tulyakov et al. 2018) and a 3D-convolutional clip discriminator for both.

The 3D stacks are 3D-GAN's (gankit/nets/volume.py: ``VolumeGenerator`` / ``VolumeTrunk`` over (C, D, H, W)), with
the clip's time axis as the depth axis; the 2D streams are DCGAN's (gankit/nets/dcgan.py).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.nets import ModelConfig, NetSpec
from gankit.nets.common import DHead
from gankit.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from gankit.nets.volume import VolumeGenerator, VolumeTrunk
from gankit.nn import LabelInput
from gankit.types import DOut


def clip_shape(sample_shape: tuple[int, ...]) -> tuple[int, int, int]:
    """(frames, channels, size) of a (T, C, S, S) clip shape, with a clear error for other shapes."""
    if len(sample_shape) != 4 or sample_shape[2] != sample_shape[3]:
        raise ConfigError(f"the video recipes need clips of square frames (T, C, S, S); the data has sample shape "
                          f"{sample_shape}. Use a video data set (moving-mnist, a folder of videos)")
    return sample_shape[0], sample_shape[1], sample_shape[2]


def to_volume(clips: Tensor) -> Tensor:
    """(B, T, C, H, W) clips -> (B, C, T, H, W) volumes: time becomes the 3D convolutions' depth axis."""
    return clips.permute(0, 2, 1, 3, 4)


def to_clips(volumes: Tensor) -> Tensor:
    """(B, C, T, H, W) volumes -> (B, T, C, H, W) clips."""
    return volumes.permute(0, 2, 1, 3, 4)


def frame_spec(sample_shape: tuple[int, ...], z_dim: int) -> NetSpec:
    """The NetSpec of a 2D network on one frame (C, S, S) of (T, C, S, S) clips, reading z_dim noise."""
    _, channels, size = clip_shape(sample_shape)
    return NetSpec(sample_shape=(channels, size, size), z_dim=z_dim)


@dataclass
class VideoParts:
    """VGAN's streams for one batch: the video and what it is composed of."""

    video: Tensor  # (B, T, C, H, W) = mask * foreground + (1 - mask) * background
    foreground: Tensor  # (B, T, C, H, W) in [-1, 1]
    mask: Tensor  # (B, T, 1, H, W) in [0, 1]
    background: Tensor  # (B, C, H, W) in [-1, 1], one static image per clip


class VGANGenerator(nn.Module):
    """Vondrick et al. 2016: a foreground stream of 3D transposed convolutions gives frames f and a mask m, a 2D
    stream one static background b; video = m f + (1 - m) b. z (B, Z) -> (B, T, C, H, W)."""

    def __init__(self, spec: NetSpec, cfg: ModelConfig) -> None:
        super().__init__()
        frames, self.channels, size = clip_shape(spec.sample_shape)
        # one 3D stack, C + 1 output channels: frames (tanh) and mask (sigmoid) are two 1-layer heads on its features
        self.foreground = VolumeGenerator(z_dim=spec.z_dim, out_channels=self.channels + 1, depth=frames, size=size,
                                          width=cfg.g_width, norm=cfg.g_norm, spectral=cfg.g_spectral_norm,
                                          output=nn.Identity())
        self.background = DCGANGenerator(frame_spec(spec.sample_shape, spec.z_dim), replace(cfg, attention=None))

    def streams(self, z: Tensor) -> VideoParts:
        """The video and its foreground, mask and background."""
        out = to_clips(self.foreground(z))  # (B, T, C + 1, H, W)
        foreground, mask = torch.tanh(out[:, :, :self.channels]), torch.sigmoid(out[:, :, self.channels:])
        background = self.background(z)  # (B, C, H, W)
        video = mask * foreground + (1 - mask) * background[:, None]
        return VideoParts(video, foreground, mask, background)

    def forward(self, z: Tensor, y: Tensor | None = None, *, parts: bool = False) -> Tensor | VideoParts:
        """The video (B, T, C, H, W), or with ``parts`` every stream (VGAN's mask sparsity reads the mask)."""
        streams = self.streams(z)
        return streams if parts else streams.video


@dataclass(frozen=True)
class MotionSplit:
    """MoCoGAN's noise layout: z = [content (B, content) | h0 (B, motion) | eps (B, T * noise)]."""

    content: int
    motion: int
    noise: int
    frames: int

    @property
    def total(self) -> int:
        return self.content + self.motion + self.frames * self.noise


class MoCoGANGenerator(nn.Module):
    """Tulyakov et al. 2018: a content code z_C fixed for the clip and a motion code z_M(t) per frame from a GRU
    driven by noise eps(t); an image G draws frame t from [z_C, z_M(t)]. z (B, split.total) -> (B, T, C, H, W)."""

    def __init__(self, spec: NetSpec, cfg: ModelConfig, split: MotionSplit) -> None:
        super().__init__()
        frames, self.channels, self.size = clip_shape(spec.sample_shape)
        if split.frames != frames:
            raise ConfigError(f"MoCoGAN's motion code has {split.frames} steps but the clips have {frames} frames")
        self.split = split
        self.motion = nn.GRUCell(split.noise, split.motion)
        self.image = DCGANGenerator(frame_spec(spec.sample_shape, split.content + split.motion), cfg)

    def motion_codes(self, h0: Tensor, noise: Tensor) -> Tensor:
        """h0 (B, M) and eps (B, T, E) -> z_M (B, T, M), one GRU step per frame."""
        h, codes = h0, []
        for t in range(noise.shape[1]):
            h = self.motion(noise[:, t], h)
            codes.append(h)
        return torch.stack(codes, dim=1)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        s = self.split
        content, h0, noise = z.split([s.content, s.motion, s.frames * s.noise], dim=1)
        motion = self.motion_codes(h0, noise.unflatten(1, (s.frames, s.noise)))  # (B, T, M)
        codes = torch.cat([content[:, None].expand(-1, s.frames, -1), motion], dim=2)  # (B, T, Zc + M)
        frames = self.image(codes.flatten(0, 1))  # (B T, C, H, W)
        return frames.unflatten(0, (-1, s.frames))


class VideoDiscriminator(nn.Module):
    """A clip discriminator (VGAN's D, MoCoGAN's D_V): 3D-GAN's strided 3D convolutions over (C, T, H, W), then
    the shared head. (B, T, C, H, W) -> DOut."""

    def __init__(self, spec: NetSpec, cfg: ModelConfig, *, keep_time: bool = False) -> None:
        super().__init__()
        frames, channels, size = clip_shape(spec.sample_shape)
        if cfg.label_input is not None:
            raise ConfigError("the video discriminators take no labels: set model.label_input=null")
        self.trunk = VolumeTrunk(in_channels=channels, depth=frames, size=size, width=cfg.d_width, norm=cfg.d_norm,
                                 spectral=cfg.d_spectral_norm, keep_depth=keep_time)
        label_input = LabelInput(None, 0, self.trunk.features, cfg.d_spectral_norm)
        self.head = DHead(self.trunk.features, label_input, spec.aux_dim, cfg.d_spectral_norm)

    def forward(self, x: Tensor, y: Tensor | None = None) -> DOut:
        return self.head(self.trunk(to_volume(x)), y)


def frame_discriminator(sample_shape: tuple[int, ...], cfg: ModelConfig) -> nn.Module:
    """MoCoGAN's image discriminator D_I: DCGAN's D on single frames (B, C, S, S)."""
    return DCGANDiscriminator(frame_spec(sample_shape, 1), replace(cfg, attention=None, label_input=None))


__all__ = ["VGANGenerator", "VideoParts", "MoCoGANGenerator", "MotionSplit", "VideoDiscriminator",
           "frame_discriminator", "clip_shape", "to_volume", "to_clips"]
