"""Volumetric G and D over (C, D, H, W) volumes: Wu et al. 2016 (3D-GAN) for voxel shapes, reusable for video.

3D-GAN's G maps z (200-d) through 512x4^3 -> 256x8^3 -> 128x16^3 -> 64x32^3 -> 1x64^3 with 4x4x4 transposed
convolutions of stride 2, batch norm and ReLU; its D mirrors G with strided 4x4x4 convolutions, batch norm and leaky
ReLU 0.2. Here output channels, depth, spatial size and width are arguments: ``VolumeGenerator(z_dim=200,
out_channels=1, depth=64, size=64, width=64)`` is the paper's G; ``depth=32, size=64, out_channels=3`` is VGAN's
foreground stream (Vondrick et al. 2016: 512x2x4x4 -> 3x32x64x64). The depth axis doubles on the last layers only
when it has fewer doublings than the spatial axes (kernel 3 and stride 1 in depth before that).
"""
from __future__ import annotations

from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.nets import ARCHS, ModelConfig, NetSpec
from gankit.nets.common import DHead, conditioned_latent, refuse_settings, resolution_plan
from gankit.nn import LabelInput, maybe_sn, norm1d, norm2d
from gankit.types import DOut

NO_ATTENTION = "model.arch=volume has no self-attention or label-map input"


def norm3d(kind: str | None, channels: int, field: str) -> nn.Module:
    """A normalisation layer for (B, C, D, H, W) volumes (``norm2d``'s kinds)."""
    return norm2d(kind, channels, field, dims=3)


def depth_plan(depth: int, n_up: int) -> tuple[int, int]:
    """(base depth, doublings of depth): as many of the ``n_up`` doublings as ``depth`` has factors of two, so depth =
    base * 2^doublings (64 voxels over 4 doublings: base 4, like the spatial base; 32 frames: base 2)."""
    doublings = 0
    while doublings < n_up and depth % 2 ** (doublings + 1) == 0:
        doublings += 1
    base = depth // 2 ** doublings
    if base > 7:
        raise ConfigError(f"a depth of {depth} does not fit a volume network of {n_up} doublings: it needs base * 2^k "
                          f"with base 1..7 and k <= {n_up} (e.g. {2 ** n_up}, {4 * 2 ** n_up})")
    return base, doublings


def _layer_kernels(stride_in_depth: bool) -> dict:
    """Kernel, stride and padding of one up/down layer: 4x4x4 stride 2, or 3x4x4 stride (1, 2, 2) when depth stays."""
    if stride_in_depth:
        return {"kernel_size": 4, "stride": 2, "padding": 1}
    return {"kernel_size": (3, 4, 4), "stride": (1, 2, 2), "padding": 1}


class VolumeGenerator(nn.Module):
    """Wu et al. 2016: z (+ one-hot class) -> linear to (ch0, d0, s0, s0) -> n x [ConvT3d 4/2, norm, ReLU] -> tanh
    volume (B, out_channels, depth, size, size); ``width`` channels before the output layer, doubling per halving."""

    def __init__(self, *, z_dim: int, out_channels: int, depth: int, size: int, width: int, norm: str | None = "batch",
                 spectral: bool = False, num_classes: int = 0, output: nn.Module | None = None) -> None:
        super().__init__()
        self.base, n_up = resolution_plan(size, "volume")
        self.depth_base, depth_ups = depth_plan(depth, n_up)
        self.num_classes = num_classes
        self.ch0 = width * 2 ** (n_up - 1)
        cells = self.ch0 * self.depth_base * self.base ** 2
        self.project = nn.Sequential(maybe_sn(nn.Linear(z_dim + num_classes, cells), spectral),
                                     norm1d(norm, cells, "model.g_norm"), nn.ReLU())
        layers: list[nn.Module] = []
        ch = self.ch0
        for i in range(n_up):
            last = i == n_up - 1
            out = out_channels if last else ch // 2
            conv = nn.ConvTranspose3d(ch, out, **_layer_kernels(i >= n_up - depth_ups))
            layers += [maybe_sn(conv, spectral)]
            layers += [output or nn.Tanh()] if last else [norm3d(norm, out, "model.g_norm"), nn.ReLU()]
            ch = out
        self.blocks = nn.Sequential(*layers)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        h = self.project(conditioned_latent(z, y, self.num_classes))  # (B, ch0 * d0 * s0^2)
        return self.blocks(h.view(-1, self.ch0, self.depth_base, self.base, self.base))  # (B, C, D, S, S)


class VolumeTrunk(nn.Module):
    """Wu et al. 2016's D body: (B, C, D, S, S) -> n x [Conv3d 4/2, norm, LeakyReLU 0.2] to (B, F) features, F =
    width * 2^(n-1) * d0 * s0^2 (no norm on the input layer, as DCGAN). ``keep_depth``: every layer strides space only
    (3x4x4, stride (1, 2, 2)), so d0 = depth (MoCoGAN's video D in its authors' code keeps every frame)."""

    def __init__(self, *, in_channels: int, depth: int, size: int, width: int, norm: str | None = "batch",
                 spectral: bool = False, keep_depth: bool = False) -> None:
        super().__init__()
        base, n_down = resolution_plan(size, "volume")
        depth_base, depth_downs = (depth, 0) if keep_depth else depth_plan(depth, n_down)
        layers: list[nn.Module] = []
        ch_in, ch = in_channels, width
        for i in range(n_down):
            conv = nn.Conv3d(ch_in, ch, **_layer_kernels(i < depth_downs))
            layers += [maybe_sn(conv, spectral), norm3d(norm, ch, "model.d_norm") if i > 0 else nn.Identity(),
                       nn.LeakyReLU(0.2)]
            ch_in, ch = ch, ch * 2
        self.layers = nn.Sequential(*layers, nn.Flatten())
        self.features = ch_in * depth_base * base ** 2

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)  # (B, features)


def volume_shape(sample_shape: tuple[int, ...]) -> tuple[int, int, int]:
    """(channels, depth, size) of a (C, D, S, S) sample shape, with a clear error for other shapes."""
    if len(sample_shape) != 4 or sample_shape[2] != sample_shape[3]:
        raise ConfigError(f"model.arch='volume' needs volumes (C, D, S, S); the data has sample shape {sample_shape}. "
                          "Use a voxel data set (shapes3d, modelnet10, a voxel .npz) or an image architecture")
    return sample_shape[0], sample_shape[1], sample_shape[2]


class VoxelGenerator(VolumeGenerator):
    """``VolumeGenerator`` built from a NetSpec and the ``model.*`` config (model.arch=volume)."""

    def __init__(self, spec: NetSpec, cfg: ModelConfig) -> None:
        channels, depth, size = volume_shape(spec.sample_shape)
        refuse_settings(cfg, ("attention",), NO_ATTENTION)
        super().__init__(z_dim=spec.z_dim, out_channels=channels, depth=depth, size=size, width=cfg.g_width,
                         norm=cfg.g_norm, spectral=cfg.g_spectral_norm, num_classes=spec.g_classes)


class VoxelDiscriminator(nn.Module):
    """``VolumeTrunk`` -> DHead (logit, optional class projection and auxiliary head), for model.arch=volume."""

    def __init__(self, spec: NetSpec, cfg: ModelConfig) -> None:
        super().__init__()
        channels, depth, size = volume_shape(spec.sample_shape)
        refuse_settings(cfg, ("attention",), NO_ATTENTION)
        if cfg.label_input == "concat":
            raise ConfigError(f"{NO_ATTENTION}: model.label_input='concat' appends label maps to images; use "
                              "model.label_input=projection or null")
        self.trunk = VolumeTrunk(in_channels=channels, depth=depth, size=size, width=cfg.d_width, norm=cfg.d_norm,
                                 spectral=cfg.d_spectral_norm)
        label_input = LabelInput(cfg.label_input, spec.d_classes, self.trunk.features, cfg.d_spectral_norm)
        self.head = DHead(self.trunk.features, label_input, spec.aux_dim, cfg.d_spectral_norm)

    def forward(self, x: Tensor, y: Tensor | None = None) -> DOut:
        return self.head(self.trunk(x), y)  # (B, C, D, S, S) -> DOut


ARCHS.register("volume", doc="3D-GAN volumetric G and D over (C, D, S, S) voxels (Wu et al. 2016)")(
    (VoxelGenerator, VoxelDiscriminator))
