"""Video generation: VGAN (Vondrick et al. 2016) and MoCoGAN (Tulyakov et al. 2018) on clips (B, T, C, H, W).

Both are the generic GAN with their own networks (gankit/nets/video.py); VGAN adds the foreground mask's L1
sparsity to G's loss, MoCoGAN judges every batch twice, by a video discriminator on whole clips and an image
discriminator on one random frame of each clip.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from gankit import distributed as noise
from gankit.losses.video import mask_sparsity
from gankit.nets.video import MoCoGANGenerator, MotionSplit, VGANGenerator, VideoDiscriminator, frame_discriminator
from gankit.objective import Accepts
from gankit.recipes.base import Latent, LossTerms, check_recipe_args, register_recipe
from gankit.recipes.gan import GAN, View
from gankit.types import Batch

VIDEO_ACCEPTS = Accepts(tricks=frozenset({"label_smoothing", "historical_averaging", "instance_noise"}), terms=frozenset(),
                        why="the tricks and terms read images (B, C, H, W); video recipes see clips (B, T, C, H, W)")


class VideoGAN(GAN):
    """The video recipes' common ground: unconditional clips, shown as one row of frames per clip."""

    data_kinds = ("video",)
    accepts = VIDEO_ACCEPTS

    def show(self, latent: Latent, output: Tensor) -> tuple[Tensor, int | None]:
        """(B, T, C, H, W) clips -> their frames (B T, C, H, W), one clip a row."""
        return output.flatten(0, 1), output.shape[1]

    @classmethod
    def spec(cls, cfg, data, objective, *, aux_dim: int = 0):  # noqa: ANN001, ANN206
        spec = super().spec(cfg, data, objective, aux_dim=aux_dim)
        if spec.g_classes or spec.d_classes or spec.aux_dim:
            from gankit.errors import ConfigError

            raise ConfigError(f"recipe {cfg.recipe!r} generates unconditional clips: set conditional=false and "
                              "model.label_input=null")
        return spec


@register_recipe("vgan")
class VGAN(VideoGAN):
    """Vondrick et al. 2016: foreground (3D, with a mask) and static background (2D) streams, a 3D-conv D, and an
    L1 sparsity term on the mask."""

    paper = "Vondrick et al. 2016, Generating Videos with Scene Dynamics"

    def __init__(self, G: nn.Module, D: nn.Module, *, mask_weight: float = 0.1, **gan_kwargs) -> None:
        super().__init__(G, D, **gan_kwargs)
        self.mask_weight = mask_weight

    @classmethod
    def from_config(cls, cfg, data) -> "VGAN":  # noqa: ANN001
        check_recipe_args(cfg.recipe_args, ("mask_weight",), cfg.recipe)
        objective = cls.objective_for(cfg)
        spec = cls.spec(cfg, data, objective)
        G, D = VGANGenerator(spec, cfg.model), VideoDiscriminator(spec, cfg.model)
        return cls(G, D, **cls.common_args(cfg, data, objective), **cfg.recipe_args)

    def g_step(self, batch: Batch, step: int) -> LossTerms:
        latent = self.sample_latent(len(batch))
        parts = self.G(latent.z, latent.y, parts=True)
        terms = self.objective.g_loss(self.D, real=batch.x, fake=parts.video, step=step,
                                      **self.sides(batch, latent)).terms
        terms["mask_l1"] = self.mask_weight * mask_sparsity(mask=parts.mask)
        self.record(mask_mean=parts.mask.detach().mean())
        return terms


@register_recipe("mocogan")
class MoCoGAN(VideoGAN):
    """Tulyakov et al. 2018: content code + GRU motion codes -> an image G per frame; an image discriminator on
    single frames and a video discriminator on clips, both trained in D's phase and both judging G. recipe_args:
    motion_dim, noise_dim (10, 10), keep_time (D_V strides space only, as the authors' code; default false)."""

    paper = "Tulyakov et al. 2018, MoCoGAN: Decomposing Motion and Content for Video Generation"

    def __init__(self, G: nn.Module, D: nn.Module, *, D_image: nn.Module, **gan_kwargs) -> None:
        super().__init__(G, D, **gan_kwargs)
        self.D_image = D_image  # D_I on single frames; self.D is the video discriminator D_V

    @classmethod
    def from_config(cls, cfg, data) -> "MoCoGAN":  # noqa: ANN001
        args = dict(cfg.recipe_args)
        check_recipe_args(args, ("motion_dim", "noise_dim", "keep_time"), cfg.recipe)
        objective = cls.objective_for(cfg)
        frames = data.sample_shape[0]
        split = MotionSplit(content=cfg.model.z_dim, motion=int(args.get("motion_dim", 10)),
                            noise=int(args.get("noise_dim", 10)), frames=frames)
        spec = cls.spec(cfg, data, objective)
        G = MoCoGANGenerator(spec, cfg.model, split)
        D_video = VideoDiscriminator(spec, cfg.model, keep_time=bool(args.get("keep_time", False)))
        D_image = frame_discriminator(data.sample_shape, cfg.model)
        return cls(G, D_video, D_image=D_image, **{**cls.common_args(cfg, data, objective), "z_dim": split.total})

    def networks(self) -> dict[str, nn.Module]:
        return {"G": self.G, "D": self.D, "D_image": self.D_image}

    def groups(self) -> dict[str, list[str]]:
        return {"G": ["G"], "D": ["D", "D_image"]}

    def discriminators(self) -> list[nn.Module]:
        return [self.D, self.D_image]

    @staticmethod
    def one_frame(clips: Tensor, index: Tensor) -> Tensor:
        """(B, T, C, H, W) clips and (B,) frame indices -> (B, C, H, W), frame index[i] of clip i."""
        return clips[torch.arange(len(clips), device=clips.device), index]

    def views(self, batch: Batch, fake: Tensor) -> dict[str, View]:
        """Each discriminator and what it judges: whole clips, and one random frame of each (real and generated)."""
        index = noise.randint(fake.shape[1], len(fake), device=fake.device)  # (B,) a frame per clip
        return {"_video": (self.D, batch.x, fake),
                "_image": (self.D_image, self.one_frame(batch.x, index), self.one_frame(fake, index))}

    def d_step(self, batch: Batch, step: int) -> LossTerms:
        fake, latent = self._fake(batch)
        return self.judge_views(self.views(batch, fake), batch, latent, step)

    def g_step(self, batch: Batch, step: int) -> LossTerms:
        fake, latent = self._fake(batch)
        return self.fool_views(self.views(batch, fake), batch, latent, step)


__all__ = ["VGAN", "MoCoGAN", "VideoGAN"]
