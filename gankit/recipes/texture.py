"""Texture synthesis: Spatial GAN (Jetchev et al. 2016), PSGAN (Bergmann et al. 2017) and the Markovian GAN
(Li & Wand 2016).

Each trains on random crops of one or a few texture images (gankit/data/texture.py), re-drawn at every step: the
loader hands the recipe ``train.batch_size`` source images and the recipe cuts ``recipe_args.crops`` random crops
of ``recipe_args.crop`` px out of them. G is fully convolutional on a spatial noise tensor, so after training it
makes textures of any size (``Run.texture``), and tileable ones when its noise is made periodic.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from gankit import distributed as noise
from gankit.data.texture import check_texture_size, random_crops
from gankit.errors import ConfigError, unknown
from gankit.losses.texture import total_variation
from gankit.nets.texture import (FeaturePatchDiscriminator, RandomFeatures, SpatialDiscriminator, SpatialGenerator,
                                 periodic_pad)
from gankit.objective import Accepts, Objective
from gankit.recipes.base import Latent, LossTerms, Phase, Recipe, eval_mode, register_recipe
from gankit.recipes.translation import TRANSLATION_TRICKS
from gankit.types import Batch

TEXTURE_ACCEPTS = Accepts(tricks=TRANSLATION_TRICKS, terms=frozenset(),
                          why="a texture GAN keeps its own fully convolutional networks and spatial noise")
TILE_MARGIN = 2  # noise positions added on each side of a tile: more than G's reach, so the seams match exactly


@dataclass(frozen=True)
class TextureArgs:
    """recipe_args of the texture GANs: each hyperparameter once, with its default."""

    crop: int = 64  # side of the random real crops D sees, and of G's training outputs (px)
    crops: int = 16  # crops per step: the batch D sees on each side
    layers: int = 4  # G's up-sampling and D's down-sampling steps: one noise position makes 2^layers px
    global_dim: int = 0  # PSGAN's global code (0: SGAN, local noise only)
    periodic_dim: int = 0  # PSGAN's periodic channels, their wave numbers learnt from the global code
    wave_hidden: int = 60  # width of the MLP from the global code to the wave numbers
    upsample: str = "transpose"  # G's x2 steps: transpose (the papers) or resize (nearest x2 + 3x3 conv)
    rgb_width: int = 0  # > 0: G's last step makes this many channels, then a full-resolution 3x3 conv makes RGB
    features: str = "auto"  # Markovian GAN: D's fixed features, vgg (VGG19 relu3_1), random, or auto
    tv_weight: float = 1.0e-4  # Markovian GAN: weight of the total-variation prior on G's output

    def __post_init__(self) -> None:
        scale = 2 ** self.layers if isinstance(self.layers, int) else 0
        if not isinstance(self.layers, int) or self.layers < 2:
            raise ConfigError(f"recipe_args.layers={self.layers!r}: G's up-sampling steps, an int >= 2 (PSGAN: 5)")
        if not isinstance(self.crop, int) or self.crop < scale or self.crop % scale:
            raise ConfigError(f"recipe_args.crop={self.crop!r}: the crop side must be a positive multiple of "
                              f"2^layers = {scale} px (one noise position each); e.g. {max(scale, 64 // scale * scale)}")
        for name in ("crops", "wave_hidden"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ConfigError(f"recipe_args.{name}={getattr(self, name)!r}: must be an int >= 1")
        for name in ("global_dim", "periodic_dim", "rgb_width"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                raise ConfigError(f"recipe_args.{name}={getattr(self, name)!r}: must be an int >= 0 (0: none)")
        if self.periodic_dim and not self.global_dim:
            raise ConfigError("recipe_args.periodic_dim > 0 needs recipe_args.global_dim > 0: PSGAN learns the "
                              "periodic wave numbers from the global code")
        if self.upsample not in UPSAMPLE:
            raise ConfigError(f"recipe_args.upsample: {unknown('up-sampling step', self.upsample, UPSAMPLE)}")
        if self.features not in FEATURES:
            raise ConfigError(f"recipe_args.features: {unknown('feature network', self.features, FEATURES)}")
        if not self.tv_weight >= 0:
            raise ConfigError(f"recipe_args.tv_weight={self.tv_weight!r}: must be >= 0 (0: no smoothness prior)")

    @classmethod
    def of(cls, cfg, takes: tuple[str, ...]) -> "TextureArgs":  # noqa: ANN001  (Config)
        """The run's recipe_args; names the recipe does not take (``takes``) are refused."""
        for key in cfg.recipe_args:
            if key not in takes:
                raise ConfigError(f"recipe_args: {unknown(f'argument of recipe {cfg.recipe!r}', key, takes)}")
        return cls(**cfg.recipe_args)


FEATURES = ("auto", "vgg", "random")
UPSAMPLE = ("transpose", "resize")  # gankit/nets/texture.py up_unit
SPATIAL_ARGS = ("crop", "crops", "layers", "global_dim", "periodic_dim", "wave_hidden", "upsample", "rgb_width")
RANDOM_FEATURES_SEED = 1234  # the Markovian D's random features; the gram metric uses other random filters


@register_recipe("psgan")
class PSGAN(Recipe):
    """Bergmann et al. 2017 (PSGAN), Jetchev et al. 2016 (SGAN: global_dim = periodic_dim = 0): a fully
    convolutional G on spatial noise against a fully convolutional D whose every output judges one patch."""

    paper = "Bergmann et al. 2017, Learning Texture Manifolds with the Periodic Spatial GAN; Jetchev et al. 2016, " \
            "Texture Synthesis with Spatial Generative Adversarial Networks"
    accepts = TEXTURE_ACCEPTS
    data_kinds = ("image",)
    takes = SPATIAL_ARGS

    def __init__(self, G: SpatialGenerator, D: nn.Module, *, args: TextureArgs, objective: Objective | None = None) -> None:
        super().__init__()
        self.G, self.D, self.args = G, D, args
        self.use_objective(objective or Objective())

    @classmethod
    def from_config(cls, cfg, data) -> "PSGAN":  # noqa: ANN001
        args = TextureArgs.of(cfg, cls.takes)
        check_texture_size(data.sample_shape, args.crop, data.name)
        channels = data.sample_shape[0]
        G = SpatialGenerator(channels, local_dim=cfg.model.z_dim, global_dim=args.global_dim,
                             periodic_dim=args.periodic_dim, width=cfg.model.g_width, n_up=args.layers,
                             wave_hidden=args.wave_hidden, norm=cfg.model.g_norm, upsample=args.upsample,
                             rgb_width=args.rgb_width)
        return cls(G, cls.discriminator(cfg, args, channels), args=args, objective=cls.objective_for(cfg))

    @classmethod
    def discriminator(cls, cfg, args: TextureArgs, channels: int) -> nn.Module:  # noqa: ANN001
        """SGAN/PSGAN's D: as many stride-2 steps as G has up-sampling steps."""
        return SpatialDiscriminator(channels, width=cfg.model.d_width, n_down=args.layers, norm=cfg.model.d_norm,
                                    spectral=cfg.model.d_spectral_norm)

    def phases(self) -> list[Phase]:
        return [Phase("D", self.d_step, trains="D", after=self.constrain),
                Phase("G", self.g_step, trains="G", new_batch=False)]

    # --- noise --------------------------------------------------------------------------------------------
    def generator_net(self) -> SpatialGenerator:
        """The SpatialGenerator inside G (also when a trick wraps G)."""
        return next(m for m in self.G.modules() if isinstance(m, SpatialGenerator))

    def noise(self, n: int, height: int, width: int, *, generator: torch.Generator | None = None) -> Tensor:
        """PSGAN's noise (n, L + G + P, height, width): local U(-1, 1) per position, a global code U(-1, 1) and
        the periodic channels' phases U(0, 2 pi), both the same at every position."""
        net, device = self.generator_net(), next(self.G.parameters()).device
        local = 2 * noise.rand(n, net.local_dim, height, width, device=device, generator=generator) - 1
        global_code = 2 * noise.rand(n, net.global_dim, 1, 1, device=device, generator=generator) - 1
        phase = 2 * torch.pi * noise.rand(n, net.periodic_dim, 1, 1, device=device, generator=generator)
        return torch.cat([local, torch.cat([global_code, phase], 1).expand(-1, -1, height, width)], 1)

    def sample_latent(self, n: int, *, labels: Tensor | None = None, generator: torch.Generator | None = None) -> Latent:
        """Noise for outputs of the training crop's size."""
        if labels is not None:
            raise ConfigError(f"{type(self).__name__} is unconditional: it cannot sample a class")
        cells = self.args.crop // self.generator_net().scale
        return Latent(self.noise(n, cells, cells, generator=generator))

    # --- training -----------------------------------------------------------------------------------------
    def real_crops(self, batch: Batch) -> Tensor:
        """``crops`` fresh random crops (crops, C, crop, crop) of the batch's texture images."""
        return random_crops(batch.x, self.args.crops, self.args.crop)

    def d_step(self, batch: Batch, step: int) -> LossTerms:
        fake = self.G(self.sample_latent(self.args.crops).z)
        judged = self.objective.d_loss(self.D, real=self.real_crops(batch), fake=fake, step=step)
        self.record_d(d_real=judged.real_score, d_fake=judged.fake_score)
        return judged.terms

    def g_step(self, batch: Batch, step: int) -> LossTerms:
        fake = self.G(self.sample_latent(self.args.crops).z)
        return self.objective.g_loss(self.D, real=self.real_crops(batch), fake=fake, step=step).terms

    # --- any size, tileable -------------------------------------------------------------------------------
    @torch.no_grad()
    def texture(self, n: int, size: int, *, tileable: bool = False, generator: torch.Generator | None = None) -> Tensor:
        """n textures (n, C, size, size) in [-1, 1] from noise of the matching size (sizes round up to whole noise
        positions of 2^layers px, then are cut back). ``tileable``: the noise is made periodic (local noise wraps
        around, PSGAN's wave numbers are rounded to whole cycles per tile), G runs on it with a margin and the
        middle period is kept: a texture whose copies join without seams (its size a multiple of 2^layers px)."""
        net, scale = self.sampler(), self.generator_net().scale
        if not isinstance(size, int) or size < scale:
            raise ConfigError(f"size={size!r}: texture side in px, at least one noise position ({scale} px)")
        cells = -(-size // scale)  # noise positions per side, rounded up
        z = self.noise(n, cells, cells, generator=generator)
        if not tileable:
            return self.generate(Latent(z))[..., :size, :size]
        wrapped = periodic_pad(z, TILE_MARGIN)  # (n, L+G+P, cells + 2m, cells + 2m), periodic
        spatial = next(m for m in net.modules() if isinstance(m, SpatialGenerator))
        with eval_mode(spatial):
            images = torch.cat([spatial(wrapped[i:i + 16], period=cells) for i in range(0, n, 16)])
        cut = TILE_MARGIN * scale
        return images[..., cut:cut + cells * scale, cut:cut + cells * scale].float()


@register_recipe("markovian-gan")
class MarkovianGAN(PSGAN):
    """Li & Wand 2016 (MGAN): a feed-forward G trained against a discriminator of "neural patches", the local
    windows of a fixed network's feature map (VGG19 relu3_1 in the paper; here VGG19 where its weights are present,
    else fixed random convolutions of the same shape), plus a total-variation prior on G's output."""

    paper = "Li & Wand 2016, Precomputed Real-Time Texture Synthesis with Markovian Generative Adversarial Networks"
    takes = ("crop", "crops", "layers", "upsample", "rgb_width", "features", "tv_weight")

    @classmethod
    def resolve_args(cls, cfg) -> dict:  # noqa: ANN001
        """The feature network used (vgg or random for "auto"), recorded in the run's config."""
        return {"features": resolve_features(cfg.recipe_args.get("features", TextureArgs.features))}

    @classmethod
    def discriminator(cls, cfg, args: TextureArgs, channels: int) -> nn.Module:  # noqa: ANN001
        if resolve_features(args.features) == "vgg":
            from gankit.losses.perceptual import load_vgg19

            features, width = load_vgg19(download=False), 256
            features.net = features.net[:VGG_RELU3_1]  # conv1_1 .. relu3_1: (B, 256, H/4, W/4)
        else:
            width = 64
            features = RandomFeatures(channels, width=width // 4, seed=RANDOM_FEATURES_SEED)
        return FeaturePatchDiscriminator(features, width, width=cfg.model.d_width, norm=cfg.model.d_norm,
                                         spectral=cfg.model.d_spectral_norm)

    def g_step(self, batch: Batch, step: int) -> LossTerms:
        fake = self.G(self.sample_latent(self.args.crops).z)
        terms = self.objective.g_loss(self.D, real=self.real_crops(batch), fake=fake, step=step).terms
        if self.args.tv_weight > 0:
            terms["tv"] = self.args.tv_weight * total_variation(fake)
        return terms


VGG_RELU3_1 = 12  # torchvision's vgg19().features[:12] ends with relu3_1, the Markovian GAN's patch layer


def resolve_features(features: str) -> str:
    """auto -> vgg when the VGG19 weights are on this machine, else random (with a note)."""
    from gankit.losses.perceptual import find_vgg19

    if features not in FEATURES:
        raise ConfigError(f"recipe_args.features: {unknown('feature network', features, FEATURES)}")
    if features != "auto":
        return features
    if find_vgg19() is not None:
        return "vgg"
    print("markovian-gan: no VGG19 weights here; D reads fixed random conv features (recipe_args.features=random)",
          file=sys.stderr)
    return "random"


def is_texture_recipe(recipe: Recipe) -> bool:
    """Whether ``recipe`` makes textures of any size (``PSGAN.texture``)."""
    return isinstance(recipe, PSGAN)


__all__ = ["PSGAN", "MarkovianGAN", "TextureArgs", "TEXTURE_ACCEPTS", "is_texture_recipe", "resolve_features"]
