"""The shared base of the image-to-image recipes (pix2pix, CycleGAN, StarGAN, SRGAN).

Their generator's input is an image from the data set instead of noise, so the Recipe hooks
that noise GANs leave at their defaults are filled in here: ``fixed_latent`` takes input images
(and, for paired data, their targets) from a data set, ``show`` lays a sample grid out as
input | output [| target], and ``translate`` maps images a user gives. The trainer does not
know the difference: it still calls the same hooks and sums the same named loss terms.
"""
from __future__ import annotations

import functools
import hashlib

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.objective import Accepts
from gankit.recipes.base import Latent, Recipe, check_recipe_args, run_generator
from gankit.types import DataInfo

GROUPS_PER_ROW = 4  # sample grids show this many input | output [| target] groups side by side


# The tricks that act on D's inputs and loss terms work for image-to-image recipes; those that change the
# networks (packing, minibatch features, virtual batch norm) assume the noise GAN's G and D, and d_steps the
# D-then-G phases of the noise GANs (StarGAN reads n_critic and accepts it too).
TRANSLATION_TRICKS = frozenset({"diffaugment", "instance_noise", "label_smoothing", "historical_averaging", "ttur"})
TRANSLATION_ACCEPTS = Accepts(tricks=TRANSLATION_TRICKS, terms=frozenset(),
                              why="an image-to-image recipe keeps its own networks and auxiliary losses")


class Translation(Recipe):
    """Base of the translation recipes: G maps images of domain A (``Batch.a``) to domain B (``Batch.x``)."""

    accepts = TRANSLATION_ACCEPTS
    has_targets = False  # fixed_latent gives the real output of each input (paired translation: PSNR/SSIM)

    any_input_size = False  # fully convolutional at any size (SRGAN); else inputs must match the training size
    input_shape: tuple[int, ...] = ()  # (C, H, W) of G's input at training time
    test_dropout = False  # sample with G's dropout on, as its noise (pix2pix); else everything in eval mode
    baseline_name: str | None = None  # what ``baseline`` computes; psnr/ssim report psnr_<name>, ssim_<name> beside G's

    # --- what subclasses say about their data -------------------------------------------------
    def inputs(self, data, index: Tensor, labels: Tensor | None) -> Latent:  # noqa: ANN001  (Dataset)
        """G's inputs, targets and labels for the samples ``index`` of ``data``. Default: paired or unpaired A -> B."""
        a = data.a[index]
        return Latent(source=a, target=data.x[index] if data.pairing == "paired" else None)

    def input_count(self, data) -> int:  # noqa: ANN001
        return len(data.a) if data.a is not None else len(data)

    def baseline(self, latent: Latent) -> Tensor | None:
        """An output made without learning (SRGAN: bicubic upsampling), scored beside G's by psnr/ssim; None: none."""
        return None

    def sampler(self) -> nn.Module:
        """The (EMA) generator; with ``test_dropout`` it keeps its dropout on, as in the pix2pix paper. (No standing
        batch-norm statistics: G's inputs are images, and its norms are instance norms or use their running ones.)"""
        net = self.G if self.ema is None else self.ema.net
        return DropoutSampler(net) if self.test_dropout else net

    def export_form(self):  # noqa: ANN201  (gankit.recipes.export_form.ExportForm)
        """An exported translator takes an ``image`` (and StarGAN's target domain ``y``); G's test-time dropout
        (pix2pix) draws masks seeded by a hash of each image, which no exported graph can compute."""
        from gankit.recipes.export_form import NotExportable, image_form

        if self.test_dropout:
            raise NotExportable(f"{type(self).__name__} samples with dropout on at test time (recipe_args."
                                "test_dropout=true, as in the paper), each image's masks seeded by a hash of its "
                                "pixels, which an exported graph cannot compute; train with recipe_args."
                                "test_dropout=false to export a deterministic G")
        return image_form(self)

    def domain_names(self) -> list[str]:
        """Names ``translate(to=...)`` accepts; empty: one direction only."""
        return []

    def reconstruct(self, latent: Latent, output: Tensor) -> Tensor | None:
        """The input rebuilt from G's output (CycleGAN's cycle), or None when the recipe has no way back."""
        return None

    def translator(self, to: int | None, n: int) -> tuple[nn.Module, Tensor | None]:
        """The network that translates to domain ``to`` and its labels; default: the (EMA) generator, one direction."""
        if to is not None:
            raise ConfigError(f"{type(self).__name__} translates in one direction only; drop --to")
        return self.sampler(), None

    # --- the Recipe hooks ---------------------------------------------------------------------------
    def fixed_latent(self, n: int, *, labels: Tensor | None = None, data=None,  # noqa: ANN001
                     generator: torch.Generator | None = None) -> Latent:
        """Up to n inputs from ``data`` in an order drawn from ``generator`` (all of them when n >= their count)."""
        if data is None:
            raise ConfigError(f"{type(self).__name__} translates images: it needs input images from a data set")
        device = generator.device if generator is not None else torch.device("cpu")
        order = torch.randperm(self.input_count(data), generator=generator, device=device)[:n].to(data.x.device)
        return self.inputs(data, order, None if labels is None else labels[:len(order)])

    def sample_latent(self, n: int, *, labels: Tensor | None = None, generator: torch.Generator | None = None) -> Latent:
        raise ConfigError(f"{type(self).__name__} translates images instead of sampling noise: use "
                          "Run.translate(images) or `gankit translate RUN --input ...` (Run.sample draws inputs from the data)")

    def walk(self, rows: int, steps: int, *, code: str | None = None, generator: torch.Generator | None = None) -> Latent:
        raise ConfigError(f"{type(self).__name__} has no latent space to walk; use `gankit translate` or `gankit sample`")

    def show(self, latent: Latent, output: Tensor) -> tuple[Tensor, int | None]:
        """Rows of input | output [| target] groups."""
        columns = [latent.source, output] + ([latent.target] if latent.target is not None else [])
        columns = displayable(columns)
        groups = torch.stack(columns, dim=1).flatten(0, 1)  # (N * k, C, H, W): each sample's group in a row
        return groups, len(columns) * min(GROUPS_PER_ROW, len(output))

    @torch.no_grad()
    def translate(self, images: Tensor, to: int | None = None, batch_size: int = 64) -> Tensor:
        """Images of G's input domain (B, C, H, W) in [-1, 1] -> their translations, in eval mode."""
        net, labels = self.translator(to, len(images))
        return run_generator(net, Latent(source=images, y=labels), batch_size)


class DropoutSampler(nn.Module):
    """Isola et al. 2017: "we apply dropout at test time" -- G runs with its dropout on as noise, all else in eval mode.

    Each image's masks are drawn from a seed made from that image (and the layer), not from the global random
    stream: G(a) is one reproducible function of a, the same in ``sample``, ``eval`` and ``translate`` whatever
    the batch around it, and sampling never moves the training's random stream.
    """

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self._net = [net]  # not a sub-module: run_generator's eval()/train() on this wrapper must not reach G

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        net = self._net[0]
        seeds = [input_seed(image) for image in z.detach().float().cpu()]  # z: (B, C, H, W) input images
        dropouts = [m for m in net.modules() if isinstance(m, (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d))]
        hooks = [m.register_forward_hook(functools.partial(_drop, seeds=seeds, layer=i)) for i, m in enumerate(dropouts)]
        modes = {m: m.training for m in net.modules()}
        net.eval()  # the dropout layers pass their input through; the hooks apply the masks
        try:
            return net(z, y)
        finally:
            for hook in hooks:
                hook.remove()
            for m, mode in modes.items():
                m.training = mode


def _drop(module: nn.Module, inputs: tuple, output: Tensor, *, seeds: list[int], layer: int) -> Tensor:
    """nn.Dropout's masking (keep with 1 - p, scale by 1 / (1 - p)), each sample's mask from its own seed."""
    channelwise = isinstance(module, (nn.Dropout1d, nn.Dropout2d, nn.Dropout3d))  # they zero whole channels
    shape = output.shape[1:2] + (1,) * (output.dim() - 2) if channelwise else output.shape[1:]
    keep = 1.0 - module.p
    masks = []
    for seed in seeds:
        generator = torch.Generator(device=output.device).manual_seed((seed + layer * 0x9E3779B97F4A7C15) % 2**63)
        masks.append(torch.rand(shape, generator=generator, device=output.device) < keep)
    return output * torch.stack(masks).to(output.dtype) / keep


def input_seed(image: Tensor) -> int:
    """A 63-bit seed that is a function of an image's values (the same input draws the same dropout masks)."""
    data = image.detach().float().cpu().contiguous().numpy().tobytes()  # a no-op copy for a CPU float image
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little") >> 1


def displayable(images: list[Tensor]) -> list[Tensor]:
    """Bring images to a common size (nearest upscaling, so low-resolution inputs look pixelated) and channels."""
    size = max(x.shape[-1] for x in images)
    channels = max(x.shape[1] for x in images)
    out = []
    for x in images:
        if x.shape[-1] != size:
            x = F.interpolate(x.float(), size=(size, size), mode="nearest")
        out.append(x.expand(-1, channels, -1, -1) if x.shape[1] != channels else x)
    return out


def translation_data(data: DataInfo, recipe: str, pairing: str | None) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(source shape, target shape) of the data, with a clear error when its pairing is not what the recipe needs."""
    if data.kind != "image":
        raise ConfigError(f"recipe {recipe!r} translates images; data set {data.name!r} holds {data.kind}")
    if pairing is not None and data.pairing != pairing:
        how = {"paired": "an .npz with a_train/b_train (facades.npz), a folder of side-by-side AB images, or folders "
                         "A and B with matching file names",
               "unpaired": "a folder with sub-folders A and B (or trainA/trainB), or a labelled data set with "
                           "data.domains=[class_a, class_b]"}[pairing]
        raise ConfigError(f"recipe {recipe!r} needs {pairing} data (data.pairing={pairing}); {data.name!r} is "
                          f"{data.pairing or 'a plain image data set'}. Use {how}.")
    source = tuple(data.source_shape) if data.source_shape else tuple(data.sample_shape)
    return source, tuple(data.sample_shape)


def recipe_args(cfg, allowed: dict, recipe: str) -> dict:  # noqa: ANN001
    """The recipe's arguments: its defaults (``allowed``) updated by cfg.recipe_args, unknown names refused."""
    check_recipe_args(cfg.recipe_args, tuple(allowed), recipe)
    return {**allowed, **cfg.recipe_args}


__all__ = ["TRANSLATION_ACCEPTS", "TRANSLATION_TRICKS", "Translation", "DropoutSampler", "displayable", "translation_data", "recipe_args"]
