"""Ledig et al. 2017 (SRGAN): super-resolution with a content loss plus an adversarial loss."""
from __future__ import annotations

import sys
import warnings

import torch.nn.functional as F
from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.losses.auxiliary import pixel_mse
from gankit.objective import Objective
from gankit.recipes.base import Latent, LossTerms, Phase, register_recipe
from gankit.recipes.translation import Translation, recipe_args, translation_data
from gankit.types import Batch

DEFAULTS = {"scale": 4, "n_blocks": 16, "content": "auto", "adv_weight": 1e-3, "pretrain": 0.8}
CONTENTS = ("auto", "vgg", "mse")


def downsample(images: Tensor, scale: int) -> Tensor:
    """The low-resolution input: bicubic downsampling by ``scale`` (antialiased), kept in [-1, 1]."""
    h, w = images.shape[-2:]
    return F.interpolate(images, size=(h // scale, w // scale), mode="bicubic", antialias=True,
                         align_corners=False).clamp(-1, 1)


def upsample(images: Tensor, scale: int) -> Tensor:
    """Bicubic upsampling by ``scale``, kept in [-1, 1]: the baseline a super-resolver has to beat."""
    return F.interpolate(images, scale_factor=scale, mode="bicubic", align_corners=False).clamp(-1, 1)


def resolve_content(content: str) -> str:
    """auto -> vgg when the VGG19 weights can be had (local file or download), else mse with a warning."""
    from gankit.losses.perceptual import find_vgg19, load_vgg19

    if content not in CONTENTS:
        raise ConfigError(f"recipe_args.content={content!r}: must be one of {', '.join(CONTENTS)}")
    if content != "auto":
        return content
    if find_vgg19() is not None:
        print(f"srgan: content loss on VGG19 relu5_4 features ({find_vgg19()})", file=sys.stderr)
        return "vgg"
    try:
        load_vgg19(download=True)  # online machines fetch it into the torch.hub cache once
        print("srgan: content loss on VGG19 relu5_4 features (downloaded to the torch.hub cache)", file=sys.stderr)
        return "vgg"
    except ConfigError as e:
        warnings.warn(f"srgan: content loss falls back to pixel MSE. {e}", stacklevel=2)
        return "mse"


@register_recipe("srgan")
class SRGAN(Translation):
    """Ledig et al. 2017: SRResNet G (pixel-shuffle x2/x4), conv D; VGG19 content (or MSE) + 1e-3 x adversarial loss.

    G sees bicubic-downsampled versions of the data's images and is scored against the originals. As in the
    paper, G starts as an SRResNet: for the first ``pretrain_steps`` steps it trains on pixel MSE alone and D
    sits out (its phase makes no update), then the GAN phase begins from that G."""

    paper = "Ledig et al. 2017, Photo-Realistic Single Image Super-Resolution Using a Generative Adversarial Network"
    has_targets = True
    any_input_size = True
    baseline_name = "bicubic"  # upsampling of the same inputs: eval reports psnr_bicubic, ssim_bicubic

    def __init__(self, G: nn.Module, D: nn.Module, *, scale: int, input_shape: tuple[int, ...],
                 objective: Objective | None = None, content: str = "mse", adv_weight: float = 1e-3,
                 pretrain_steps: int = 0) -> None:
        super().__init__()
        if content not in ("vgg", "mse"):
            raise ConfigError(f"recipe_args.content={content!r}: must be vgg or mse once resolved")
        if pretrain_steps < 0:
            raise ConfigError(f"srgan: pretrain_steps={pretrain_steps} must be >= 0 (0: no SRResNet pre-training)")
        self.pretrain_steps = pretrain_steps
        self.G, self.D, self.scale, self.input_shape = G, D, scale, tuple(input_shape)
        self.adv_weight, self.content = adv_weight, content
        self.use_objective(objective or Objective())
        self._vgg: list[nn.Module] = []  # loaded at first use, kept out of state_dict (frozen ImageNet weights)

    @classmethod
    def from_config(cls, cfg, data) -> "SRGAN":  # noqa: ANN001
        from gankit.nets.translation import SRDiscriminator, SRResNet

        args = recipe_args(cfg, DEFAULTS, "srgan")
        shape, _ = translation_data(data, "srgan", None)
        scale, size = args["scale"], shape[-1]
        if size % scale or size // scale < 2:
            raise ConfigError(f"srgan: data.image_size={size} (the high-resolution size) must be a multiple of "
                              f"recipe_args.scale={scale} with at least 2 low-resolution pixels")
        if not 0 <= args["pretrain"] < 1:
            raise ConfigError(f"recipe_args.pretrain={args['pretrain']}: the fraction of train.steps that pre-trains "
                              "G on pixel MSE must be in [0, 1) (0: no pre-training)")
        content = resolve_content(args["content"])
        if content == "vgg" and size < 16:
            raise ConfigError(f"srgan: the VGG content loss needs images of at least 16 px (data.image_size={size}); "
                              "use recipe_args.content=mse")
        G = SRResNet(shape[0], scale=scale, width=cfg.model.g_width, n_blocks=args["n_blocks"])
        D = SRDiscriminator(shape[0], width=cfg.model.d_width, spectral=cfg.model.d_spectral_norm)
        return cls(G, D, scale=scale, input_shape=(shape[0], size // scale, size // scale), objective=cls.objective_for(cfg),
                   content=content, adv_weight=args["adv_weight"], pretrain_steps=int(args["pretrain"] * cfg.train.steps))

    @classmethod
    def resolve_args(cls, cfg) -> dict:  # noqa: ANN001
        """The content loss used (vgg or mse for "auto"), recorded in the run's config."""
        return {"content": resolve_content(cfg.recipe_args.get("content", DEFAULTS["content"]))}

    def phases(self) -> list[Phase]:
        return [Phase("D", self.d_step, trains="D", repeats=self.d_updates, after=self.constrain),
                Phase("G", self.g_step, trains="G", new_batch=False)]

    def pretraining(self, step: int) -> bool:
        return step <= self.pretrain_steps

    def d_updates(self, step: int) -> int:
        """D's updates at ``step``: none while G pre-trains as an SRResNet, then one per G step."""
        return 0 if self.pretraining(step) else 1

    def d_step(self, batch: Batch, step: int) -> LossTerms:
        fake = self.G(downsample(batch.x, self.scale))
        judged = self.objective.d_loss(self.D, real=batch.x, fake=fake, step=step)
        self.record_d(d_real=judged.real_score, d_fake=judged.fake_score)
        return judged.terms

    def g_step(self, batch: Batch, step: int) -> LossTerms:
        fake = self.G(downsample(batch.x, self.scale))
        if self.pretraining(step):
            return {"mse": pixel_mse(output=fake, target=batch.x)}  # SRResNet's objective: PSNR-oriented
        adversarial = self.objective.g_loss(self.D, real=batch.x, fake=fake, step=step, adv_weight=self.adv_weight)
        return {"content": self.content_loss(fake, batch.x), **adversarial.terms}

    def content_loss(self, output: Tensor, target: Tensor) -> Tensor:
        if self.content == "mse":
            return pixel_mse(output=output, target=target)
        from gankit.losses.perceptual import load_vgg19, vgg_content_loss

        if not self._vgg:
            self._vgg.append(load_vgg19().to(target.device))
        return vgg_content_loss(self._vgg[0], output=output, target=target)

    def inputs(self, data, index: Tensor, labels: Tensor | None) -> Latent:  # noqa: ANN001
        """Low-resolution inputs made from the data's images, which are the targets."""
        target = data.x[index]
        return Latent(source=downsample(target, self.scale), target=target)

    def input_count(self, data) -> int:  # noqa: ANN001
        return len(data)

    def baseline(self, latent: Latent) -> Tensor:
        return upsample(latent.source, self.scale)
