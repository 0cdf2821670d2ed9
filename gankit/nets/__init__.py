"""Architectures as plain nn.Modules; resolution and width are arguments.

``build_nets(spec, cfg)`` returns (G, D) for any registered architecture:
G(z, y=None) -> samples of ``spec.sample_shape``; D(x, y=None) -> DOut.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from torch import nn

from gankit.registry import Registry

ARCHS: Registry[tuple[type[nn.Module], type[nn.Module]]] = Registry("architecture")


@dataclass(frozen=True)
class ModelConfig:
    """Network hyperparameters shared by all architectures (the `model.*` config keys)."""

    arch: str = "dcgan"  # mlp | dcgan | resnet | r3gan | biggan | stylegan | stylegan2 | progan | crnn (sequences)
    z_dim: int = 100  # noise dimension (InfoGAN codes are added on top)
    g_width: int = 64  # G channels at full resolution (hidden units for mlp)
    d_width: int = 64  # D channels at full resolution (hidden units for mlp)
    g_layers: int = 3  # hidden layers of the mlp generator (LSTM layers of crnn's)
    d_layers: int = 3  # hidden layers of the mlp discriminator (LSTM layers of crnn's)
    g_norm: str | None = "batch"  # batch | instance | layer | null
    d_norm: str | None = "batch"  # batch | instance | layer | null (use layer or null with GP)
    g_spectral_norm: bool = False  # spectral norm on G's layers (SAGAN)
    d_spectral_norm: bool = False  # spectral norm on D's layers (SNGAN, SAGAN)
    attention: int | None = None  # resolution of a self-attention block in G and D (SAGAN)
    label_input: str | None = None  # how D sees labels: concat | projection | null
    blocks: int = 1  # residual blocks at each resolution (arch r3gan)
    embed_dim: int = 128  # the class embedding shared by G's blocks (arch biggan); the token embedding (text recipes)
    mapping_layers: int = 8  # layers of the mapping network z -> w (arch stylegan, stylegan2)
    style_mixing: float = 0.9  # probability of style mixing while training (arch stylegan, stylegan2)
    sync_bn: bool = False  # multi-process training: batch norms use the statistics of the global batch (SyncBatchNorm)


@dataclass(frozen=True)
class NetSpec:
    """What the data and the recipe ask of the networks."""

    sample_shape: tuple[int, ...]  # (C, H, W) for images, (D,) for points, (T, F) for continuous sequences
    z_dim: int  # length of G's input vector
    g_classes: int = 0  # classes G is conditioned on (0 = unconditional)
    d_classes: int = 0  # classes D's label input sees
    aux_dim: int = 0  # outputs of D's auxiliary head (AC-GAN classes, InfoGAN's Q)


def build_nets(spec: NetSpec, cfg: ModelConfig, *, d_shape: tuple[int, ...] | None = None) -> tuple[nn.Module, nn.Module]:
    """Construct (G, D) of architecture ``cfg.arch`` for ``spec``.

    ``d_shape``: the input shape D is built for when it differs from G's samples (PacGAN's packed samples).
    """
    from gankit.nn.layers import _check_norm

    _check_norm(cfg.g_norm, "model.g_norm")  # checked here too: a one-layer D never builds a norm layer
    _check_norm(cfg.d_norm, "model.d_norm")
    g_cls, d_cls = ARCHS.get(cfg.arch)
    _check_sequences(spec.sample_shape, cfg.arch)
    G, D = g_cls(spec, cfg), d_cls(replace(spec, sample_shape=d_shape or spec.sample_shape), cfg)
    has_attention = [any(type(m).__name__ == "SelfAttention" for m in net.modules()) for net in (G, D)]
    if cfg.attention is not None and not all(has_attention):  # both G and D, or the resolutions disagree
        from gankit.errors import ConfigError

        raise ConfigError(f"model.attention={cfg.attention} is not a feature-map size of this {cfg.arch} network "
                          f"for samples of shape {spec.sample_shape}; use a size the network passes through "
                          "(e.g. half the image size) or null")
    return G, D


def takes_sequences(arch: str) -> bool:
    """Whether architecture ``arch`` builds networks for continuous sequences (T, F) (its G says so)."""
    return getattr(ARCHS.get(arch)[0], "takes_sequences", False)


def _check_sequences(sample_shape: tuple[int, ...], arch: str) -> None:
    """A clear error for sequence samples (T, F), the only 2-D sample shape, given to an image or point network."""
    if len(sample_shape) == 2 and not takes_sequences(arch):
        from gankit.errors import ConfigError

        choices = " or ".join(f"model.arch={name}" for name in ARCHS.names() if takes_sequences(name))
        raise ConfigError(f"model.arch={arch!r} builds networks for images or points, but the data holds continuous "
                          f"sequences of shape (T, F) = {sample_shape}; use {choices} (e.g. the crnngan preset)")


from gankit.nets import biggan, crnn, dcgan, mlp, progan, r3gan, resnet, stylegan  # noqa: E402,F401  (registers the architectures)
from gankit.nets import volume  # noqa: E402,F401  (3D-GAN's volumetric G and D: voxels, video)

__all__ = ["ARCHS", "ModelConfig", "NetSpec", "build_nets", "takes_sequences"]
