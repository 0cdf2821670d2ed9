"""Pathak et al. 2016 (Context Encoders): image inpainting, an encoder-decoder G fills a hole, L2 + adversarial loss."""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.data.masks import block_masks, centre_mask, read_mask
from gankit.errors import ConfigError, DataError
from gankit.losses.masked import masked_l2
from gankit.nets.inpainting import HoleFiller, paste
from gankit.objective import Objective
from gankit.recipes.base import Latent, LossTerms, Phase, register_recipe, run_generator
from gankit.recipes.translation import Translation, displayable, input_seed, recipe_args, translation_data
from gankit.types import Batch

# mask: "centre" (the paper's default), "blocks" (random blocks) or the path of a PNG (white on the hole);
# d_sees: "patch" (the paper: D judges the filled central patch; needs mask=centre) or "image" (the completed image)
DEFAULTS = {"mask": "centre", "hole": 0.5, "overlap": 0, "overlap_weight": 10.0, "l2_weight": 0.999,
            "adv_weight": 0.001, "d_sees": "patch"}
BUILT_IN_MASKS = ("centre", "blocks")
D_SEES = ("patch", "image")


@register_recipe("context-encoder")
class ContextEncoderGAN(Translation):
    """Pathak et al. 2016: G(masked image, mask) predicts the hole; 0.999 x L2 on the hole + 0.001 x adversarial.

    D judges the filled central patch against the real one (``d_sees="patch"``, the paper's), or the completed
    image against the real image (``d_sees="image"``, for random-block and user masks). With the paper's
    ``overlap``, G also predicts a band of that many context pixels around the hole, weighted ``overlap_weight``
    (10) in the L2 loss, which keeps the fill consistent with its border; only the hole is pasted into the output.
    ``adv_weight=0`` is the L2-only ablation (D still trains beside it, so its scores show how easily it spots the
    blurry fills, but G ignores it)."""

    paper = "Pathak et al. 2016, Context Encoders: Feature Learning by Inpainting"
    has_targets = True  # the original image is the target of each completion: psnr, ssim, hole_psnr, hole_l1
    baseline_name = "mean_fill"  # the hole filled with the mean of the image's context: the no-learning baseline

    def __init__(self, G: nn.Module, D: nn.Module, *, image_shape: tuple[int, int, int], mask: str = "centre",
                 fixed_hole: Tensor | None = None, objective: Objective | None = None, overlap: int = 0,
                 overlap_weight: float = 10.0, l2_weight: float = 0.999, adv_weight: float = 0.001,
                 d_sees: str = "patch") -> None:
        super().__init__()
        if d_sees not in D_SEES:
            raise ConfigError(f"recipe_args.d_sees={d_sees!r}: must be one of {', '.join(D_SEES)}")
        if d_sees == "patch" and fixed_hole is None:
            raise ConfigError("recipe_args.d_sees=patch judges one fixed hole (mask=centre or a user's mask); "
                              "with random blocks D judges the completed image: recipe_args.d_sees=image")
        if overlap < 0:
            raise ConfigError(f"recipe_args.overlap={overlap}: the band of context G also predicts, in pixels, is >= 0")
        self.G, self.D, self.input_shape, self.mask = G, D, tuple(image_shape), mask
        self.overlap, self.overlap_weight, self.d_sees = overlap, overlap_weight, d_sees
        self.l2_weight, self.adv_weight = l2_weight, adv_weight
        self.register_buffer("fixed_hole", fixed_hole)  # (1, 1, H, W), or None for random blocks
        self.patch = hole_box(fixed_hole) if fixed_hole is not None else None
        self.use_objective(objective or Objective())

    @classmethod
    def from_config(cls, cfg, data) -> "ContextEncoderGAN":  # noqa: ANN001
        from gankit.nets import NetSpec
        from gankit.nets.dcgan import DCGANDiscriminator
        from gankit.nets.inpainting import ContextEncoder

        args = recipe_args(cfg, DEFAULTS, "context-encoder")
        shape, _ = translation_data(data, "context-encoder", None)
        channels, size = shape[0], shape[-1]
        if shape[1] != shape[2]:
            raise ConfigError(f"context-encoder needs square images; the data's are {shape[1]}x{shape[2]}")
        fixed_hole = training_hole(args["mask"], size, args["hole"])
        G = ContextEncoder(channels, size, width=cfg.model.g_width, norm=cfg.model.g_norm)
        side = size if args["d_sees"] == "image" or fixed_hole is None else patch_side(fixed_hole)
        D = DCGANDiscriminator(NetSpec(sample_shape=(channels, side, side), z_dim=1), cfg.model)
        return cls(G, D, image_shape=(channels, size, size), mask=args["mask"], fixed_hole=fixed_hole,
                   objective=cls.objective_for(cfg), overlap=args["overlap"], overlap_weight=args["overlap_weight"],
                   l2_weight=args["l2_weight"], adv_weight=args["adv_weight"], d_sees=args["d_sees"])

    # --- masks ---------------------------------------------------------------------------------------------------
    def holes(self, images: Tensor, *, seeded: bool) -> Tensor:
        """The training mask of each image, (B, 1, H, W): the fixed hole, or random blocks, drawn from the global
        random stream (``seeded=False``: training) or from a seed made from each image (evaluation, inpainting:
        the same image always gets the same blocks)."""
        n, size = len(images), images.shape[-1]
        if self.fixed_hole is not None:
            return self.fixed_hole.expand(n, -1, -1, -1)
        if not seeded:
            return block_masks(n, size, device=images.device)
        seeds = [input_seed(image) for image in images]
        gens = [torch.Generator(device=images.device).manual_seed(seed) for seed in seeds]
        return torch.cat([block_masks(1, size, generator=g, device=images.device) for g in gens])

    def loss_weight(self, hole: Tensor) -> Tensor:
        """1 on the hole, ``overlap_weight`` on the band of ``overlap`` context pixels around it, 0 elsewhere."""
        if self.overlap == 0:
            return hole
        grown = F.max_pool2d(hole, 2 * self.overlap + 1, stride=1, padding=self.overlap)  # the hole dilated
        return hole + self.overlap_weight * (grown - hole)

    def judged(self, images: Tensor) -> Tensor:
        """What D sees of an image: the central patch (``d_sees="patch"``) or all of it."""
        if self.d_sees == "image":
            return images
        top, bottom, left, right = self.patch
        return images[..., top:bottom, left:right]

    # --- training --------------------------------------------------------------------------------------------------
    def phases(self) -> list[Phase]:
        return [Phase("D", self.d_step, trains="D", after=self.constrain),
                Phase("G", self.g_step, trains="G", new_batch=False)]

    def fill(self, images: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(G's prediction, the completed image, the hole) for a batch of real images, with fresh training masks."""
        hole = self.holes(images, seeded=False)
        prediction = self.G(masked_input(images, hole))  # (B, C, H, W)
        return prediction, paste(images, prediction, hole), hole

    def d_step(self, batch: Batch, step: int) -> LossTerms:
        _, completed, _ = self.fill(batch.x)
        judged = self.objective.d_loss(self.D, real=self.judged(batch.x), fake=self.judged(completed), step=step)
        self.record_d(d_real=judged.real_score, d_fake=judged.fake_score)
        return judged.terms

    def g_step(self, batch: Batch, step: int) -> LossTerms:
        prediction, completed, hole = self.fill(batch.x)
        out = {"l2": self.l2_weight * masked_l2(output=prediction, target=batch.x, weight=self.loss_weight(hole))}
        if self.adv_weight:
            out.update(self.objective.g_loss(self.D, real=self.judged(batch.x), fake=self.judged(completed),
                                             step=step, adv_weight=self.adv_weight).terms)
        return out

    # --- data, sampling, inpainting --------------------------------------------------------------------------------
    def inputs(self, data, index: Tensor, labels: Tensor | None) -> Latent:  # noqa: ANN001
        """Each image with its hole cut out (and the mask as a last channel); the image itself is the target."""
        target = data.x[index]
        return Latent(source=masked_input(target, self.holes(target, seeded=True)), target=target)

    def input_count(self, data) -> int:  # noqa: ANN001
        return len(data)

    def hole(self, latent: Latent) -> Tensor:
        """The hole of each input of ``latent``, (B, 1, H, W), 1 on the pixels G filled."""
        return latent.source[:, -1:]

    def baseline(self, latent: Latent) -> Tensor:
        """The hole filled with the mean colour of the image's context: what no learning gives."""
        image, hole = latent.source[:, :-1], self.hole(latent)
        keep = 1 - hole
        mean = (image * keep).sum(dim=(2, 3), keepdim=True) / keep.sum(dim=(2, 3), keepdim=True).clamp(min=1)
        return paste(image, mean.expand_as(image), hole)

    def export_form(self):  # noqa: ANN201
        """Exported: an ``image`` in [-1, 1] and its ``mask`` (1 on the hole); the sampler's input holds both."""
        from gankit.recipes.export_form import ExportForm, SamplerInput

        channels, *size = self.input_shape
        inputs = (SamplerInput("image", (channels, *size), doc="image in [-1, 1]; the hole's pixels are ignored"),
                  SamplerInput("mask", (1, *size), doc="1 on the hole to fill, 0 elsewhere"))
        return ExportForm(InpaintingSampler(self.sampler()), inputs, lambda x, y: (x[:, :-1], x[:, -1:]))

    def sampler(self) -> nn.Module:
        """The (EMA) context encoder, its prediction pasted into the hole of its input."""
        return HoleFiller(self.G if self.ema is None else self.ema.net)

    def show(self, latent: Latent, output: Tensor) -> tuple[Tensor, int | None]:
        """Rows of masked input | completion | original groups."""
        columns = displayable([latent.source[:, :-1], output, latent.target])
        groups = torch.stack(columns, dim=1).flatten(0, 1)  # (N * 3, C, H, W)
        return groups, 3 * min(4, len(output))

    @torch.no_grad()
    def inpaint(self, images: Tensor, mask: Tensor | None = None, batch_size: int = 64) -> Tensor:
        """Images (B, C, H, W) in [-1, 1] with their holes filled: ``mask`` (1 or B, 1, H, W), 1 on the hole, else the
        run's own mask (its central hole, or random blocks seeded by each image)."""
        hole = self.holes(images, seeded=True) if mask is None else mask.to(images).expand(len(images), -1, -1, -1)
        return run_generator(self.sampler(), Latent(source=masked_input(images, hole)), batch_size)

    def translate(self, images: Tensor, to: int | None = None, batch_size: int = 64) -> Tensor:
        """``translate`` of an inpainting run fills the run's own hole."""
        if to is not None:
            raise ConfigError("context-encoder fills holes: drop --to (gankit inpaint takes a --mask)")
        return self.inpaint(images, batch_size=batch_size)


class InpaintingSampler(nn.Module):
    """The inpainting sampler on an ``image`` (B, C, H, W) and its ``mask`` (B, 1, H, W), 1 on the hole."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, image: Tensor, mask: Tensor) -> Tensor:
        return self.net(masked_input(image, mask))


def masked_input(images: Tensor, hole: Tensor) -> Tensor:
    """G's input: the image with the hole set to 0 (mid grey, about the data's mean) and the mask as a last
    channel. (B, C, H, W), (B, 1, H, W) -> (B, C + 1, H, W)"""
    return torch.cat([images * (1 - hole), hole], dim=1)


def training_hole(mask: str, size: int, hole: float) -> Tensor | None:
    """The run's fixed hole (1, 1, H, W): the central block, a user's mask (a PNG path), or None for random blocks."""
    if mask == "centre":
        return centre_mask(size, hole)
    if mask == "blocks":
        return None
    if not Path(mask).expanduser().is_file():
        raise ConfigError(f"recipe_args.mask={mask!r} is neither {' nor '.join(BUILT_IN_MASKS)} nor an existing mask "
                          "PNG (white on the hole, black elsewhere, the size of data.image_size)")
    try:
        return read_mask(mask, (size, size))
    except DataError as e:
        raise ConfigError(f"recipe_args.mask: {e}") from None


def hole_box(hole: Tensor) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the bounding box of a fixed hole (1, 1, H, W), bottom and right exclusive."""
    rows = hole[0, 0].any(dim=1).nonzero().flatten()
    cols = hole[0, 0].any(dim=0).nonzero().flatten()
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def patch_side(hole: Tensor) -> int:
    """The side of the square patch D judges: the hole's bounding box, which must be square."""
    top, bottom, left, right = hole_box(hole)
    if bottom - top != right - left:
        raise ConfigError(f"recipe_args.d_sees=patch needs a square hole; this one's box is {bottom - top}x"
                          f"{right - left} px. Use recipe_args.d_sees=image")
    return bottom - top


__all__ = ["ContextEncoderGAN", "masked_input", "training_hole"]
